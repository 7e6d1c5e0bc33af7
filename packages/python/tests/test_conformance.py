"""The golden vectors of conformance/v1 decoded by this package's own smartreceive (link
vectors served over real HTTP from conformance/v1), compared as the conformance runner
compares a lane's answers: as the bytes a NATS message would carry (hostile vectors: their
exact bytes, `envelope_base64`), and text vectors also as a ``str``; and the receiver's fast
envelope check never accepts what the generated validator rejects."""

from __future__ import annotations

import base64
import json
from typing import Any

import pyarrow as pa
from aiohttp import web

import natsbridge_types as t
from natsbridge import FetchOptions, NatsBridgeError, ReceiveOptions, smartreceive
from natsbridge_types.profile import ERROR_NOT_ENVELOPE

from .conftest import ROOT, free_port, run

VECTORS = ROOT / "conformance/v1"
ARROW_NAMES = {
    pa.bool_(): "bool", pa.int8(): "int8", pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64",
    pa.uint8(): "uint8", pa.uint16(): "uint16", pa.uint32(): "uint32", pa.uint64(): "uint64",
    pa.float32(): "float32", pa.float64(): "float64", pa.string(): "utf8", pa.large_string(): "large_utf8",
}


def vectors() -> list[dict[str, Any]]:
    """Every vector, with ``body`` (its bytes) and ``text`` (its text, or ``None`` when its bytes
    are not text)."""
    out = []
    for f in sorted(VECTORS.glob("*.json")):
        for v in json.loads(f.read_text()).get("vectors", []):  # the other groups have `cases`
            if "envelope_base64" in v:
                v["body"] = base64.b64decode(v["envelope_base64"])
                v["text"] = None
            else:
                v["text"] = v["envelope_text"] if "envelope_text" in v else json.dumps(v["envelope"])
                v["body"] = v["text"].encode("utf-8")
            out.append(v)
    return out


def answer(received: Any) -> dict[str, Any]:
    payloads = []
    for p in received.payloads:
        d: dict[str, Any] = {"dataname": p.dataname, "payload_type": p.payload_type, "transport": p.transport,
                             "size": len(p.raw), "sha256": p.sha256}
        if p.payload_type == "text":
            d["text"] = p.data
        elif p.payload_type in ("dictionary", "jsontable"):
            d["json"] = p.data
        if p.num_rows is not None:
            d["num_rows"] = p.num_rows
        if p.payload_type == "arrowtable":
            d["arrow_schema"] = [[f.name, ARROW_NAMES.get(f.type, f"other:{f.type}"), f.nullable] for f in p.data.schema]
        payloads.append(d)
    return {"ok": True, "payloads": payloads}


def matches(got: dict[str, Any], want: dict[str, Any]) -> bool:
    if got["ok"] != want["ok"]:
        return False
    if not want["ok"]:
        return bool(got["error"] == want["error"])
    g, w = got["payloads"], want["payloads"]
    return len(g) == len(w) and all(
        all(a.get(k) == b.get(k) for k in set(a) | set(b)) for a, b in zip(g, w)
    )


def test_every_vector_decodes_as_the_conformance_suite_expects() -> None:
    async def go() -> tuple[int, list[str]]:
        app = web.Application()
        app.router.add_static("/", VECTORS)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        options = ReceiveOptions(allowed_hosts=(f"http://127.0.0.1:{port}",),
                                 fetch=FetchOptions(max_attempts=2, base_delay=0.01, deadline=10))
        problems = []
        all_vectors = vectors()
        try:
            for v in all_vectors:
                blobs = f"127.0.0.1:{port}"
                forms: list[bytes | str] = [v["body"].replace(b"{{BLOBS}}", blobs.encode())]
                if v["text"] is not None:
                    forms.append(v["text"].replace("{{BLOBS}}", blobs))
                for body in forms:
                    try:
                        got = answer(await smartreceive(body, options))
                    except NatsBridgeError as e:
                        got = {"ok": False, "error": e.code}
                        # Every error names the message when its correlation id could be read.
                        try:
                            cid = json.loads(body).get("correlation_id")
                        except (ValueError, AttributeError, RecursionError):
                            cid = None
                        if isinstance(cid, str) and got["error"] != ERROR_NOT_ENVELOPE and e.correlation_id != cid:
                            problems.append(f"{v['id']}: error without the correlation id")
                    if not matches(got, v["decode"]):
                        problems.append(f"{v['id']} ({type(body).__name__}): got {json.dumps(got)[:300]}, "
                                        f"expected {json.dumps(v['decode'])[:300]}")
        finally:
            await runner.cleanup()
        return len(all_vectors), problems

    count, problems = run(go())
    assert count > 100
    assert problems == [], "\n".join(problems)


def test_the_fast_envelope_check_never_accepts_what_the_schema_rejects() -> None:
    checked = 0
    for v in vectors():
        try:
            value = json.loads(v["body"])
        except (ValueError, RecursionError):
            continue
        if t.plainly_valid_msg_envelope_v1(value, reader=True):
            checked += 1
            assert t.validate_msg_envelope_v1(value, reader=True) == [], v["id"]
        elif v.get("reader") == "accept":
            # Stricter than the schema is fine (the schema then decides), but note how often.
            pass
    assert checked > 50
