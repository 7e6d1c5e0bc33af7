"""The Python lane of `cargo xtask conformance`: the generated `natsbridge_types` package,
jsonschema and pyarrow. One JSON request per line on stdin, one JSON answer per line on
stdout; the protocol and the decoding rules are in conformance/README.md.

Usage: python_testee.py --allow-host http://127.0.0.1:PORT ...
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pyarrow as pa
import pyarrow.ipc

import natsbridge_types as t

MAX_DECLARED_SIZE = 4 << 30

ARROW_NAMES = {
    pa.bool_(): "bool", pa.int8(): "int8", pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64",
    pa.uint8(): "uint8", pa.uint16(): "uint16", pa.uint32(): "uint32", pa.uint64(): "uint64",
    pa.float32(): "float32", pa.float64(): "float64", pa.string(): "utf8", pa.large_string(): "large_utf8",
}


class Failure(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def host_of(url: str) -> str | None:
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        return None
    port = u.port or (443 if u.scheme == "https" else 80)
    return f"{u.hostname}:{port}"


def no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError) as e:
        raise Failure("DESERIALIZATION_ERROR") from e


def fetch(url: str, allowed: set[str]) -> bytes:
    host = host_of(url)
    if host is None or host not in allowed:
        raise Failure("URL_NOT_ALLOWED")
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return bytes(resp.read())
    except (urllib.error.URLError, OSError) as e:
        raise Failure("DOWNLOAD_FAILED") from e


def payload_bytes(p: dict[str, Any], allowed: set[str]) -> bytes:
    size = p["size"]
    if p["transport"] == "direct":
        data = p["data"]
        if len(data) != (size + 2) // 3 * 4:
            raise Failure("INTEGRITY_MISMATCH")
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError as e:
            raise Failure("DESERIALIZATION_ERROR") from e
        if base64.b64encode(raw).decode("ascii") != data:  # canonical padding and trailing bits only
            raise Failure("DESERIALIZATION_ERROR")
    elif p["transport"] == "link":
        raw = fetch(p["data"], allowed)
    else:
        raise Failure("INVALID_TRANSPORT")
    if len(raw) != size:
        raise Failure("INTEGRITY_MISMATCH")
    return raw


def decode_payload(p: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    if p["payload_type"] not in t.PAYLOAD_TYPE_VALUES:
        raise Failure("INVALID_PAYLOAD_TYPE")
    if p["size"] > MAX_DECLARED_SIZE:
        raise Failure("PAYLOAD_TOO_LARGE")
    raw = payload_bytes(p, allowed)
    sha = hashlib.sha256(raw).hexdigest()
    declared = (p.get("metadata") or {}).get("sha256")
    if isinstance(declared, str) and declared.lower() != sha:
        raise Failure("INTEGRITY_MISMATCH")
    out: dict[str, Any] = {
        "dataname": p["dataname"], "payload_type": p["payload_type"], "transport": p["transport"],
        "size": len(raw), "sha256": sha,
    }
    kind = p["payload_type"]
    if kind == "text":
        try:
            out["text"] = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Failure("DESERIALIZATION_ERROR") from e
    elif kind == "dictionary":
        out["json"] = strict_json(raw)
    elif kind == "jsontable":
        rows = strict_json(raw)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Failure("DESERIALIZATION_ERROR")
        out["json"], out["num_rows"] = rows, len(rows)
    elif kind == "arrowtable":
        try:
            table = pa.ipc.open_stream(pa.py_buffer(raw)).read_all()
        except (pa.ArrowInvalid, pa.ArrowException, OSError) as e:
            raise Failure("DESERIALIZATION_ERROR") from e
        out["num_rows"] = table.num_rows
        out["arrow_schema"] = [
            [f.name, ARROW_NAMES.get(f.type, f"other:{f.type}"), f.nullable] for f in table.schema
        ]
    return out


def decode(text: str, allowed: set[str]) -> dict[str, Any]:
    try:
        env = t.parse_msg_envelope_v1(text)
    except (t.SchemaValidationError, ValueError):
        return {"ok": False, "error": "INVALID_ENVELOPE"}
    try:
        return {"ok": True, "payloads": [decode_payload(dict(p), allowed) for p in env["payloads"]]}
    except Failure as f:
        return {"ok": False, "error": f.code}


def main() -> None:
    args = sys.argv[1:]
    allowed = {h for h in (host_of(a) for a, flag in zip(args[1:], args) if flag == "--allow-host") if h}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        text = req.get("text", "")
        op = req.get("op")
        if op == "validate":
            try:
                value = json.loads(text, parse_constant=no_constants)
                answer: dict[str, Any] = {"valid": not t.validate_msg_envelope_v1(value)}
            except ValueError:
                answer = {"valid": False}
        elif op == "decode":
            answer = decode(text, allowed)
        elif op == "roundtrip":
            try:
                answer = {"ok": True, "json": json.loads(t.dump_msg_envelope_v1(t.parse_msg_envelope_v1(text)))}
            except (t.SchemaValidationError, ValueError):
                answer = {"ok": False}
        else:
            answer = {"error": f"unknown op {op!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
