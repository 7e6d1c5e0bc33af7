"""A hostile envelope never stops ``python -m natsbridge receive``: bodies published raw to a
real nats-server (invalid UTF-8, a BOM, duplicate keys, a lone surrogate in a dataname,
``1e400``, nesting 100 deep) each give one JSON error line with their code and the
correlation id from the ``Correlation-Id`` header, a ``\\u0000`` in a dataname (valid) decodes,
and the good envelope sent after them all still gets its digest line. Lines are ASCII."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from typing import Any

import nats

from natsbridge import digest, smartsend
from natsbridge.wire import new_uuid
from natsbridge_types.profile import ERROR_NOT_JSON, HEADER_CORRELATION_ID

from .conftest import ROOT, cli_env, python_cli, run

SUBJECT = "hostile.cli"


def good_text(dataname: str = "x", correlation_id: str | None = None) -> str:
    async def go() -> str:
        sent = await smartsend(SUBJECT, [(dataname, "hi", "text")], publish=False, correlation_id=correlation_id)
        return sent.json

    return run(go())


def hostile_bodies() -> list[tuple[str, bytes, str | None]]:
    """``(what, body, code)``: ``code`` is ``None`` for a body that must decode."""
    text = good_text()
    tagged = good_text("tag")
    return [
        ("invalid UTF-8", tagged.replace('"tag"', '"t\udcffg"').encode("utf-8", "surrogateescape"), ERROR_NOT_JSON),
        ("BOM", b"\xef\xbb\xbf" + text.encode(), ERROR_NOT_JSON),
        ("duplicate keys", text.replace('"msg_purpose":"chat"', '"msg_purpose":"chat","msg_purpose":"event"').encode(),
         ERROR_NOT_JSON),
        ("lone surrogate in a dataname", tagged.replace('"tag"', '"\\ud800"').encode(), ERROR_NOT_JSON),
        ("1e400", text.replace('"metadata":{}', '"metadata":{"n":1e400}').encode(), ERROR_NOT_JSON),
        ("depth 100", text.replace('"metadata":{}', '"metadata":{"n":' + "[" * 98 + "]" * 98 + "}").encode(),
         ERROR_NOT_JSON),
        ("NUL in a dataname", tagged.replace('"tag"', '"a\\u0000b"').encode(), None),
    ]


def test_hostile_bodies_give_one_error_line_each_and_the_receiver_goes_on(nats_url: str) -> None:
    bodies = hostile_bodies()
    good = good_text("last", new_uuid())
    for what, body, _ in bodies:
        assert body != good.encode(), what

    async def go() -> tuple[list[str], str, int | None, list[str]]:
        proc = await asyncio.create_subprocess_exec(
            *python_cli(), "receive", "--server", nats_url, "--subject", SUBJECT, "--count", str(len(bodies) + 1),
            "--timeout", "60", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
        )
        assert proc.stderr is not None and proc.stdout is not None
        ready = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert json.loads(ready) == {"subscribed": True}, ready
        nc = await nats.connect(nats_url)
        cids = []
        try:
            for _, body, _ in bodies:
                cid = new_uuid()
                cids.append(cid)
                await nc.publish(SUBJECT, body, headers={HEADER_CORRELATION_ID: cid})
            await nc.publish(SUBJECT, good.encode())
            await nc.flush()
        finally:
            await nc.close()
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return out.decode("ascii").splitlines(), err.decode(), proc.returncode, cids

    lines, stderr, code, cids = run(go())
    assert code == 0 and "Traceback" not in stderr, stderr
    assert len(lines) == len(bodies) + 1, lines
    parsed: list[dict[str, Any]] = [json.loads(line) for line in lines]
    for (what, body, want), got, cid in zip(bodies, parsed, cids):
        if want is None:
            assert "error" not in got, (what, got)
            assert got["payloads"][0]["dataname"] == "a\x00b", (what, got)
        else:
            assert got.get("error") == want, (what, got)
            assert set(got) == {"error", "correlation_id", "message"} and got["correlation_id"] == cid, got
    assert parsed[-1] == json.loads(digest.of_sent(json.loads(good), [None]))
    assert all(line.isascii() for line in lines)


def test_the_conformance_hostile_group_stops_no_receiver(nats_url: str) -> None:
    """Every vector of conformance/v1/hostile.json, its exact bytes published raw: one line each
    with the vector's verdict, then the good envelope's digest line."""
    vectors = json.loads((ROOT / "conformance/v1/hostile.json").read_text())["vectors"]
    bodies = [base64.b64decode(v["envelope_base64"]) if "envelope_base64" in v else v["envelope_text"].encode()
              for v in vectors]
    good = good_text("after-the-storm", new_uuid())
    subject = "hostile.group"

    async def go() -> tuple[list[str], str, int | None]:
        proc = await asyncio.create_subprocess_exec(
            *python_cli(), "receive", "--server", nats_url, "--subject", subject, "--count", str(len(bodies) + 1),
            "--timeout", "120", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
        )
        assert proc.stderr is not None
        ready = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert json.loads(ready) == {"subscribed": True}, ready
        nc = await nats.connect(nats_url)
        try:
            for body in bodies:
                await nc.publish(subject, body)
            await nc.publish(subject, good.encode())
            await nc.flush()
        finally:
            await nc.close()
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        return out.decode("ascii").splitlines(), err.decode(), proc.returncode

    lines, stderr, code = run(go())
    assert code == 0 and "Traceback" not in stderr, stderr
    assert len(lines) == len(vectors) + 1, lines
    wrong = []
    for v, line in zip(vectors, lines):
        got, want = json.loads(line), v["decode"]
        ok = ("error" not in got and len(got["payloads"]) == len(want["payloads"])) if want["ok"] else \
            got.get("error") == want["error"]
        if not ok:
            wrong.append(f"{v['id']}: printed {line[:200]}, expected {want}")
    assert wrong == []
    assert json.loads(lines[-1])["correlation_id"] == json.loads(good)["correlation_id"]
