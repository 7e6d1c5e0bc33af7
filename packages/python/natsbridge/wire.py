"""Wire helpers: ids, timestamps, digests, base64, the NATS headers beside an envelope and
their exact length on the wire. Pure functions, no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import time
from collections.abc import Mapping

from natsbridge_types import SCHEMA
from natsbridge_types.profile import ERROR_BAD_BYTES, ERROR_WRITER_RULE, HEADER_CORRELATION_ID, HEADER_MSG_ID

from .errors import NatsBridgeError

__all__ = ["HEADER_CORRELATION_ID", "HEADER_MSG_ID", "b64decode", "b64encode", "build_headers", "checked_uuid",
           "encoded_len", "file_name", "header_len", "is_uuid", "new_uuid", "now_timestamp", "sha256_hex"]

# The schema's pattern, matched whole (`fullmatch`: ECMA-262 `$` does not match before a final "\n").
_UUID = re.compile(SCHEMA["definitions"]["Uuid"]["pattern"])
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def new_uuid() -> str:
    """A random (v4) UUID, as ``str(uuid.uuid4())`` writes it (lowercase, version 4, variant
    RFC 4122), without building a ``uuid.UUID``: it is made three times per envelope."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


def checked_uuid(value: str | None, field: str) -> str:
    """``value`` checked as a UUID to write, or a new one when ``None``;
    ``SERIALIZATION_ERROR`` (profile ``ERROR_WRITER_RULE``) naming ``field`` otherwise."""
    if value is None:
        return new_uuid()
    if not is_uuid(value):
        raise NatsBridgeError(ERROR_WRITER_RULE, f"`{field}` must be a UUID (8-4-4-4-12 hex), not {value!r:.60}")
    return value


def is_uuid(value: object) -> bool:
    """Whether ``value`` is a UUID string as the schema's ``Uuid`` (matched whole)."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


_second: tuple[int, str] = (-1, "")
"""The last second formatted (``2026-11-29T21:58:30.``), kept as one tuple (threads read it whole)."""


def now_timestamp() -> str:
    """Now as RFC 3339 UTC with milliseconds: ``2026-11-29T21:58:30.123Z`` (the system clock,
    truncated; each second's date and time formatted once)."""
    global _second
    seconds, ns = divmod(time.time_ns(), 1_000_000_000)
    cached, prefix = _second
    if cached != seconds:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds))
        _second = (seconds, prefix)
    return f"{prefix}{ns // 1_000_000:03d}Z"


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def encoded_len(n: int) -> int:
    """Length of the padded base64 text for ``n`` bytes."""
    return (n + 2) // 3 * 4


def b64encode(data: bytes | bytearray | memoryview) -> str:
    """Padded standard base64."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Decodes canonical padded standard base64 (no whitespace, zero trailing bits);
    anything else is ``DESERIALIZATION_ERROR``."""
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)  # a str that is not ASCII: ValueError
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise NatsBridgeError(ERROR_BAD_BYTES, "`data` is not valid base64") from e
    if len(text) % 4 != 0:
        raise NatsBridgeError(ERROR_BAD_BYTES, "`data` is not valid base64: bad length")
    # Canonical: the last quantum must re-encode to itself (no non-zero trailing bits).
    if text and base64.b64encode(raw[3 * (len(text) // 4 - 1):]).decode("ascii") != text[-4:]:
        raise NatsBridgeError(ERROR_BAD_BYTES, "`data` is not canonical base64")
    return raw


def build_headers(msg_id: str, correlation_id: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers an envelope travels with: ``Nats-Msg-Id``, ``Correlation-Id``, then ``extra``."""
    headers = {HEADER_MSG_ID: msg_id, HEADER_CORRELATION_ID: correlation_id}
    for k, v in (extra or {}).items():
        headers[k] = v
    return headers


def header_len(headers: Mapping[str, str]) -> int:
    """Bytes the header block takes in the ``HPUB`` nats-py writes (``NATS/1.0\\r\\n``,
    ``name: value\\r\\n`` each, ``\\r\\n``): it counts against the server's ``max_payload``."""
    n = len(b"NATS/1.0\r\n\r\n")
    for k, v in headers.items():
        key = k.strip()
        if key:
            n += len(key.encode()) + 2 + len(v.strip().encode()) + 2
    return n


def file_name(dataname: str) -> str:
    """A file name of ``[A-Za-z0-9._-]`` from a ``dataname`` (at most 100 characters)."""
    s = _SAFE.sub("_", dataname)[:100]
    return s or "payload"
