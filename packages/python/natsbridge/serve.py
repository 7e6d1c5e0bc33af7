"""``serve``: a responder loop. Each request on a subject is decoded and handed to an async
handler, in a task of its own (requests are handled concurrently); what the handler returns
is sent back with :func:`natsbridge.smartreply`, and whatever it raises is answered with an
``error_response_v1`` (:func:`natsbridge.error_response`), so a requester never waits out its
timeout:

- an :class:`~natsbridge.ApplicationError` as ``APPLICATION_ERROR`` with its application code;
- any other :class:`~natsbridge.NatsBridgeError` with its code;
- anything else as ``HANDLER_FAILED`` (``the handler raised KeyError: 'x'``), its stack logged
  here (warning, with the correlation id), never sent.

A request that does not decode is answered with its error when its bytes are a v1 envelope
naming a ``reply_to`` (its payloads are what failed), else logged with the correlation id of
its header and skipped: the loop never dies on bad input (schema/README.md, rule 16).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import fields
from types import TracebackType
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from natsbridge_types import validate_msg_envelope_v1
from natsbridge_types.profile import ERROR_HANDLER, ERROR_WRITER_RULE, HEADER_CORRELATION_ID

from . import _log, strict_json
from .errors import NatsBridgeError
from .options import checked, shown
from .receive import ReceiveOptions, Received, smartreceive
from .request import smartreply, smartreply_error
from .send import PayloadInput, SendOptions
from .transport import Client, subscriptions_registered

__all__ = ["Handler", "Server", "serve"]

Handler = Callable[[Received], Awaitable[Sequence[PayloadInput] | None]]
"""A request handler: the decoded request → the payloads to answer with, or ``None`` (no
reply: the handler answered itself, or nobody waits)."""

_NOT_FORWARDED = frozenset({"connection", "reply_to_msg_id", "jetstream"})


class Server:
    """A running :func:`serve` loop. ``await server.stop()`` (or leaving ``async with``)
    unsubscribes after the requests already received, and waits for their handlers."""

    def __init__(self, nc: Client, subject: str, queue: str | None, handler: Handler,
                 send: SendOptions, receive: ReceiveOptions | None) -> None:
        self.subject = subject
        self.queue = queue
        self._nc = nc
        self._handler = handler
        self._receive = receive
        self._reply_options = {f.name: getattr(send, f.name) for f in fields(send)
                               if f.name not in _NOT_FORWARDED
                               and not (f.name in ("receiver_name", "receiver_id") and not getattr(send, f.name))}
        self._sub: NatsSubscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._stopping = False

    async def _start(self) -> None:
        try:
            self._sub = await self._nc.subscribe(self.subject, queue=self.queue or "", cb=self._on_message)
        except Exception as e:
            raise NatsBridgeError("NATS_CONNECTION_FAILED", f"serve: subscribing to `{self.subject}` failed: "
                                  f"{type(e).__name__}: {e}. Check the subject and the connection") from e
        await subscriptions_registered(self._nc)

    async def _on_message(self, msg: Msg) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: Msg) -> None:
        try:
            request = await smartreceive(msg, self._receive)
        except NatsBridgeError as e:
            await self._undecodable(msg, e)
            return
        except Exception as e:  # a bug in this package: logged, the loop goes on
            _log.warning(f"a request on `{self.subject}` could not be read", None, "serve", exc_info=e)
            return
        cid = request.correlation_id
        try:
            result = self._handler(request)
            answer = await result if inspect.isawaitable(result) else result
        except asyncio.CancelledError:
            raise
        except Exception as e:
            code = e.code if isinstance(e, NatsBridgeError) else ERROR_HANDLER
            what = e.report() if isinstance(e, NatsBridgeError) else f"{type(e).__name__}: {e}"
            _log.warning(f"the handler failed on a request on `{self.subject}`: {what}; answered with {code}", cid,
                         "serve", exc_info=e)
            await self._answer_error(request.envelope, e)
            return
        if answer is None:
            return
        if not isinstance(answer, (list, tuple)):
            error = NatsBridgeError(ERROR_HANDLER, f"the handler returned {shown(answer)}, not a list of "
                                    "(dataname, data, payload_type) or None", correlation_id=cid)
            _log.warning(f"{error.message}; answered with {ERROR_HANDLER}", cid, "serve")
            await self._answer_error(request.envelope, error)
            return
        if not request.envelope.get("reply_to"):
            _log.warning(f"a message on `{self.subject}` has no reply_to; the handler's answer is dropped", cid, "serve")
            return
        try:
            await smartreply(self._nc, request.envelope, answer, **self._reply_options)
        except NatsBridgeError as e:
            _log.warning(f"the answer to a request on `{self.subject}` could not be sent: {e.report()}", cid, "serve")
            await self._answer_error(request.envelope, e)

    async def _undecodable(self, msg: Msg, error: NatsBridgeError) -> None:
        """A request that does not decode: answered with its error when it names where to, else logged."""
        envelope = _answerable(msg)
        if envelope is None:
            cid = error.correlation_id or (msg.headers or {}).get(HEADER_CORRELATION_ID)
            _log.warning(f"a message on `{self.subject}` does not decode and names no reply_to; skipped: "
                         f"{error.report()}", cid, "serve")
            return
        _log.warning(f"a request on `{self.subject}` does not decode; answered with its error: {error.report()}",
                     envelope["correlation_id"], "serve")
        await self._answer_error(envelope, error)

    async def _answer_error(self, envelope: Mapping[str, Any], error: BaseException) -> None:
        """Answers with ``error``; when that cannot be written (a detail that is not JSON), with
        ``HANDLER_FAILED`` saying so. Never raises."""
        cid = envelope.get("correlation_id")
        try:
            try:
                await smartreply_error(self._nc, envelope, error)
            except NatsBridgeError as e:
                if e.code != ERROR_WRITER_RULE:
                    raise
                fallback = NatsBridgeError(ERROR_HANDLER, f"the handler's error could not be sent: {e.message}")
                await smartreply_error(self._nc, envelope, fallback)
        except NatsBridgeError as e:
            _log.warning(f"answering a request on `{self.subject}` with its error failed: {e.report()}",
                         cid if isinstance(cid, str) else None, "serve")

    async def stop(self) -> None:
        """Stops taking requests (those already received are still handled) and returns once
        every handler has finished and its answer is sent."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        try:
            if self._sub is not None:
                try:
                    await self._sub.drain()  # type: ignore[no-untyped-call]
                except Exception:  # the connection is closed: nothing more arrives
                    pass
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            try:
                await self._nc.flush(timeout=5)
            except Exception:  # the connection is closed
                pass
        finally:
            self._stopped.set()

    async def wait_closed(self) -> None:
        """Returns once :meth:`stop` has finished."""
        await self._stopped.wait()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def _answerable(msg: Msg) -> dict[str, Any] | None:
    """The request's envelope when its bytes are a v1 envelope (the reader schema: its payloads
    are what failed) naming a ``reply_to``; else ``None``. The same rule in every runtime."""
    try:
        value = strict_json.loads(msg.data)
    except (strict_json.StrictJsonError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    if validate_msg_envelope_v1(value, reader=True) or not value.get("reply_to"):
        return None
    return value


@checked("serve")
async def serve(
    nc: Client,
    subject: str,
    handler: Callable[..., Any],
    *,
    queue: str | None = None,
    send: SendOptions | None = None,
    receive: ReceiveOptions | None = None,
) -> Server:
    """Answers the requests on ``subject`` (in the queue group ``queue`` when given, so that
    several responders share them) with ``handler``: ``async def handler(request: Received)
    -> list[(dataname, data, payload_type)] | None``. A returned list is sent with
    :func:`smartreply` (``send``: its options, e.g. ``msg_purpose``); ``None`` sends nothing.
    Whatever the handler raises is answered with an ``error_response_v1`` (see the module) and
    logged. ``receive``: what requests may carry (allowed hosts, limits). Returns once the
    server has registered the subscription; use the :class:`Server` as an async context
    manager, or ``await server.stop()``."""
    server = Server(nc, subject, queue, handler, send or SendOptions(), receive)
    await server._start()
    return server
