"""The Python lane of `cargo xtask conformance`: a thin protocol adapter over the shipped
runtime (`packages/python`, import name `natsbridge`) and the generated `natsbridge_types`.
One JSON request per line on stdin, one JSON answer per line on stdout; the protocol and the
decoding rules are in conformance/README.md.

- `validate`: strict v1 validation with the generated validator (python-jsonschema).
- `roundtrip`: parsed as a reader with the generated types and dumped again.
- `decode`: the runtime's `smartreceive`, links allowed only from the `--allow-host` hosts.
- `encode`: the runtime's `smartsend` without publishing, every payload direct; the answer
  carries the envelope's JSON text exactly as `smartsend` produced it.

No decoding or encoding logic lives here: what the runtime answers is the lane's answer.

Usage: python_testee.py --allow-host http://127.0.0.1:PORT ...

The runtime and the generated types are imported from this checkout (`packages/python`,
`generated/python`), put on `sys.path` here unless `PYTHONPATH` already names them, so the
lane always runs the tree's runtime and never a copy installed elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _dir in (ROOT / "generated/python", ROOT / "packages/python"):
    if str(_dir) not in sys.path:
        sys.path.insert(1, str(_dir))

import pyarrow as pa  # noqa: E402
import pyarrow.ipc  # noqa: E402

import natsbridge_types as t  # noqa: E402
from natsbridge import NatsBridgeError, ReceiveOptions, Received, smartreceive, smartsend  # noqa: E402

ARROW_NAMES = {
    pa.bool_(): "bool", pa.int8(): "int8", pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64",
    pa.uint8(): "uint8", pa.uint16(): "uint16", pa.uint32(): "uint32", pa.uint64(): "uint64",
    pa.float32(): "float32", pa.float64(): "float64", pa.string(): "utf8", pa.large_string(): "large_utf8",
}

ENCODE_SUBJECT = "conformance.encode"
"""`send_to` of encoded envelopes unless the request names a `subject`."""
NEVER_LINK = sys.maxsize
"""Size threshold and `max_payload` budget for `encode`: every payload goes direct."""
VALUE_KEY = {"text": "text", "dictionary": "json", "jsontable": "json", "arrowtable": "base64",
             "image": "base64", "audio": "base64", "video": "base64", "binary": "base64"}
"""Which request key carries a payload's value, per known payload type."""


class BadRequest(Exception):
    """A request that does not follow the protocol: answered `INVALID_REQUEST`."""


def no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# --- validate, roundtrip: the generated package -------------------------------------------


def validate(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return {"valid": False}
    return {"valid": not t.validate_msg_envelope_v1(value)}


def roundtrip(text: str) -> dict[str, Any]:
    try:
        return {"ok": True, "json": json.loads(t.dump_msg_envelope_v1(t.parse_msg_envelope_v1(text)))}
    except (t.SchemaValidationError, ValueError, RecursionError):
        return {"ok": False}


# --- decode: the runtime's smartreceive ---------------------------------------------------


def answer_of(received: Received) -> dict[str, Any]:
    """The runtime's result in the protocol's words (what each payload carried and became)."""
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
            d["arrow_schema"] = [[f.name, ARROW_NAMES.get(f.type, f"other:{f.type}"), f.nullable]
                                 for f in p.data.schema]
        payloads.append(d)
    return {"ok": True, "payloads": payloads}


async def decode(text: str, options: ReceiveOptions) -> dict[str, Any]:
    try:
        return answer_of(await smartreceive(text, options))
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "message": e.report()}


# --- encode: the runtime's smartsend, not published ---------------------------------------


def native_value(p: dict[str, Any]) -> Any:
    """The Python value a user would hand `smartsend` for payload request `p`."""
    given = [k for k in ("text", "json", "base64") if k in p]
    if len(given) != 1:
        raise BadRequest("a payload needs exactly one of `text`, `json`, `base64`")
    key = given[0]
    kind = p["payload_type"]
    if kind in VALUE_KEY and VALUE_KEY[kind] != key:
        raise BadRequest(f"a {kind} payload carries `{VALUE_KEY[kind]}`, not `{key}`")
    value = p[key]
    if key == "text":
        if not isinstance(value, str):
            raise BadRequest("`text` must be a string")
        return value
    if key == "json":
        return value  # dictionary: the value; jsontable: the list of row objects
    if not isinstance(value, str):
        raise BadRequest("`base64` must be a string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise BadRequest(f"`base64` is not base64: {e}") from e
    if kind == "arrowtable":  # a pyarrow Table, so that the runtime's own writer makes the bytes
        try:
            return pa.ipc.open_stream(pa.py_buffer(raw)).read_all()
        except (pa.ArrowException, OSError, ValueError) as e:
            raise BadRequest(f"`base64` is not an Arrow IPC stream: {e}") from e
    return raw


async def encode(req: dict[str, Any]) -> dict[str, Any]:
    payloads = req.get("payloads")
    if not isinstance(payloads, list):
        raise BadRequest("`payloads` must be a list")
    ids = {k: req.get(k) for k in ("correlation_id", "msg_id")}
    subject = req.get("subject", ENCODE_SUBJECT)
    if not all(v is None or isinstance(v, str) for v in ids.values()) or not isinstance(subject, str):
        raise BadRequest("`correlation_id`, `msg_id` and `subject` must be strings")
    items: list[tuple[str, Any, str]] = []
    for p in payloads:
        if not isinstance(p, dict) or not isinstance(p.get("dataname"), str) or not isinstance(p.get("payload_type"), str):
            raise BadRequest("a payload needs a string `dataname` and `payload_type`")
        items.append((p["dataname"], native_value(p), p["payload_type"]))
    try:
        sent = await smartsend(subject, items, publish=False, size_threshold=NEVER_LINK, max_payload=NEVER_LINK,
                               correlation_id=ids["correlation_id"], msg_id=ids["msg_id"])
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "message": e.report()}
    return {"ok": True, "text": sent.json}


# --- the loop ------------------------------------------------------------------------------


async def answer(line: str, options: ReceiveOptions) -> dict[str, Any]:
    try:
        try:
            req = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise BadRequest(f"not JSON: {e}") from e
        if not isinstance(req, dict):
            raise BadRequest("a request is a JSON object")
        op = req.get("op")
        if op == "encode":
            return await encode(req)
        text = req.get("text")
        if op not in ("validate", "roundtrip", "decode"):
            raise BadRequest(f"unknown op {op!r}")
        if not isinstance(text, str):
            raise BadRequest("`text` must be a string")
        if op == "validate":
            return validate(text)
        if op == "roundtrip":
            return roundtrip(text)
        return await decode(text, options)
    except BadRequest as e:
        return {"ok": False, "error": "INVALID_REQUEST", "message": str(e)[:500]}
    except Exception as e:  # a runtime bug (it raises only NatsBridgeError): reported, and the lane goes on
        return {"ok": False, "error": "UNEXPECTED_EXCEPTION", "message": f"{type(e).__name__}: {e}"[:500]}


async def main() -> None:
    logging.getLogger("natsbridge").setLevel(logging.ERROR)  # retries of failing links are expected here
    args = sys.argv[1:]
    options = ReceiveOptions(allowed_hosts=())
    for flag, value in zip(args, args[1:]):
        if flag == "--allow-host":
            options = options.allow_host(value)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if not line.strip():
            continue
        sys.stdout.write(json.dumps(await answer(line, options)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
