"""Request/reply on top of smartsend and smartreceive: a request carries a fresh inbox in
``reply_to``; the reply keeps the request's correlation id and names the request's
``msg_id`` in ``reply_to_msg_id``. A responder that cannot handle a request answers with an
``error_response_v1`` (:func:`smartreply_error`); :func:`smartrequest` raises it as a remote
:class:`NatsBridgeError` with the responder's code (``remote`` set)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import nats.errors
from nats.aio.msg import Msg

from natsbridge_types import ErrorResponseV1, MsgEnvelopeV1, dump_error_response_v1, validate_error_response_v1
from natsbridge_types.profile import DEFAULT_FLUSH, ERROR_DEADLINE, ERROR_NOT_ENVELOPE, ERROR_WRITER_RULE

from . import strict_json
from .errors import NatsBridgeError
from .options import checked
from .receive import ReceiveOptions, Received, smartreceive
from .schema_check import check_writable_error_response
from .send import SEND_OPTION_NAMES, PayloadInput, Sent, smartsend
from .transport import Client, publish_core
from .wire import build_headers, checked_uuid, now_timestamp

__all__ = ["smartreply", "smartreply_error", "smartrequest"]


_REQUEST_SEND_OPTIONS = SEND_OPTION_NAMES - {"connection", "reply_to"}
_REPLY_SEND_OPTIONS = SEND_OPTION_NAMES - {"connection", "correlation_id", "reply_to_msg_id"}


@checked("smartrequest", forwards=_REQUEST_SEND_OPTIONS)
async def smartrequest(
    nc: Client,
    subject: str,
    payloads: Iterable[PayloadInput],
    *,
    timeout: float = 10.0,
    receive_options: ReceiveOptions | None = None,
    **send_options: Any,
) -> Received:
    """Sends a request envelope (``reply_to`` set to a fresh inbox) and returns the first
    reply, decoded. ``TIMEOUT`` when none comes within ``timeout`` seconds. ``send_options``
    are :func:`smartsend`'s keyword arguments (but ``connection`` and ``reply_to``)."""
    cid = checked_uuid(send_options.pop("correlation_id", None), "correlation_id")
    inbox = nc.new_inbox()
    try:
        sub = await nc.subscribe(inbox, max_msgs=1)
    except Exception as e:
        raise NatsBridgeError("NATS_CONNECTION_FAILED", "subscribing to the reply inbox", correlation_id=cid) from e
    try:
        await smartsend(subject, payloads, connection=nc, reply_to=inbox, correlation_id=cid, **send_options)
        try:
            msg = await sub.next_msg(timeout=timeout)
        except nats.errors.TimeoutError:
            # The whole story (nats-py's own timeout adds nothing; the message is Rust's).
            raise NatsBridgeError(ERROR_DEADLINE, f"no reply on `{subject}` within {timeout:g}s",
                                  correlation_id=cid) from None
        except Exception as e:
            raise NatsBridgeError("NATS_CONNECTION_FAILED", "reply subscription closed", correlation_id=cid) from e
    finally:
        try:
            await sub.unsubscribe()
        except Exception:  # already gone after max_msgs, or the connection closed
            pass
    try:
        return await smartreceive(msg, receive_options)
    except NatsBridgeError as e:
        # Not an envelope: perhaps the responder's error_response_v1. Looked at only then, so
        # a good reply costs nothing more.
        remote = _error_response(msg, cid) if e.code == ERROR_NOT_ENVELOPE else None
        if remote is None:
            raise e.with_correlation_id(cid)
        raise remote from None


def _error_response(msg: Msg, cid: str) -> NatsBridgeError | None:
    """The remote error in an ``error_response_v1`` answering the request ``cid``; ``None``
    when ``msg`` is not one."""
    try:
        value: object = strict_json.loads(msg.data)
    except strict_json.StrictJsonError:
        return None
    if validate_error_response_v1(value, reader=True):
        return None
    return NatsBridgeError.from_error_body(cast(ErrorResponseV1, value)["error"], cid)


@checked("smartreply_error")
async def smartreply_error(
    nc: Client, request: MsgEnvelopeV1, error: NatsBridgeError, *, flush: bool = DEFAULT_FLUSH
) -> ErrorResponseV1:
    """Answers ``request`` with an ``error_response_v1`` on its ``reply_to``: ``error``'s code
    and message (its :meth:`~NatsBridgeError.report`), the request's correlation id (also in
    ``error.details``), a new ``msg_id``, with the ``Nats-Msg-Id`` and ``Correlation-Id``
    headers. The requester's :func:`smartrequest` raises it as a remote
    :class:`NatsBridgeError`. The response is checked as a v1 writer must write it first
    (``SERIALIZATION_ERROR`` naming the field: e.g. a remote error's code this version does
    not know). ``flush`` as for :func:`smartsend`. Returns what was published."""
    cid = request["correlation_id"]
    subject = request.get("reply_to")
    if not subject:
        raise NatsBridgeError(ERROR_NOT_ENVELOPE, "the request has no `reply_to`", correlation_id=cid)
    body = error.to_error_body()
    body["details"] = {**body.get("details", {}), "correlation_id": cid}
    msg_id = checked_uuid(None, "msg_id")
    response: ErrorResponseV1 = {
        "correlation_id": cid,
        "msg_id": msg_id,
        "timestamp": now_timestamp(),
        "send_to": subject,
        "error": body,
    }
    check_writable_error_response(response)
    try:
        text = dump_error_response_v1(response)
        strict_json.check_written(text)
        data = text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as e:  # a lone surrogate, a detail that is not JSON
        raise NatsBridgeError(ERROR_WRITER_RULE, "serializing the error response", correlation_id=cid) from e
    await publish_core(nc, subject, data, build_headers(msg_id, cid), flush, cid)
    return response


@checked("smartreply", forwards=_REPLY_SEND_OPTIONS)
async def smartreply(
    nc: Client,
    request: MsgEnvelopeV1,
    payloads: Iterable[PayloadInput],
    **send_options: Any,
) -> Sent:
    """Answers ``request`` on its ``reply_to`` with the same correlation id and
    ``reply_to_msg_id`` = the request's ``msg_id``. ``send_options`` are :func:`smartsend`'s
    keyword arguments (but ``connection``, ``correlation_id`` and ``reply_to_msg_id``)."""
    if not request.get("reply_to"):
        raise NatsBridgeError(ERROR_NOT_ENVELOPE, "the request has no `reply_to`",
                              correlation_id=request.get("correlation_id"))
    send_options.setdefault("receiver_name", request["sender_name"])
    send_options.setdefault("receiver_id", request["sender_id"])
    return await smartsend(
        request["reply_to"], payloads, connection=nc, correlation_id=request["correlation_id"],
        reply_to_msg_id=request["msg_id"], **send_options,
    )
