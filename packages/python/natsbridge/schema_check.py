"""The v1 schema applied to what is read and what is written (schema/README.md, rules 3, 9,
10 and 12). The generated fast checks (``plainly_valid_*``, ECMA-262 patterns) keep the
generated (jsonschema) validator off the hot path; the validator decides, and words the
error, only when the fast check cannot prove a value valid.

- :func:`readable_envelope`: a parsed value as an envelope a v1 reader accepts (unknown enum
  values and fields allowed), ``size`` written as an integer; ``INVALID_ENVELOPE``.
- :func:`check_writable_envelope` / :func:`check_writable_error_response`: what a v1 writer
  may publish (enums closed); ``SERIALIZATION_ERROR`` naming the field.
"""

from __future__ import annotations

from typing import cast

from natsbridge_types import (
    ErrorResponseV1,
    MsgEnvelopeV1,
    ValidationIssue,
    plainly_valid_error_response_v1,
    plainly_valid_msg_envelope_v1,
    validate_error_response_v1,
    validate_msg_envelope_v1,
)
from natsbridge_types.profile import ERROR_NOT_ENVELOPE, ERROR_WRITER_RULE

from .errors import NatsBridgeError

__all__ = ["check_writable_envelope", "check_writable_error_response", "loose_correlation_id", "readable_envelope"]

def _issues_text(issues: list[ValidationIssue]) -> str:
    return "; ".join(f"{i.path or '/'} {i.message}" for i in issues[:3])[:500]


def loose_correlation_id(value: object) -> str | None:
    """The ``correlation_id`` string of a value that may not be an envelope (to name in errors)."""
    if isinstance(value, dict):
        cid = value.get("correlation_id")
        if isinstance(cid, str):
            return cid[:100]
    return None


_SIZE_MAX = (1 << 64) - 1
"""The largest ``size`` any reader's integer holds (Rust's ``u64``): one beyond it is not an
envelope, whatever the size limit says after."""


def readable_envelope(value: object, cid_hint: str | None = None) -> MsgEnvelopeV1:
    """``value`` (from the strict JSON reader) as an envelope the v1 reader schema accepts,
    every ``size`` written as an integer (rule 9: the strict reader gives ``5.0``, ``5e0``,
    ``-0`` as floats, which JSON Schema's ``integer`` would take) that fits 64 bits;
    ``INVALID_ENVELOPE`` (profile ``ERROR_NOT_ENVELOPE``) with the envelope's correlation id,
    or ``cid_hint``."""
    if not plainly_valid_msg_envelope_v1(value, reader=True):  # True: every size an `int` >= 0
        issues = validate_msg_envelope_v1(value, reader=True)
        if issues or not isinstance(value, dict):
            raise NatsBridgeError(ERROR_NOT_ENVELOPE, f"not a valid msg_envelope_v1: {_issues_text(issues)}",
                                  correlation_id=loose_correlation_id(value) or cid_hint)
    envelope = cast(MsgEnvelopeV1, value)
    for i, p in enumerate(envelope["payloads"]):
        size = p["size"]
        if type(size) is not int or size > _SIZE_MAX:
            written = "is not written as an integer (0 or [1-9][0-9]*)" if type(size) is not int else "does not fit 64 bits"
            raise NatsBridgeError(ERROR_NOT_ENVELOPE, f"not a valid msg_envelope_v1: /payloads/{i}/size {written}",
                                  correlation_id=loose_correlation_id(value) or cid_hint)
    return envelope


def _writer_error(what: str, issues: list[ValidationIssue], cid: str | None) -> NatsBridgeError:
    first = issues[0]
    field = first.path.lstrip("/").replace("/", ".") or "(envelope)"
    return NatsBridgeError(ERROR_WRITER_RULE, f"`{field}`: {first.message[:200]} (a v1 writer must not write this "
                           f"{what}; {_issues_text(issues)})", correlation_id=cid)


def check_writable_envelope(envelope: MsgEnvelopeV1) -> None:
    """Raises ``SERIALIZATION_ERROR`` (profile ``ERROR_WRITER_RULE``) naming the first field
    of ``envelope`` a v1 writer may not write: enums are closed (``msg_purpose: "request"``
    is refused), ids are UUIDs, ``send_to`` and ``sender_name`` are not empty."""
    if plainly_valid_msg_envelope_v1(envelope):
        return
    issues = validate_msg_envelope_v1(envelope)
    if issues:
        raise _writer_error("envelope", issues, loose_correlation_id(envelope))


def check_writable_error_response(response: ErrorResponseV1) -> None:
    """As :func:`check_writable_envelope`, for an ``error_response_v1``."""
    if plainly_valid_error_response_v1(response):
        return
    issues = validate_error_response_v1(response)
    if issues:
        raise _writer_error("error response", issues, loose_correlation_id(response))
