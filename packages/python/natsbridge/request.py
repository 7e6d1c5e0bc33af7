"""Request/reply on top of smartsend and smartreceive: a request carries a fresh inbox in
``reply_to``; the reply keeps the request's correlation id and names the request's
``msg_id`` in ``reply_to_msg_id``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import nats.errors

from natsbridge_types import MsgEnvelopeV1

from .errors import NatsBridgeError
from .receive import ReceiveOptions, Received, smartreceive
from .send import PayloadInput, Sent, smartsend
from .transport import Client
from .wire import checked_uuid

__all__ = ["smartreply", "smartrequest"]


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
    are :func:`smartsend`'s keyword arguments."""
    cid = checked_uuid(send_options.pop("correlation_id", None), "correlation_id")
    inbox = nc.new_inbox()
    try:
        sub = await nc.subscribe(inbox, max_msgs=1)
    except Exception as e:
        raise NatsBridgeError("NATS_CONNECTION_FAILED", "subscribing to the reply inbox", correlation_id=cid) from e
    try:
        await smartsend(subject, payloads, connection=nc, reply_to=inbox, correlation_id=cid, flush=False,
                        **send_options)
        try:
            msg = await sub.next_msg(timeout=timeout)
        except nats.errors.TimeoutError as e:
            raise NatsBridgeError("TIMEOUT", f"no reply on `{subject}` within {timeout} s", correlation_id=cid) from e
        except Exception as e:
            raise NatsBridgeError("NATS_CONNECTION_FAILED", "reply subscription closed", correlation_id=cid) from e
    finally:
        try:
            await sub.unsubscribe()
        except Exception:  # already gone after max_msgs, or the connection closed
            pass
    return await smartreceive(msg, receive_options)


async def smartreply(
    nc: Client,
    request: MsgEnvelopeV1,
    payloads: Iterable[PayloadInput],
    **send_options: Any,
) -> Sent:
    """Answers ``request`` on its ``reply_to`` with the same correlation id and
    ``reply_to_msg_id`` = the request's ``msg_id``."""
    if not request.get("reply_to"):
        raise NatsBridgeError("INVALID_ENVELOPE", "the request has no `reply_to`",
                              correlation_id=request.get("correlation_id"))
    send_options.setdefault("receiver_name", request["sender_name"])
    send_options.setdefault("receiver_id", request["sender_id"])
    return await smartsend(
        request["reply_to"], payloads, connection=nc, correlation_id=request["correlation_id"],
        reply_to_msg_id=request["msg_id"], **send_options,
    )
