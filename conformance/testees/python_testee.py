"""The Python lane of `cargo xtask conformance`: a thin protocol adapter over the shipped
runtime (`packages/python`, import name `natsbridge`) and the generated `natsbridge_types`.
One JSON request per line on stdin, one JSON answer per line on stdout; the protocol and the
decoding rules are in conformance/README.md.

- `validate`: strict v1 validation with the generated validator (python-jsonschema), of the
  value the runtime's strict JSON reader makes of the text (not strict JSON: not valid).
- `roundtrip`: parsed as a reader with the generated types and dumped again.
- `decode`: the runtime's `smartreceive`, links allowed only from the `--allow-host` hosts, of
  `text` or of `bytes` (standard base64 of the exact body, which may be invalid UTF-8 or start
  with a BOM), handed over exactly as a NATS message body would be.
- `encode`: the runtime's `smartsend` without publishing, every payload direct; the answer
  carries the envelope's JSON text exactly as `smartsend` produced it.
- `send`: `smartsend` from API-level inputs (options by their language-neutral names, which
  are the runtime's keyword names), not published, links uploaded to the request's `fileserver`;
  the values are handed over as given, so the runtime's own option and writer checks answer.
- `fetch`: the runtime's `fetch_with_backoff` (its hashing form) with the request's schedule.
- `typed`: a message value through the package generated from the example spec
  (`examples/simulation/generated/python`): its codec's encode (`send`), or a plain `smartsend`
  of the value read back by `smartreceive` and the codec's decode (`receive`).
- `start`: the runtime's `parse_start` of `value` (as given) at `now`.
- `allow_host`: the runtime's `allowed_host` of `value` (as given).
- `reply_error`: the runtime's `error_response` for `request` and an error made from `error`
  (an `ApplicationError`, a `NatsBridgeError`, or a plain `RuntimeError` a handler raised),
  answered as the JSON `smartreply_error` would publish.
- `decode_reply`: the runtime's `decode_reply` (what `smartrequest` does with the message that
  answered its request) of `bytes` for the request `correlation_id`.
- `connect_settings`: the runtime's connection-settings resolution, as the CLI calls it (sources
  named by flag), of `flags` and `env` (the whole environment it sees; the process's is not
  read); the settings as a JSON object, `shown` being what their `repr` prints.
- `hello`: the lane's name and capabilities (every payload type; the `simulation` spec; the
  ops above).

No decoding or encoding logic lives here: what the runtime answers is the lane's answer.
The testee never dies on a request: anything unexpected is `{"ok": false, "error": CODE}`.

Usage: python_testee.py --allow-host http://127.0.0.1:PORT ...

The runtime and the generated types are imported from this checkout (`packages/python`,
`generated/python`), put on `sys.path` here unless `PYTHONPATH` already names them, so the
lane always runs the tree's runtime and never a copy installed elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _dir in (ROOT / "generated/python", ROOT / "packages/python", ROOT / "examples/simulation/generated/python"):
    if str(_dir) not in sys.path:
        sys.path.insert(1, str(_dir))

import pyarrow as pa  # noqa: E402
import pyarrow.ipc  # noqa: E402

import natsbridge_types as t  # noqa: E402
import simulation_api as simulation  # noqa: E402
from natsbridge import (  # noqa: E402
    ApplicationError,
    FetchOptions,
    NatsBridgeError,
    ReceiveOptions,
    Received,
    allowed_host,
    decode_reply,
    error_response,
    parse_start,
    smartreceive,
    smartsend,
)
from natsbridge import strict_json  # noqa: E402
from natsbridge.fetch import fetch_hashed  # noqa: E402
from natsbridge.request import error_response_json  # noqa: E402
from natsbridge.settings import ConnectSettings, resolve  # noqa: E402
from natsbridge.start import SEQUENCE, TIME  # noqa: E402

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


# --- validate, roundtrip: the generated package -------------------------------------------


def validate(text: str) -> dict[str, Any]:
    try:
        value = strict_json.loads(text)
    except strict_json.StrictJsonError:
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


async def decode(body: str | bytes, options: ReceiveOptions) -> dict[str, Any]:
    try:
        return answer_of(await smartreceive(body, options))
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "message": e.report()}


# --- encode: the runtime's smartsend, not published ---------------------------------------


def filled(fill: object, dataname: str) -> bytes:
    """`{"byte": B, "count": N}`: N bytes of value B."""
    if not isinstance(fill, dict):
        raise BadRequest(f"{dataname}: `fill` must be an object")
    byte, count = fill.get("byte"), fill.get("count")
    if type(byte) is not int or not 0 <= byte <= 255:
        raise BadRequest(f"{dataname}: `fill.byte` must be 0..255")
    if type(count) is not int or count < 0:
        raise BadRequest(f"{dataname}: `fill.count` must be a count")
    return bytes([byte]) * count


def native_value(p: dict[str, Any]) -> Any:
    """The Python value a user would hand `smartsend` for payload request `p`."""
    given = [k for k in ("text", "json", "base64", "fill") if k in p]
    if len(given) != 1:
        raise BadRequest("a payload needs exactly one of `text`, `json`, `base64`, `fill`")
    key = given[0]
    kind = p["payload_type"]
    if kind in VALUE_KEY and VALUE_KEY[kind] != ("base64" if key == "fill" else key):
        raise BadRequest(f"a {kind} payload carries `{VALUE_KEY[kind]}`, not `{key}`")
    value = p[key]
    if key == "text":
        if not isinstance(value, str):
            raise BadRequest("`text` must be a string")
        return value
    if key == "json":
        return value  # dictionary: the value; jsontable: the list of row objects
    if key == "fill":
        raw = filled(value, p["dataname"])
    else:
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


def native_payloads(payloads: object) -> list[tuple[str, Any, str]]:
    if not isinstance(payloads, list):
        raise BadRequest("`payloads` must be a list")
    items: list[tuple[str, Any, str]] = []
    for p in payloads:
        if not isinstance(p, dict) or not isinstance(p.get("dataname"), str) or not isinstance(p.get("payload_type"), str):
            raise BadRequest("a payload needs a string `dataname` and `payload_type`")
        items.append((p["dataname"], native_value(p), p["payload_type"]))
    return items


async def encode(req: dict[str, Any]) -> dict[str, Any]:
    ids = {k: req.get(k) for k in ("correlation_id", "msg_id")}
    subject = req.get("subject", ENCODE_SUBJECT)
    if not all(v is None or isinstance(v, str) for v in ids.values()) or not isinstance(subject, str):
        raise BadRequest("`correlation_id`, `msg_id` and `subject` must be strings")
    items = native_payloads(req.get("payloads"))
    try:
        sent = await smartsend(subject, items, publish=False, size_threshold=NEVER_LINK, max_payload=NEVER_LINK,
                               correlation_id=ids["correlation_id"], msg_id=ids["msg_id"])
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "message": e.report()}
    return {"ok": True, "text": sent.json}


SEND_OPTIONS = ("correlation_id", "msg_id", "msg_purpose", "sender_name", "sender_id", "receiver_name", "receiver_id",
                "reply_to", "reply_to_msg_id", "metadata", "size_threshold", "max_payload", "headers")
"""The option names of a `send` request: the runtime's own keyword names."""


async def send(req: dict[str, Any]) -> dict[str, Any]:
    options = req.get("options", {})
    if not isinstance(options, dict):
        raise BadRequest("`options` must be an object")
    unknown = [k for k in options if k not in SEND_OPTIONS]
    if unknown:
        raise BadRequest(f"unknown option {unknown[0]!r}")
    fileserver = req.get("fileserver")
    if fileserver is not None and not isinstance(fileserver, str):
        raise BadRequest("`fileserver` must be a string")
    items = native_payloads(req.get("payloads"))
    try:
        subject: Any = req.get("subject")  # as given: the runtime answers for what is not a subject
        sent = await smartsend(subject, items, publish=False, fileserver_url=fileserver,
                               **options)
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "message": e.report()}
    return {"ok": True, "text": sent.json}


FETCH_OPTIONS = {"max_attempts": "max_attempts", "base_delay_ms": "base_delay", "max_delay_ms": "max_delay",
                 "deadline_ms": "deadline", "max_bytes": "max_bytes"}
"""A `fetch` request's option names (but `expected_size`) → `FetchOptions`' (times in seconds there)."""


async def fetch(req: dict[str, Any]) -> dict[str, Any]:
    url = req.get("url")
    if not isinstance(url, str):
        raise BadRequest("`url` must be a string")
    given = req.get("options", {})
    if not isinstance(given, dict):
        raise BadRequest("`options` must be an object")
    unknown = [k for k in given if k not in FETCH_OPTIONS and k != "expected_size"]
    if unknown:
        raise BadRequest(f"unknown option {unknown[0]!r}")
    values: dict[str, Any] = {}
    for key, value in given.items():
        if key in FETCH_OPTIONS:
            ms = key.endswith("_ms") and isinstance(value, (int, float)) and not isinstance(value, bool)
            values[FETCH_OPTIONS[key]] = value / 1000 if ms else value  # anything else: the runtime's check answers
    try:
        fetched = await fetch_hashed(url, expected_size=given.get("expected_size"), options=FetchOptions(**values))
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "message": e.report()}
    return {"ok": True, "size": len(fetched.data), "sha256": fetched.sha256}


TYPED_CODECS: dict[str, Any] = {
    "command": simulation.COMMAND_CODEC,
    "status": simulation.COMMAND_STATUS_CODEC,
    "health": simulation.HEALTH_CODEC,
}
"""The messages of the `simulation` spec the `typed` cases name."""


async def typed(req: dict[str, Any]) -> dict[str, Any]:
    if req.get("spec") != "simulation":
        raise BadRequest(f"unknown spec {req.get('spec')!r}")
    codec = TYPED_CODECS.get(str(req.get("message")))
    if codec is None:
        raise BadRequest(f"unknown message {req.get('message')!r}")
    direction = req.get("direction")
    if direction not in ("send", "receive"):
        raise BadRequest("`direction` is `send` or `receive`")
    try:
        if direction == "send":
            codec.encode(req.get("value"))
        else:
            sent = await smartsend("conformance.typed", [(codec.name, req.get("value"), codec.payload_type)],
                                   publish=False)
            codec.decode(await smartreceive(sent.json, ReceiveOptions(allowed_hosts=())))
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "message": e.report()}
    return {"ok": True}


# --- arguments and replies: the runtime's parse_start, allowed_host, error_response, decode_reply -------


def failed(e: NatsBridgeError) -> dict[str, Any]:
    return {"ok": False, "error": e.code, "message": e.report()}


def utc_text(when: datetime.datetime) -> str:
    """An instant as RFC 3339 UTC with milliseconds and `Z` (as JavaScript's toISOString)."""
    utc = when.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def start(req: dict[str, Any]) -> dict[str, Any]:
    now_text = req.get("now")
    if not isinstance(now_text, str):
        raise BadRequest("`now` must be an RFC 3339 string")
    try:
        now = datetime.datetime.fromisoformat(now_text)
    except ValueError as e:
        raise BadRequest(f"`now` is not RFC 3339: {e}") from e
    if now.tzinfo is None:
        raise BadRequest("`now` needs an offset")
    if "value" not in req:
        raise BadRequest("`value` is missing")
    try:
        parsed = parse_start(req["value"], now)
    except NatsBridgeError as e:
        return failed(e)
    if parsed.kind == SEQUENCE:
        return {"ok": True, "start": {"sequence": parsed.sequence}}
    if parsed.kind == TIME and parsed.time is not None:
        return {"ok": True, "start": {"time": utc_text(parsed.time)}}
    return {"ok": True, "start": parsed.kind}


def allow_host(req: dict[str, Any]) -> dict[str, Any]:
    if "value" not in req:
        raise BadRequest("`value` is missing")
    try:
        return {"ok": True, "host": allowed_host(req["value"])}
    except NatsBridgeError as e:
        return failed(e)


def reply_error(req: dict[str, Any]) -> dict[str, Any]:
    request, spec = req.get("request"), req.get("error")
    if not isinstance(request, dict) or not isinstance(spec, dict):
        raise BadRequest("`request` and `error` must be objects")
    # Handed to the runtime as the caller gave them: its own checks answer for their types.
    given: Any = spec
    kind = given.get("kind")
    try:
        error: BaseException
        if kind == "application":
            error = ApplicationError(given.get("application_code"), given.get("message"), details=given.get("details"),
                                     dataname=given.get("dataname"))
        elif kind == "bridge":
            error = NatsBridgeError(given.get("code"), given.get("message"), dataname=given.get("dataname"))
        elif kind == "raise":
            if not isinstance(spec.get("message"), str):
                raise BadRequest("`error.message` must be a string")
            error = RuntimeError(spec["message"])
        else:
            raise BadRequest(f"unknown error kind {kind!r}")
        return {"ok": True, "text": error_response_json(error_response(request, error))}
    except NatsBridgeError as e:
        return failed(e)


async def answer_decode_reply(req: dict[str, Any], options: ReceiveOptions) -> dict[str, Any]:
    cid = req.get("correlation_id")
    if cid is not None and not isinstance(cid, str):
        raise BadRequest("`correlation_id` must be a string or null")
    try:
        await decode_reply(body_bytes(req.get("bytes")), cid, options)
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "remote": e.remote, "application_code": e.application_code,
                "message": e.message, "display": str(e)}
    return {"ok": True}


CONNECT_FLAGS = {"server": str, "context": str, "no-context": bool, "user": str, "password": str, "token": str,
                 "creds": str, "nkey": str, "tls-ca": str, "tls-cert": str, "tls-key": str, "tls-first": bool}
"""The flags of a `connect_settings` request and their JSON types."""


def settings_json(s: ConnectSettings) -> dict[str, Any]:
    auth: dict[str, Any] = {"kind": s.auth.kind}
    for key in ("source", "user", "password", "token", "path"):
        if getattr(s.auth, key) is not None:
            auth[key] = getattr(s.auth, key)
    if s.auth.inline:
        auth["inline"] = True
    tls: dict[str, Any] = {k: v for k, v in (("ca", s.tls.ca), ("cert", s.tls.cert), ("key", s.tls.key)) if v is not None}
    tls.update(first=s.tls.first, required=s.tls.required)
    return {"servers": list(s.servers), "servers_source": s.servers_source, "context": s.context, "auth": auth,
            "tls": tls, "shown": repr(s)}


def connect_settings(req: dict[str, Any]) -> dict[str, Any]:
    flags, env = req.get("flags", {}), req.get("env", {})
    if not isinstance(flags, dict) or not isinstance(env, dict):
        raise BadRequest("`flags` and `env` must be objects")
    for key, value in flags.items():
        if key not in CONNECT_FLAGS or not isinstance(value, CONNECT_FLAGS[key]):
            raise BadRequest(f"flag {key!r}: not a flag, or not a {CONNECT_FLAGS.get(key, str).__name__}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise BadRequest("`env` maps names to strings")
    try:
        return {"ok": True, "settings": settings_json(resolve(flags, env))}
    except NatsBridgeError as e:
        return {"ok": False, "error": e.code, "message": e.message}  # without the code: a secret may be any text


OPS = ["start", "allow_host", "reply_error", "decode_reply", "connect_settings"]
"""The behaviour ops this lane answers (listed in `hello`)."""
HELLO = {"ok": True, "lane": "python", "protocol": 1, "capabilities": {"typed": ["simulation"], "ops": OPS}}


# --- the loop ------------------------------------------------------------------------------


def body_bytes(value: object) -> bytes:
    """The exact body of a `decode` request's `bytes` (canonical standard padded base64)."""
    if not isinstance(value, str):
        raise BadRequest("`bytes` must be a base64 string")
    try:
        body = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise BadRequest(f"`bytes` is not base64: {e}") from e
    if base64.b64encode(body).decode("ascii") != value:
        raise BadRequest("`bytes` is not canonical padded standard base64")
    return body


async def answer(line: str, options: ReceiveOptions) -> dict[str, Any]:
    try:
        try:
            req = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise BadRequest(f"not JSON: {e}") from e
        if not isinstance(req, dict):
            raise BadRequest("a request is a JSON object")
        op = req.get("op")
        if op == "hello":
            return HELLO
        if op == "encode":
            return await encode(req)
        if op == "send":
            return await send(req)
        if op == "fetch":
            return await fetch(req)
        if op == "typed":
            return await typed(req)
        if op == "start":
            return start(req)
        if op == "allow_host":
            return allow_host(req)
        if op == "reply_error":
            return reply_error(req)
        if op == "decode_reply":
            return await answer_decode_reply(req, options)
        if op == "connect_settings":
            return connect_settings(req)
        if op not in ("validate", "roundtrip", "decode"):
            raise BadRequest(f"unknown op {op!r}")
        if op == "decode" and "bytes" in req:
            if "text" in req:
                raise BadRequest("give `text` or `bytes`, not both")
            return await decode(body_bytes(req["bytes"]), options)
        text = req.get("text")
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
        return unexpected(e)


def unexpected(e: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": "UNEXPECTED_EXCEPTION", "message": f"{type(e).__name__}: {e}"[:500]}


def written(answered: dict[str, Any]) -> str:
    """The answer's line: JSON with ASCII escapes (a lone surrogate a runtime let through
    cannot make writing it fail)."""
    try:
        return json.dumps(answered) + "\n"
    except (TypeError, ValueError, RecursionError) as e:
        return json.dumps(unexpected(e)) + "\n"


async def main() -> None:
    logging.getLogger("natsbridge").setLevel(logging.ERROR)  # retries of failing links are expected here
    args = sys.argv[1:]
    options = ReceiveOptions(allowed_hosts=())
    for flag, value in zip(args, args[1:]):
        if flag == "--allow-host":
            options = options.allow_host(value)
    loop = asyncio.get_running_loop()
    while True:
        raw = await loop.run_in_executor(None, sys.stdin.buffer.readline)
        if not raw:
            break
        line = raw.decode("utf-8", "replace")  # a request that is not UTF-8 is answered INVALID_REQUEST
        if not line.strip():
            continue
        try:
            answered = await answer(line, options)
        except BaseException as e:  # e.g. RecursionError raised outside `answer`'s own guard
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            answered = unexpected(e)
        sys.stdout.write(written(answered))
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
