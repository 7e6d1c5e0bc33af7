"""``--payload NAME:TYPE:SOURCE`` (SOURCE literal text, JSON, or ``@PATH``) and
``--from-stdin NAME:TYPE``: the ``(dataname, data, payload_type)`` triples to send, with
the rows of table payloads for the digest line."""

from __future__ import annotations

from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.ipc

from .. import strict_json
from ..errors import NatsBridgeError
from ..payload import BINARY_TYPES, decode_table
from .common import UsageError

__all__ = ["Source", "parse_bytes", "parse_payload"]


class Source(NamedTuple):
    """One payload from the command line, and its rows (tables) for the digest line."""

    dataname: str
    data: Any
    payload_type: str
    rows: int | None

    def triple(self) -> tuple[str, Any, str]:
        return (self.dataname, self.data, self.payload_type)


def parse_payload(spec: str) -> Source:
    """``NAME:TYPE:SOURCE`` → a :class:`Source`; SOURCE is literal text or ``@PATH``."""
    parts = spec.split(":", 2)
    if len(parts) != 3:
        raise UsageError(f"--payload `{spec}` is not NAME:TYPE:SOURCE")
    name, kind, source = parts
    if source.startswith("@"):
        try:
            with open(source[1:], "rb") as f:
                raw = f.read()
        except OSError as e:
            raise UsageError(f"reading {source[1:]}: {e}") from e
    else:
        raw = source.encode("utf-8", "surrogateescape")
    return payload(name, kind, raw)


def parse_bytes(spec: str, raw: bytes) -> Source:
    """``NAME:TYPE`` (``--from-stdin``) with the bytes read elsewhere."""
    name, sep, kind = spec.partition(":")
    if not sep:
        raise UsageError(f"`{spec}` is not NAME:TYPE")
    return payload(name, kind, raw)


def payload(name: str, kind: str, raw: bytes) -> Source:
    """The payload ``name`` of type ``kind`` from the bytes ``raw``: text must be UTF-8,
    dictionary and jsontable strict JSON; an Arrow IPC stream is sent as it is, an Arrow IPC
    file re-encoded as a stream; the byte types are sent as given."""

    def as_json() -> Any:
        try:
            return strict_json.loads(raw)
        except strict_json.StrictJsonError as e:
            raise UsageError(f"{name}: not JSON: {e}") from None

    if kind == "text":
        try:
            return Source(name, raw.decode("utf-8"), kind, None)
        except UnicodeDecodeError:
            raise UsageError(f"{name}: text must be UTF-8") from None
    if kind == "dictionary":
        return Source(name, as_json(), kind, None)
    if kind == "jsontable":
        rows = as_json()
        return Source(name, rows, kind, len(rows) if isinstance(rows, list) else None)
    if kind == "arrowtable":
        try:
            if raw.startswith(b"ARROW1"):  # an IPC file: re-encoded as a stream
                table = pa.ipc.open_file(pa.py_buffer(raw)).read_all()
                return Source(name, table, kind, table.num_rows)
            return Source(name, raw, kind, decode_table(raw).num_rows)  # a stream: sent unchanged
        except (pa.ArrowException, NatsBridgeError) as e:
            raise UsageError(f"{name}: {e}") from e
    if kind in BINARY_TYPES:
        return Source(name, raw, kind, None)
    raise UsageError(f"{name}: unknown payload type `{kind}`")
