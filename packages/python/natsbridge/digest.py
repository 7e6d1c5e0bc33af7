"""Digest lines, the same contract as the Rust ``natsbridge`` CLI's: one compact JSON object
per envelope, keys in the order ``correlation_id``, ``msg_purpose``, ``payloads`` (each
``dataname``, ``payload_type``, ``transport``, ``size``, ``sha256``, ``num_rows`` for tables),
describing each payload's serialized bytes as carried."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from natsbridge_types import MsgEnvelopeV1

from .errors import NatsBridgeError
from .receive import Received

__all__ = ["ascii_line", "of_error", "of_received", "of_sent", "of_unexpected", "payload_digest", "with_headers"]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def payload_digest(
    dataname: str, payload_type: str, transport: str, size: int, sha256: str, rows: int | None
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "dataname": dataname, "payload_type": payload_type, "transport": transport, "size": size, "sha256": sha256,
    }
    if rows is not None:
        d["num_rows"] = rows
    return d


def _line(correlation_id: str, purpose: str, payloads: list[dict[str, Any]]) -> str:
    return _dumps({"correlation_id": correlation_id, "msg_purpose": purpose, "payloads": payloads})


def of_sent(envelope: MsgEnvelopeV1, rows: Sequence[int | None]) -> str:
    """The sender's digest: sizes and hashes as smartsend recorded them."""
    payloads = []
    for p, r in zip(envelope["payloads"], rows):
        sha = (p.get("metadata") or {}).get("sha256")
        payloads.append(payload_digest(p["dataname"], p["payload_type"], p["transport"], p["size"],
                                       sha if isinstance(sha, str) else "", r))
    return _line(envelope["correlation_id"], envelope["msg_purpose"], payloads)


def of_received(received: Received) -> str:
    """The receiver's digest: sizes and hashes of the bytes actually received."""
    payloads = [
        payload_digest(p.dataname, p.payload_type, p.transport, len(p.raw), p.sha256, p.num_rows)
        for p in received.payloads
    ]
    return _line(received.correlation_id, received.envelope["msg_purpose"], payloads)


def of_error(error: NatsBridgeError) -> str:
    """The line printed for an envelope that could not be received; ``"remote": true`` when
    the error is a responder's ``error_response_v1``, not a failure here, and its
    ``"application_code"`` when it has one."""
    line: dict[str, Any] = {"error": error.code}
    if error.application_code is not None:
        line["application_code"] = error.application_code
    line["correlation_id"] = error.correlation_id
    line["message"] = error.report()
    if error.remote:
        line["remote"] = True
    return _dumps(line)


def of_unexpected(error: BaseException) -> str:
    """The line printed for an envelope whose handling raised something other than a
    :class:`NatsBridgeError` (a bug: the receiver reports it and goes on)."""
    text = f"{type(error).__name__}: {error}"[:500]
    return _dumps({"error": "UNEXPECTED_EXCEPTION", "correlation_id": None, "message": text})


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def ascii_line(line: str) -> str:
    """``line`` (JSON) with every non-ASCII character as its JSON escape (``\\u00e9``, a
    surrogate pair for one outside the BMP, ``\\ud800`` for a lone surrogate): the same
    JSON value, printable whatever the output's encoding and whatever a peer sent."""
    if line.isascii():
        return line
    return _NON_ASCII.sub(lambda m: json.dumps(m.group())[1:-1], line)


def with_headers(line: str, headers: Mapping[str, str] | None, names: Sequence[str]) -> str:
    """``line`` with ``"headers": {name: value or null}`` appended for ``names``."""
    if not names:
        return line
    value = json.loads(line)
    value["headers"] = {n: (headers or {}).get(n) for n in names}
    return _dumps(value)
