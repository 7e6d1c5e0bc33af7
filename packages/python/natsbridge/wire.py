"""Wire helpers: ids, timestamps, digests, base64, the NATS headers beside an envelope and
their exact length on the wire. Pure functions, no I/O."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
import uuid
from collections.abc import Mapping

from .errors import NatsBridgeError

HEADER_MSG_ID = "Nats-Msg-Id"
"""NATS header carrying the envelope's ``msg_id`` (JetStream de-duplication)."""
HEADER_CORRELATION_ID = "Correlation-Id"
"""NATS header carrying the envelope's ``correlation_id``."""

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def new_uuid() -> str:
    """A random (v4) UUID."""
    return str(uuid.uuid4())


def checked_uuid(value: str | None, field: str) -> str:
    """``value`` checked as a UUID, or a new one when ``None``."""
    if value is None:
        return new_uuid()
    if not isinstance(value, str) or not _UUID.match(value):
        raise NatsBridgeError("INVALID_ENVELOPE", f"`{field}` must be a UUID")
    return value


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.match(value) is not None


def now_timestamp() -> str:
    """Now as RFC 3339 UTC with milliseconds: ``2026-11-29T21:58:30.123Z``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


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
        raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise NatsBridgeError("DESERIALIZATION_ERROR", "`data` is not valid base64") from e
    if len(text) % 4 != 0:
        raise NatsBridgeError("DESERIALIZATION_ERROR", "`data` is not valid base64: bad length")
    # Canonical: the last quantum must re-encode to itself (no non-zero trailing bits).
    if text and base64.b64encode(raw[3 * (len(text) // 4 - 1):]).decode("ascii") != text[-4:]:
        raise NatsBridgeError("DESERIALIZATION_ERROR", "`data` is not canonical base64")
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
