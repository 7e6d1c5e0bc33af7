"""Request/reply on top of smartsend and smartreceive: a request carries a fresh inbox in
``reply_to``; the reply keeps the request's correlation id and names the request's
``msg_id`` in ``reply_to_msg_id``. A responder that cannot handle a request answers with an
``error_response_v1`` (:func:`error_response` builds it, :func:`smartreply_error` publishes
it): an :class:`~natsbridge.ApplicationError` as ``APPLICATION_ERROR`` with its application
code, any other :class:`NatsBridgeError` with its code, anything else a handler raised as
``HANDLER_FAILED`` (never a stack trace). :func:`smartrequest` raises it as a remote
:class:`NatsBridgeError` with the responder's code (``remote`` set; an
:class:`~natsbridge.ApplicationError` for ``APPLICATION_ERROR``); :func:`decode_reply` is that
step on its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import nats.errors
from nats.aio.msg import Msg

from natsbridge_types import (
    ErrorBody,
    ErrorResponseV1,
    dump_error_response_v1,
    validate_error_response_v1,
)
from natsbridge_types.profile import (
    DEFAULT_FLUSH,
    ERROR_APPLICATION,
    ERROR_BAD_OPTION,
    ERROR_DEADLINE,
    ERROR_HANDLER,
    ERROR_NOT_ENVELOPE,
    ERROR_WRITER_RULE,
)

from . import strict_json
from .errors import NatsBridgeError, _causes, _text
from .options import PositiveSeconds, checked
from .receive import ReceiveOptions, Received, smartreceive
from .schema_check import check_writable_error_response
from .send import SEND_OPTION_NAMES, PayloadInput, SendOptions, Sent, smartsend
from .transport import Client, publish_core
from .wire import build_headers, checked_uuid, is_uuid, now_timestamp

__all__ = ["decode_reply", "error_response", "error_response_json", "handler_message", "smartreply", "smartreply_error",
           "smartrequest"]


_REQUEST_SEND_OPTIONS = SEND_OPTION_NAMES - {"connection", "reply_to"}
_REPLY_SEND_OPTIONS = SEND_OPTION_NAMES - {"connection", "correlation_id", "reply_to_msg_id"}
_HANDLER_TEXT_LIMIT = 500
"""Characters of a raised exception's text an error response carries."""


@checked("smartrequest", forwards=_REQUEST_SEND_OPTIONS, forwards_from=SendOptions)
async def smartrequest(
    nc: Client,
    subject: str,
    payloads: Iterable[PayloadInput],
    *,
    timeout: PositiveSeconds = 10.0,
    receive_options: ReceiveOptions | None = None,
    **send_options: Any,
) -> Received:
    """Sends a request envelope (``reply_to`` set to a fresh inbox) and returns the first
    reply, decoded. ``TIMEOUT`` when none comes within ``timeout`` seconds. ``send_options``
    are :func:`smartsend`'s keyword arguments (but ``connection`` and ``reply_to``). A
    responder's ``error_response_v1`` is raised as a remote :class:`NatsBridgeError` (an
    :class:`~natsbridge.ApplicationError` for ``APPLICATION_ERROR``): see :func:`decode_reply`."""
    cid = checked_uuid(send_options.pop("correlation_id", None), "correlation_id")
    inbox = nc.new_inbox()
    try:
        sub = await nc.subscribe(inbox, max_msgs=1)
    except Exception as e:
        raise NatsBridgeError("NATS_CONNECTION_FAILED", f"subscribing to the reply inbox for `{subject}` failed: "
                              f"{_text(e)}. Check the connection", correlation_id=cid) from e
    try:
        await smartsend(subject, payloads, connection=nc, reply_to=inbox, correlation_id=cid, **send_options)
        try:
            msg = await sub.next_msg(timeout=timeout)
        except nats.errors.TimeoutError:
            # The whole story (nats-py's own timeout adds nothing).
            raise NatsBridgeError(
                ERROR_DEADLINE, f"waiting for a reply on `{subject}`: none came within {timeout:g}s. Check that a "
                "responder is subscribed to it (e.g. serve()), or raise timeout if it needs longer",
                correlation_id=cid) from None
        except Exception as e:
            raise NatsBridgeError("NATS_CONNECTION_FAILED", f"waiting for a reply on `{subject}`: the reply "
                                  "subscription closed. Check the connection", correlation_id=cid) from e
    finally:
        try:
            await sub.unsubscribe()
        except Exception:  # already gone after max_msgs, or the connection closed
            pass
    return await decode_reply(msg, cid, receive_options)


@checked("decode_reply")
async def decode_reply(
    msg: Msg | bytes | bytearray | str,
    correlation_id: str | None,
    options: ReceiveOptions | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Received:
    """What :func:`smartrequest` does with the message that answered the request
    ``correlation_id``: a reply envelope is decoded (:func:`smartreceive`); an
    ``error_response_v1`` is raised as the responder's error (``remote`` set, its code and
    ``application_code`` as sent, an :class:`~natsbridge.ApplicationError` for
    ``APPLICATION_ERROR``, the request's correlation id); anything else is the receive error
    (``INVALID_ENVELOPE``, ...) with the request's correlation id (``None``: the reply's own,
    when it can be read)."""
    try:
        return await smartreceive(msg, options, headers=headers)
    except NatsBridgeError as e:
        # Not an envelope: perhaps the responder's error_response_v1. Looked at only then, so
        # a good reply costs nothing more.
        remote = _error_response(msg, correlation_id) if e.code == ERROR_NOT_ENVELOPE else None
        if remote is None:
            raise e.with_correlation_id(correlation_id)
        raise remote from None


def _error_response(msg: Msg | bytes | bytearray | str, cid: str | None) -> NatsBridgeError | None:
    """The remote error in an ``error_response_v1`` answering the request ``cid``; ``None``
    when ``msg`` is not one."""
    try:
        value: object = strict_json.loads(msg.data if isinstance(msg, Msg) else msg)
    except strict_json.StrictJsonError:
        return None
    if validate_error_response_v1(value, reader=True):
        return None
    response = cast(ErrorResponseV1, value)
    return NatsBridgeError.from_error_body(response["error"], cid if cid is not None else response["correlation_id"])


def handler_message(error: BaseException) -> str:
    """``the handler raised <TypeName>: <text>`` (and its causes), the message of a
    ``HANDLER_FAILED`` error response: never a stack trace."""
    text = _text(error)
    named = type(error).__name__
    head = f"the handler raised {named}" if text == named else f"the handler raised {named}: {text}"
    return ": ".join([head, *_causes(error)])[:_HANDLER_TEXT_LIMIT]


@checked("error_response")
def error_response(request: Mapping[str, Any], error: BaseException) -> ErrorResponseV1:
    """The ``error_response_v1`` answering ``request`` (an envelope) with ``error``, as
    :func:`smartreply_error` publishes it (a pure function):

    - an :class:`~natsbridge.ApplicationError`: ``APPLICATION_ERROR`` with its
      ``application_code`` and its ``details``;
    - any other :class:`NatsBridgeError`: its code;
    - anything else (what a handler raised): ``HANDLER_FAILED``, ``the handler raised
      <TypeName>: <text>``.

    ``message`` is the error's message and causes (no code, no payload name: the requester's
    display adds them); ``details`` has the request's ``correlation_id`` and the error's
    ``dataname`` when known; ``correlation_id`` is the request's, ``send_to`` its
    ``reply_to``, ``msg_id`` new, ``timestamp`` now. Checked as a v1 writer must write it
    (``SERIALIZATION_ERROR`` naming the field, e.g. a detail that is not JSON). A request
    without ``reply_to`` is ``INVALID_ENVELOPE``."""
    given = request.get("correlation_id")
    if not is_uuid(given):
        raise NatsBridgeError(ERROR_NOT_ENVELOPE, f"error_response: the request's correlation_id {given!r:.60} is not "
                              "a UUID; pass the request's envelope (received.envelope)")
    cid = cast(str, given)
    subject = request.get("reply_to")
    if not isinstance(subject, str) or not subject:
        raise NatsBridgeError(ERROR_NOT_ENVELOPE, "error_response: the request has no `reply_to`: nobody waits for an "
                              "answer, so there is nothing to reply to", correlation_id=cid)
    body: ErrorBody
    if isinstance(error, NatsBridgeError) and error.code == ERROR_APPLICATION and error.application_code is None:
        raise NatsBridgeError(ERROR_BAD_OPTION, "error_response: an APPLICATION_ERROR needs its application code; "
                              "raise ApplicationError(application_code, message) instead", correlation_id=cid)
    if isinstance(error, NatsBridgeError):  # a code this version does not know (relayed) fails the writer check
        body = error.to_error_body()
    else:
        body = {"code": ERROR_HANDLER, "message": handler_message(error), "details": {}}
        dataname = getattr(error, "dataname", None)
        if isinstance(dataname, str):
            body["details"] = {"dataname": dataname}
    body["details"] = {**body.get("details", {}), "correlation_id": cid}
    response: ErrorResponseV1 = {
        "correlation_id": cid,
        "msg_id": checked_uuid(None, "msg_id"),
        "timestamp": now_timestamp(),
        "send_to": subject,
        "error": body,
    }
    check_writable_error_response(response)
    return response


def error_response_json(response: ErrorResponseV1) -> str:
    """The JSON text :func:`smartreply_error` publishes for ``response`` (checked as a strict
    reader reads it; ``SERIALIZATION_ERROR`` for a detail that is not JSON)."""
    try:
        text = dump_error_response_v1(response)
        strict_json.check_written(text)
        text.encode("utf-8")
        return text
    except (TypeError, ValueError, RecursionError) as e:  # a lone surrogate, a detail that is not JSON
        raise NatsBridgeError(ERROR_WRITER_RULE, f"serializing the error response: {str(e)[:200]}. Give the "
                              "error's details as JSON values (str, int, float, bool, None, lists, dicts)",
                              correlation_id=response["correlation_id"]) from e


@checked("smartreply_error")
async def smartreply_error(
    nc: Client, request: Mapping[str, Any], error: BaseException, *, flush: bool = DEFAULT_FLUSH
) -> ErrorResponseV1:
    """Answers ``request`` with the ``error_response_v1`` :func:`error_response` builds for
    ``error`` (an :class:`~natsbridge.ApplicationError`, any :class:`NatsBridgeError`, or any
    exception a handler raised), on its ``reply_to``, with the ``Nats-Msg-Id`` and
    ``Correlation-Id`` headers. The requester's :func:`smartrequest` raises it as a remote
    error. ``flush`` as for :func:`smartsend`. Returns what was published."""
    response = error_response(request, error)
    data = error_response_json(response).encode("utf-8")
    cid = response["correlation_id"]
    await publish_core(nc, response["send_to"], data, build_headers(response["msg_id"], cid), flush, cid)
    return response


@checked("smartreply", forwards=_REPLY_SEND_OPTIONS, forwards_from=SendOptions)
async def smartreply(
    nc: Client,
    request: Mapping[str, Any],
    payloads: Iterable[PayloadInput],
    **send_options: Any,
) -> Sent:
    """Answers ``request`` on its ``reply_to`` with the same correlation id and
    ``reply_to_msg_id`` = the request's ``msg_id``. ``send_options`` are :func:`smartsend`'s
    keyword arguments (but ``connection``, ``correlation_id`` and ``reply_to_msg_id``)."""
    cid = request.get("correlation_id")
    if not request.get("reply_to"):
        raise NatsBridgeError(ERROR_NOT_ENVELOPE, "smartreply: the request has no `reply_to`: nobody waits for an "
                              "answer", correlation_id=cid if isinstance(cid, str) else None)
    for key in ("correlation_id", "msg_id", "sender_name", "sender_id"):
        if not isinstance(request.get(key), str):
            raise NatsBridgeError(ERROR_NOT_ENVELOPE, f"smartreply: the request has no `{key}`; pass the request's "
                                  "envelope (received.envelope)")
    send_options.setdefault("receiver_name", request["sender_name"])
    send_options.setdefault("receiver_id", request["sender_id"])
    return await smartsend(
        request["reply_to"], payloads, connection=nc, correlation_id=request["correlation_id"],
        reply_to_msg_id=request["msg_id"], **send_options,
    )
