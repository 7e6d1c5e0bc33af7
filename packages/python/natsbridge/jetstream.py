"""JetStream: streams with limits retention, acknowledged and de-duplicated publishing
(``Nats-Msg-Id`` = ``msg_id``), and a pull consumer that hands decoded envelopes to the
application with backpressure and can replay from a start time.

- :func:`ensure_stream` creates or updates a stream.
- Every call takes the connection (a nats-py ``Client``, as TypeScript's take theirs) or, as
  before, its JetStream context (``nc.jetstream()``).
- :func:`publish_to_stream` is ``smartsend`` through JetStream: waits for the ack, gives link
  uploads a TTL of at least the stream's ``max_age`` plus an hour, never one-shot.
- :class:`EnvelopeConsumer` pulls bounded batches (the profile's ``CONSUMER_*`` defaults,
  schema/README.md rule 18; the next pull goes out while the application works on the
  current one), decodes each envelope, and only then hands it over; the application acks it
  (:meth:`Delivered.ack`: at least once, no round trip; :meth:`Delivered.ack_confirmed`
  waits for the server). Envelopes that can never decode are terminated and raised;
  transient download failures are nak'ed for redelivery, up to ``max_deliver`` deliveries.
  With a ``limit`` it hands over at most that many and never
  pulls more than are still to be handed over (a durable consumer's next run starts right
  after the last one handed over). ``start`` is where it begins: :func:`natsbridge.parse_start`'s
  grammar (``all``, ``new``, ``"5m"``, ``"2026-12-06T09:00:00Z"``, a sequence, an aware
  ``datetime``, a ``timedelta``). It is an async iterator (``async for d in consumer``) and an
  async context manager (``async with EnvelopeConsumer(...) as consumer``).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import math
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, NamedTuple

import nats.js
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

from natsbridge_types import MsgEnvelopeV1
from natsbridge_types.profile import (
    CONSUMER_ACK_WAIT_SECONDS,
    CONSUMER_BATCH,
    CONSUMER_MAX_ACK_PENDING,
    CONSUMER_MAX_BYTES,
    CONSUMER_MAX_DELIVER,
    CONSUMER_NAK_DELAY_MS,
    ERROR_BAD_OPTION,
    ERROR_DEADLINE,
    ERROR_DOWNLOAD,
    LINK_TTL_SLACK_SECONDS,
)

from . import _log
from .errors import NatsBridgeError
from .options import Count, PositiveCount, PositiveSeconds, Seconds, checked
from .receive import ReceiveOptions, Received, smartreceive
from .send import SEND_OPTION_NAMES, PayloadInput, SendOptions, send_with
from .start import SEQUENCE, START_ALL, START_NEW, TIME, StartValue, parse_start
from .transport import Client
from .wire import checked_uuid, new_uuid

__all__ = ["Delivered", "EnvelopeConsumer", "JetStream", "LINK_TTL_SLACK", "StreamSent", "ensure_stream",
           "publish_to_stream"]

JetStream = Client | nats.js.JetStreamContext
"""What the JetStream calls take: the connection, or its JetStream context."""


def jetstream_of(connection: JetStream) -> nats.js.JetStreamContext:
    """The JetStream context of ``connection``."""
    return connection.jetstream() if isinstance(connection, Client) else connection

LINK_TTL_SLACK = float(LINK_TTL_SLACK_SECONDS)
"""Extra lifetime (seconds) given to link uploads beyond the stream's ``max_age`` (the
profile's ``LINK_TTL_SLACK_SECONDS``)."""

_STREAM_SEND_OPTIONS = SEND_OPTION_NAMES - {"jetstream", "publish", "one_shot"}


class StreamSent(NamedTuple):
    """What :func:`publish_to_stream` sent, and its place in the stream."""

    envelope: MsgEnvelopeV1
    json: str
    stream_sequence: int

    @property
    def correlation_id(self) -> str:
        return self.envelope["correlation_id"]

    @property
    def msg_id(self) -> str:
        return self.envelope["msg_id"]


@checked("ensure_stream")
async def ensure_stream(
    nc: JetStream,
    name: str,
    subjects: list[str],
    max_age: Seconds,
    *,
    max_bytes: Count | None = None,
    duplicate_window: Seconds = 120.0,
    memory: bool = False,
    replicas: PositiveCount = 1,
) -> api.StreamInfo:
    """Creates the stream (limits retention, ``max_age`` seconds, ``0`` for no age limit), or
    updates it. The de-duplication window is at most ``max_age`` (the server's rule).
    ``replicas``: copies kept on distinct servers of a cluster (3 survives the loss of any one).
    ``nc``: the connection (or its JetStream context)."""
    js = jetstream_of(nc)
    config = api.StreamConfig(
        name=name, subjects=subjects, retention=api.RetentionPolicy.LIMITS, max_age=max_age,
        max_bytes=max_bytes if max_bytes is not None else -1,
        duplicate_window=duplicate_window if max_age <= 0 else min(duplicate_window, max(max_age, 1.0)),
        storage=api.StorageType.MEMORY if memory else api.StorageType.FILE, num_replicas=replicas,
    )
    try:
        try:
            return await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            return await js.update_stream(config)
    except Exception as e:
        raise NatsBridgeError("NATS_CONNECTION_FAILED", f"creating the stream `{name}` failed: {type(e).__name__}: "
                              f"{str(e)[:200]}. Check that the server runs JetStream (nats-server -js) and that the "
                              "subjects are not captured by another stream") from e


def link_ttl_for(asked: float | None, max_age: float) -> float:
    """The lifetime links in a stream keeping messages ``max_age`` seconds need: ``math.inf``
    when it keeps them for ever (a store that cannot keep links that long fails the publish)."""
    needed = max_age + LINK_TTL_SLACK if max_age > 0 else math.inf
    return needed if asked is None else max(asked, needed)


@checked("publish_to_stream", forwards=_STREAM_SEND_OPTIONS, forwards_from=SendOptions)
async def publish_to_stream(
    nc: JetStream,
    subject: str,
    payloads: Iterable[PayloadInput],
    **send_options: Any,
) -> StreamSent:
    """Publishes an envelope into the stream that captures ``subject`` and waits for the ack.
    ``send_options`` are :func:`smartsend`'s keyword arguments (``msg_id`` to retry without
    duplicating; ``link_ttl`` is raised to the stream's ``max_age`` plus an hour; not
    ``jetstream``, ``publish`` or ``one_shot``). ``nc``: the connection (or its JetStream
    context)."""
    js = jetstream_of(nc)
    cid = checked_uuid(send_options.pop("correlation_id", None), "correlation_id")
    try:
        name = await js.find_stream_name_by_subject(subject)
        info = await js.stream_info(name)
    except Exception as e:
        raise NatsBridgeError("PUBLISH_FAILED", f"publishing to `{subject}` through JetStream: no stream captures it "
                              f"({type(e).__name__}). Create one first: ensure_stream(nc, NAME, [\"{subject}\"], "
                              "max_age=...)", correlation_id=cid) from e
    max_age = float(info.config.max_age or 0)
    options = SendOptions(**send_options)  # the values' types checked
    options = replace(options, link_ttl=link_ttl_for(options.link_ttl, max_age), one_shot=False, publish=True,
                      jetstream=js)
    seq: list[int] = []
    try:
        sent = await send_with(subject, list(payloads), cid, options, seq)
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)
    return StreamSent(sent.envelope, sent.json, seq[0])


@dataclass
class Delivered:
    """An envelope handed to the application, decoded; :meth:`ack` it when done.

    The guarantee is at least once (schema/README.md rule 18): a message not acknowledged
    within the consumer's ``ack_wait`` is delivered again, never lost; the consumer that
    handed it over does not hand a redelivery of it over a second time (it acks the
    redelivery itself)."""

    received: Received
    stream_sequence: int
    published: datetime.datetime
    message: Msg

    async def ack(self) -> None:
        """Acknowledges the message: the ack is sent and the call returns without waiting for
        the server (what NATS clients do). An ack lost on the way (the connection cut, the
        process killed before the ack left) means the message is delivered again after
        ``ack_wait``, never that it is lost. Before a process exits, flush or close its
        connection (or use :meth:`ack_confirmed` on the last message) so the last acks leave.
        ``NATS_CONNECTION_FAILED`` (with the correlation id) when it cannot be sent."""
        try:
            await self.message.ack()
        except Exception as e:
            raise NatsBridgeError("NATS_CONNECTION_FAILED", "ack failed",
                                  correlation_id=self.received.correlation_id) from e

    async def ack_confirmed(self) -> None:
        """Acknowledges the message and waits for the server to confirm it recorded the ack
        (JetStream's double ack, one round trip): when this returns, a consumer restarted
        from its durable name does not see the message again. ``NATS_CONNECTION_FAILED``
        (with the correlation id) when the server does not confirm."""
        try:
            await self.message.ack_sync()
        except Exception as e:
            raise NatsBridgeError("NATS_CONNECTION_FAILED", "ack failed: the server did not confirm it",
                                  correlation_id=self.received.correlation_id) from e


_REMEMBERED = 1 << 20
"""Stream sequences of handed-over messages remembered, so that a redelivery of one is not
handed over again."""
_LOST_PULL_GRACE = 2.0
"""Seconds past a pull request's expiry after which it is taken for lost (its expiry status
never came: a reconnect, a server restart) and pulled again."""
_NO_RESPONDERS_BACKOFF = 0.25
"""Seconds to wait before pulling again after a pull request found no responder (503): on a
cluster a consumer just made, or one whose leader moves, has none for a moment."""
_NO_RESPONDERS_GRACE = 15.0
"""Seconds of nothing but 503s after which the consumer is taken for gone (deleted) and
``next`` fails."""
_STATUS = "Status"
_DESCRIPTION = "Description"
_PENDING_MESSAGES = "Nats-Pending-Messages"


class EnvelopeConsumer:
    """A pull consumer of envelopes on ``stream``, with backpressure. Its defaults are the
    profile's ``CONSUMER_*`` (schema/README.md rule 18, the same in every runtime): pull
    requests of at most ``max_messages`` (``CONSUMER_BATCH``) and ``max_bytes``
    (``CONSUMER_MAX_BYTES``), the next one going out while the application works on the
    current one (when half of it is handed over), so replay does not wait a round trip per
    batch; at most ``max_ack_pending`` (``CONSUMER_MAX_ACK_PENDING``) handed over but not
    acknowledged; redelivery after ``ack_wait`` (``CONSUMER_ACK_WAIT_SECONDS``); a link that
    cannot be downloaded yet nak'ed for ``nak_delay`` (``CONSUMER_NAK_DELAY_MS``), and given
    up after ``max_deliver`` deliveries (``CONSUMER_MAX_DELIVER``; 0: never): terminated on
    the server and raised. Each pull request lives ``pull_expires`` seconds.

    A message is decoded before it is handed over and acknowledged only by the application
    (:meth:`Delivered.ack`, :meth:`Delivered.ack_confirmed`): at least once. A redelivery of
    a message this consumer already handed over is acknowledged, not handed over again.

    ``limit``: hand over at most this many envelopes (decode failures included); pull
    requests then never ask the server for more than are still to be handed over, so
    nothing is left pulled but unacknowledged: a durable consumer's next run starts right
    after the last one handed over instead of waiting out ``ack_wait``. Past it,
    :meth:`next` raises ``INVALID_ARGUMENT`` (the profile's ``ERROR_BAD_OPTION``) and
    pulls nothing. ``None``: no end.

    ``start`` (default ``all``): where the replay begins, :func:`natsbridge.parse_start`'s
    forms: ``all``, ``new``, a sequence (``42`` or ``"42"``), a duration back from now
    (``"5m"``, ``"1h30m"``, a ``timedelta``), a time (``"2026-12-06T09:00:00Z"``, an aware
    ``datetime``; a naive one is refused). A start outside them is ``INVALID_ARGUMENT`` here,
    before anything is asked of the server.

    ``async for delivered in consumer`` yields each :class:`Delivered` (ack it) and, for an
    envelope that can never decode (terminated on the server), its :class:`NatsBridgeError`;
    it waits for new envelopes for ever, ends at the ``limit``, and raises only when the
    connection fails. ``async with`` opens the consumer and closes it on exit."""

    @checked("EnvelopeConsumer")
    def __init__(
        self,
        js: JetStream,
        stream: str,
        *,
        start: StartValue = START_ALL,
        durable_name: str | None = None,
        filter_subject: str | None = None,
        max_messages: PositiveCount = CONSUMER_BATCH,
        max_bytes: PositiveCount = CONSUMER_MAX_BYTES,
        ack_wait: PositiveSeconds = float(CONSUMER_ACK_WAIT_SECONDS),
        max_ack_pending: PositiveCount = CONSUMER_MAX_ACK_PENDING,
        nak_delay: Seconds = CONSUMER_NAK_DELAY_MS / 1000,
        max_deliver: Count = CONSUMER_MAX_DELIVER,
        pull_expires: PositiveSeconds = 5.0,
        receive_options: ReceiveOptions | None = None,
        limit: Count | None = None,
    ) -> None:
        try:
            self._start = parse_start(start)
        except NatsBridgeError as e:
            raise NatsBridgeError(ERROR_BAD_OPTION, f"EnvelopeConsumer: option `start`: {e.message}") from None
        self._js = jetstream_of(js)
        self.stream = stream
        self._durable = durable_name
        self._filter = filter_subject
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._ack_wait = ack_wait
        self._max_ack_pending = max_ack_pending
        self._nak_delay = nak_delay
        self._max_deliver = max_deliver
        self._expires = pull_expires
        self._receive = receive_options
        self._limit = limit
        self._returned = 0
        self._sub: Subscription | None = None
        self._consumer: str | None = None
        self._ephemeral: str | None = None
        self._pending: deque[Msg] = deque()
        """Messages delivered by the server, not yet handed over."""
        self._asked = 0
        """Messages the pull requests in flight may still bring."""
        self._asked_until = 0.0
        """When the last pull request in flight expires (event-loop time)."""
        self._pull_after = 0.0
        """No pull before this (event-loop time): backing off after a 503."""
        self._unanswered_since: float | None = None
        """Since when every pull request has found no responder (event-loop time)."""
        self._arrived = asyncio.Event()
        self._failure: NatsBridgeError | None = None
        self._handed: set[int] = set()
        self._handed_order: deque[int] = deque()

    def _config(self) -> api.ConsumerConfig:
        name = self._durable or f"natsbridge-{new_uuid()}"
        config = api.ConsumerConfig(
            name=name, durable_name=self._durable, ack_policy=api.AckPolicy.EXPLICIT, ack_wait=self._ack_wait,
            max_ack_pending=self._max_ack_pending, filter_subject=self._filter,
            max_deliver=self._max_deliver if self._max_deliver > 0 else -1,
            inactive_threshold=None if self._durable else 600.0,
        )
        start = self._start
        if start.kind == TIME:
            config.deliver_policy = api.DeliverPolicy.BY_START_TIME
            config.opt_start_time = start.time
        elif start.kind == SEQUENCE:
            config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = start.sequence
        elif start.kind == START_NEW:
            config.deliver_policy = api.DeliverPolicy.NEW
        else:
            config.deliver_policy = api.DeliverPolicy.ALL
        return config

    async def open(self) -> None:
        """Creates the consumer on the server now (``next`` otherwise does it on first use),
        so that a caller can tell it is ready; ``NATS_CONNECTION_FAILED`` when the stream
        does not exist or the server refuses."""
        await self._open()

    async def _open(self) -> Subscription:
        if self._sub is None:
            config = self._config()
            try:
                if self._durable is not None:
                    try:
                        await self._js.consumer_info(self.stream, self._durable)
                    except nats.js.errors.NotFoundError:
                        await self._js.add_consumer(self.stream, config)
                    self._consumer = self._durable
                else:
                    await self._js.add_consumer(self.stream, config)
                    self._ephemeral = self._consumer = config.name
                nc: Client = self._js._nc
                self._sub = await nc.subscribe(nc.new_inbox(), cb=self._arrive)
            except Exception as e:
                raise NatsBridgeError("NATS_CONNECTION_FAILED", f"creating a consumer on the stream `{self.stream}` "
                                      f"failed: {type(e).__name__}: {str(e)[:200]}. Check that the stream exists "
                                      "(ensure_stream) and the server runs JetStream") from e
        return self._sub

    async def _arrive(self, msg: Msg) -> None:
        """A message on the pull requests' inbox: an envelope, or the status of a request."""
        status = msg.headers.get(_STATUS) if msg.headers else None
        if status is None:
            self._pending.append(msg)
            self._asked = max(self._asked - 1, 0)
            self._unanswered_since = None
        elif status == "100":  # an idle heartbeat or flow control: nothing to count
            return
        elif status == "503":
            # No responder for the request (the consumer's leader not there yet, or moving):
            # nothing was asked; pull again shortly, unless it has lasted too long.
            now = asyncio.get_running_loop().time()
            self._asked = 0
            self._pull_after = now + _NO_RESPONDERS_BACKOFF
            if self._unanswered_since is None:
                self._unanswered_since = now
            elif now - self._unanswered_since > _NO_RESPONDERS_GRACE:
                self._failure = NatsBridgeError(
                    "NATS_CONNECTION_FAILED", f"pull requests on the stream `{self.stream}` found no responder for "
                    f"{_NO_RESPONDERS_GRACE:g} s (503): the consumer `{self._consumer}` is gone or has no leader")
        else:
            description = msg.headers.get(_DESCRIPTION, "") if msg.headers else ""
            left = msg.headers.get(_PENDING_MESSAGES) if msg.headers else None
            if status in ("404", "408") or (status == "409" and left is not None):
                # The request ended (expired, or complete): what it did not bring is no longer asked.
                self._asked = max(self._asked - int(left), 0) if left is not None and left.isdigit() else 0
            elif status == "409" and description in ("Exceeded MaxWaiting", "Leadership Change"):
                self._asked = 0  # dropped by the server: pulled again
            else:
                self._failure = NatsBridgeError(
                    "NATS_CONNECTION_FAILED", f"a pull request on the stream `{self.stream}` failed: {status} "
                    f"{description[:200]}. Check the consumer and the connection")
        self._arrived.set()

    async def _pull(self, sub: Subscription) -> None:
        """Asks for more when what is pulled but not handed over (buffered or in flight) is
        half a batch or less: at most ``max_messages`` in all, and with a ``limit`` no more
        than are still to be handed over."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._pull_after:
            return
        if self._asked and loop.time() > self._asked_until + _LOST_PULL_GRACE:
            self._asked = 0  # its expiry never came: the request is lost
        held = len(self._pending) + self._asked
        if held > self._max_messages // 2:
            return
        want = self._max_messages - held
        if self._limit is not None:
            want = min(want, self._limit - self._returned - held)
        if want <= 0:
            return
        request = {"batch": want, "max_bytes": self._max_bytes, "expires": int(self._expires * 1e9)}
        try:
            await self._js._nc.publish(f"{self._js._prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self._consumer}",
                                       json.dumps(request).encode(), reply=sub.subject)
        except Exception as e:
            raise NatsBridgeError("NATS_CONNECTION_FAILED", f"a pull request on the stream `{self.stream}` "
                                  f"failed: {type(e).__name__}. Check the connection") from e
        self._asked += want
        self._asked_until = loop.time() + self._expires

    def _remember(self, seq: int) -> None:
        if seq not in self._handed:
            self._handed.add(seq)
            self._handed_order.append(seq)
            if len(self._handed_order) > _REMEMBERED:
                self._handed.discard(self._handed_order.popleft())

    @checked("EnvelopeConsumer.next")
    async def next(self, timeout: Seconds | None = None) -> Delivered:
        """The next decoded envelope. Waits while the stream has nothing new (up to
        ``timeout`` seconds, then ``TIMEOUT``). An envelope that can never decode is
        terminated on the server and raised; the next call goes on with the next one.
        Past the ``limit``, ``INVALID_ARGUMENT`` (nothing more is pulled)."""
        if self._limit is not None and self._returned >= self._limit:
            raise NatsBridgeError(ERROR_BAD_OPTION, f"EnvelopeConsumer.next: the consumer's limit of {self._returned} "
                                  "envelopes is reached; make a new consumer (a durable one goes on where this stopped)")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        sub = await self._open()
        while True:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            await self._pull(sub)  # before the work on this one: the next batch comes meanwhile
            if not self._pending:
                wait = self._expires if deadline is None else min(self._expires, deadline - loop.time())
                if self._pull_after > loop.time():  # backing off: pull again when it ends
                    wait = min(wait, self._pull_after - loop.time())
                if wait <= 0:
                    raise NatsBridgeError(ERROR_DEADLINE, f"waiting for an envelope on the stream `{self.stream}`: "
                                          f"none came within {timeout:g} s")
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), max(wait, 0.01))
                except TimeoutError:
                    pass
                continue
            msg = self._pending.popleft()
            meta = msg.metadata
            seq = meta.sequence.stream
            if seq in self._handed:  # a redelivery of one already handed over (its ack did not land)
                _log.debug("already handed over; acking the redelivery", None, "receive", seq=seq)
                try:
                    await msg.ack()
                except Exception:  # the connection failed: the next pull says so
                    pass
                continue
            try:
                received = await smartreceive(msg, self._receive)
            except NatsBridgeError as e:
                last = self._max_deliver > 0 and meta.num_delivered >= self._max_deliver
                if e.code in (ERROR_DOWNLOAD, ERROR_DEADLINE) and not last:
                    _log.warning("envelope not available yet; will be redelivered", e.correlation_id, "receive",
                                 seq=seq, error=e.report())
                    await msg.nak(delay=self._nak_delay)
                    continue
                self._returned += 1  # handed over as its error
                self._remember(seq)
                await msg.term()
                raise
            self._returned += 1
            self._remember(seq)
            return Delivered(received, seq, meta.timestamp, msg)

    async def close(self) -> None:
        """Unsubscribes, and deletes the consumer unless it is durable (the server would
        otherwise remove it only after 10 minutes without a pull). Envelopes pulled but not
        handed over are delivered again after ``ack_wait``."""
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # the connection may already be closed
                pass
            self._sub = None
        if self._ephemeral is not None:
            try:
                await self._js.delete_consumer(self.stream, self._ephemeral)
            except Exception:  # the connection may be closed: the inactivity threshold removes it
                pass
            self._ephemeral = None
        self._pending.clear()
        self._asked = 0

    def __aiter__(self) -> AsyncIterator[Delivered | NatsBridgeError]:
        return self

    async def __anext__(self) -> Delivered | NatsBridgeError:
        if self._limit is not None and self._returned >= self._limit:
            raise StopAsyncIteration
        try:
            return await self.next()
        except NatsBridgeError as e:
            if e.code == "NATS_CONNECTION_FAILED":
                raise
            return e

    async def __aenter__(self) -> EnvelopeConsumer:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
