"""The eight payload types and their serialization: text → UTF-8, dictionary → JSON,
arrowtable → Arrow IPC *stream*, jsontable → JSON array of row objects,
image/audio/video/binary → raw bytes. Decoding is the inverse, with typed errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.ipc

from natsbridge_types import PAYLOAD_TYPE_VALUES, PayloadType

from .errors import NatsBridgeError

__all__ = ["BINARY_TYPES", "PayloadType", "TableLimits", "decode_payload", "encode_payload", "encode_table", "num_rows"]

BINARY_TYPES: Final = frozenset({"image", "audio", "video", "binary"})
Bytes = bytes | bytearray | memoryview


@dataclass(frozen=True)
class TableLimits:
    """Limits applied while decoding untrusted Arrow IPC bytes."""

    max_batches: int = 1_000_000
    max_columns: int = 10_000


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as e:
        raise NatsBridgeError("SERIALIZATION_ERROR", "not serializable as JSON") from e


def _is_rows(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(r, dict) for r in value)


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
        raise NatsBridgeError("SERIALIZATION_ERROR", "writing the Arrow IPC stream") from e


def encode_payload(data: Any, payload_type: str) -> bytes | bytearray | memoryview:
    """The serialized bytes that travel for ``data`` as ``payload_type``."""
    if payload_type == "text":
        if not isinstance(data, str):
            raise NatsBridgeError("SERIALIZATION_ERROR", f"a text payload must be str, not {type(data).__name__}")
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError as e:
            raise NatsBridgeError("SERIALIZATION_ERROR", "text is not encodable as UTF-8") from e
    if payload_type == "dictionary":
        return _dumps(data)
    if payload_type == "jsontable":
        if not _is_rows(data):
            raise NatsBridgeError("SERIALIZATION_ERROR", "a jsontable must be a list of row dicts")
        return _dumps(data)
    if payload_type == "arrowtable":
        if isinstance(data, (pa.Table, pa.RecordBatch)):
            return encode_table(data)
        if isinstance(data, (bytes, bytearray, memoryview)):
            return data  # already an Arrow IPC stream: sent unchanged
        raise NatsBridgeError(
            "SERIALIZATION_ERROR", f"an arrowtable must be a pyarrow Table, RecordBatch or IPC stream bytes, not {type(data).__name__}"
        )
    if payload_type in BINARY_TYPES:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return data
        raise NatsBridgeError("SERIALIZATION_ERROR", f"a {payload_type} payload must be bytes, not {type(data).__name__}")
    raise NatsBridgeError("INVALID_PAYLOAD_TYPE", f"unknown payload_type `{payload_type}`")


def extension(payload_type: str) -> str:
    """File-name extension used for uploads."""
    return {"text": "txt", "dictionary": "json", "jsontable": "json", "arrowtable": "arrow"}.get(payload_type, "bin")


def _strict_json(raw: Bytes) -> Any:
    try:
        return json.loads(bytes(raw).decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise NatsBridgeError("DESERIALIZATION_ERROR", "payload is not JSON") from e


def decode_table(raw: Bytes, limits: TableLimits = TableLimits()) -> pa.Table:
    """Decodes an Arrow IPC stream; the columns point into ``raw`` (no copy)."""
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(raw))
        schema = reader.schema
        if len(schema) > limits.max_columns:
            raise NatsBridgeError("DESERIALIZATION_ERROR", f"{len(schema)} columns, more than the limit {limits.max_columns}")
        batches: list[pa.RecordBatch] = []
        for batch in reader:
            if len(batches) >= limits.max_batches:
                raise NatsBridgeError("DESERIALIZATION_ERROR", f"more than {limits.max_batches} record batches")
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=schema)
        table.validate(full=True)
        return table
    except NatsBridgeError:
        raise
    except Exception as e:  # pyarrow raises many types on hostile bytes; all mean "not a stream"
        raise NatsBridgeError("DESERIALIZATION_ERROR", "payload is not an Arrow IPC stream") from e


def decode_payload(raw: Bytes, payload_type: str, limits: TableLimits = TableLimits()) -> Any:
    """Decodes serialized bytes according to ``payload_type``: ``str``, JSON value,
    ``list`` of row dicts, ``pyarrow.Table`` or ``bytes``."""
    if payload_type == "text":
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as e:
            raise NatsBridgeError("DESERIALIZATION_ERROR", "payload is not UTF-8 text") from e
    if payload_type == "dictionary":
        return _strict_json(raw)
    if payload_type == "jsontable":
        rows = _strict_json(raw)
        if not _is_rows(rows):
            raise NatsBridgeError("DESERIALIZATION_ERROR", "a jsontable must be a JSON array of row objects")
        return rows
    if payload_type == "arrowtable":
        return decode_table(raw, limits)
    if payload_type in BINARY_TYPES:
        return raw if isinstance(raw, bytes) else bytes(raw)
    raise NatsBridgeError("INVALID_PAYLOAD_TYPE", f"unknown payload_type `{payload_type}`")


def num_rows(data: Any, payload_type: str) -> int | None:
    """Rows of a table payload (arrowtable or jsontable), ``None`` otherwise."""
    if payload_type == "arrowtable" and isinstance(data, (pa.Table, pa.RecordBatch)):
        return int(data.num_rows)
    if payload_type == "jsontable" and isinstance(data, list):
        return len(data)
    return None


def is_known_payload_type(value: object) -> bool:
    return isinstance(value, str) and value in PAYLOAD_TYPE_VALUES


