"""The payload types and their serialization, as the profile's ``PAYLOAD_SERIALIZATION``
lists them: text → UTF-8, dictionary → JSON, arrowtable → Arrow IPC *stream*, jsontable →
JSON array of row objects, image/audio/video/binary → raw bytes. A payload type the profile
does not list is ``INVALID_PAYLOAD_TYPE``, read or written; one it adds with a known
serialization works here without a change. Decoding is the inverse, with typed errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.ipc

from natsbridge_types import PayloadType
from natsbridge_types.profile import (
    ERROR_BAD_BYTES,
    ERROR_TABLE_LIMITS,
    ERROR_UNKNOWN_PAYLOAD_TYPE,
    ERROR_WRITER_RULE,
    PAYLOAD_SERIALIZATION,
    TABLE_MAX_BATCHES,
    TABLE_MAX_COLUMNS,
)

from . import strict_json
from .errors import NatsBridgeError
from .options import Count, checked, checked_options

__all__ = ["BINARY_TYPES", "PayloadType", "TableLimits", "decode_payload", "encode_payload", "encode_table", "num_rows"]

# The serializations, each named by a payload type v1 gives it (no kind is spelled here).
_UTF8: Final = PAYLOAD_SERIALIZATION["text"]
_JSON: Final = PAYLOAD_SERIALIZATION["dictionary"]
_JSON_ROWS: Final = PAYLOAD_SERIALIZATION["jsontable"]
_ARROW_IPC: Final = PAYLOAD_SERIALIZATION["arrowtable"]
_BYTES: Final = PAYLOAD_SERIALIZATION["binary"]
_EXTENSIONS: Final = {_UTF8: "txt", _JSON: "json", _JSON_ROWS: "json", _ARROW_IPC: "arrow"}

BINARY_TYPES: Final = frozenset(t for t, kind in PAYLOAD_SERIALIZATION.items() if kind == _BYTES)
"""The payload types carried as the bytes given (image, audio, video, binary)."""
Bytes = bytes | bytearray | memoryview


@checked_options
@dataclass(frozen=True)
class TableLimits:
    """Limits applied while decoding untrusted Arrow IPC bytes (the profile's
    ``TABLE_MAX_BATCHES`` and ``TABLE_MAX_COLUMNS`` by default); a table over them is
    ``PAYLOAD_TOO_LARGE`` (``ERROR_TABLE_LIMITS``)."""

    max_batches: Count = TABLE_MAX_BATCHES
    max_columns: Count = TABLE_MAX_COLUMNS


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""Compact JSON, made once (``json.dumps`` with options builds an encoder per call)."""


def _dumps(value: Any) -> bytes:
    """``value`` as the JSON a strict reader accepts (rule 8): no NaN or infinity, no lone
    surrogate, no nesting deeper than the profile's ``JSON_MAX_DEPTH``, no integer too large
    for a double; ``SERIALIZATION_ERROR`` otherwise."""
    try:
        text = _ENCODER.encode(value)
        strict_json.check_written(text)
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as e:  # StrictJsonError and UnicodeEncodeError are ValueErrors
        raise NatsBridgeError(ERROR_WRITER_RULE, f"not serializable as strict JSON: {str(e)[:200]}") from e


def _is_rows(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(r, dict) for r in value)


@checked("encode_table")
def encode_table(table: pa.Table | pa.RecordBatch) -> bytes:
    """An Arrow table (or one record batch) as an IPC stream, uncompressed."""
    try:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            if isinstance(table, pa.RecordBatch):
                writer.write_batch(table)
            else:
                writer.write_table(table)
        return sink.getvalue().to_pybytes()
    except (pa.ArrowException, OSError, ValueError, TypeError) as e:
        raise NatsBridgeError(ERROR_WRITER_RULE, "writing the Arrow IPC stream") from e


def _serialization(payload_type: object) -> str:
    """How ``payload_type`` is serialized; ``INVALID_PAYLOAD_TYPE`` for one the profile does not list."""
    kind = PAYLOAD_SERIALIZATION.get(payload_type) if isinstance(payload_type, str) else None
    if kind is None:
        raise NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, f"unknown payload_type `{str(payload_type)[:100]}`")
    return kind


def encode_payload(data: Any, payload_type: str) -> bytes | bytearray | memoryview:
    """The serialized bytes that travel for ``data`` as ``payload_type``."""
    kind = _serialization(payload_type)
    if kind == _UTF8:
        if not isinstance(data, str):
            raise NatsBridgeError(ERROR_WRITER_RULE, f"a {payload_type} payload must be str, not {type(data).__name__}")
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError as e:
            raise NatsBridgeError(ERROR_WRITER_RULE, "text is not encodable as UTF-8") from e
    if kind == _JSON:
        return _dumps(data)
    if kind == _JSON_ROWS:
        if not _is_rows(data):
            raise NatsBridgeError(ERROR_WRITER_RULE, f"a {payload_type} must be a list of row dicts")
        return _dumps(data)
    if kind == _ARROW_IPC:
        if isinstance(data, (pa.Table, pa.RecordBatch)):
            return encode_table(data)
        if isinstance(data, (bytes, bytearray, memoryview)):
            return data  # already an Arrow IPC stream: sent unchanged
        raise NatsBridgeError(
            ERROR_WRITER_RULE,
            f"an {payload_type} must be a pyarrow Table, RecordBatch or IPC stream bytes, not {type(data).__name__}",
        )
    if kind == _BYTES:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return data
        raise NatsBridgeError(ERROR_WRITER_RULE, f"a {payload_type} payload must be bytes, not {type(data).__name__}")
    # A serialization a newer profile added that this runtime does not implement: never guessed.
    raise NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, f"payload_type `{payload_type}` is serialized as `{kind}`, "
                          "which this runtime does not know")


def extension(payload_type: str) -> str:
    """File-name extension used for uploads."""
    return _EXTENSIONS.get(PAYLOAD_SERIALIZATION.get(payload_type, ""), "bin")


def _strict_json(raw: Bytes) -> Any:
    """The payload's JSON value under the envelope's strict rules (depth counted from the
    payload's own root; no integer-literal rule: payload JSON has no schema)."""
    try:
        return strict_json.loads(raw)
    except strict_json.StrictJsonError as e:
        raise NatsBridgeError(ERROR_BAD_BYTES, f"payload is not strict JSON: {e}") from None


def decode_table(raw: Bytes, limits: TableLimits = TableLimits()) -> pa.Table:
    """Decodes an Arrow IPC stream; the columns point into ``raw`` (no copy)."""
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(raw))
        schema = reader.schema
        if len(schema) > limits.max_columns:
            raise NatsBridgeError(ERROR_TABLE_LIMITS, f"{len(schema)} columns, more than the limit {limits.max_columns}")
        batches: list[pa.RecordBatch] = []
        for batch in reader:
            if len(batches) >= limits.max_batches:
                raise NatsBridgeError(ERROR_TABLE_LIMITS, f"more than {limits.max_batches} record batches")
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=schema)
        table.validate(full=True)
        return table
    except NatsBridgeError:
        raise
    except Exception as e:  # pyarrow raises many types on hostile bytes; all mean "not a stream"
        raise NatsBridgeError(ERROR_BAD_BYTES, "payload is not an Arrow IPC stream") from e


def decode_payload(raw: Bytes, payload_type: str, limits: TableLimits = TableLimits()) -> Any:
    """Decodes serialized bytes according to ``payload_type``: ``str``, JSON value,
    ``list`` of row dicts, ``pyarrow.Table`` or ``bytes``."""
    kind = _serialization(payload_type)
    if kind == _UTF8:
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as e:
            raise NatsBridgeError(ERROR_BAD_BYTES, "payload is not UTF-8 text") from e
    if kind == _JSON:
        return _strict_json(raw)
    if kind == _JSON_ROWS:
        rows = _strict_json(raw)
        if not _is_rows(rows):
            raise NatsBridgeError(ERROR_BAD_BYTES, f"a {payload_type} must be a JSON array of row objects")
        return rows
    if kind == _ARROW_IPC:
        return decode_table(raw, limits)
    if kind == _BYTES:
        return raw if isinstance(raw, bytes) else bytes(raw)
    raise NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, f"payload_type `{payload_type}` is serialized as `{kind}`, "
                          "which this runtime does not know")


def num_rows(data: Any, payload_type: str) -> int | None:
    """Rows of a table payload (arrowtable or jsontable), ``None`` otherwise."""
    kind = PAYLOAD_SERIALIZATION.get(payload_type)
    if kind == _ARROW_IPC and isinstance(data, (pa.Table, pa.RecordBatch)):
        return int(data.num_rows)
    if kind == _JSON_ROWS and isinstance(data, list):
        return len(data)
    return None


def is_known_payload_type(value: object) -> bool:
    """Whether the profile lists ``value`` as a payload type."""
    return isinstance(value, str) and value in PAYLOAD_SERIALIZATION
