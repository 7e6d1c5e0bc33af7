"""``receive`` and ``reply``: subscribe (or replay a JetStream stream from a time, or go on with
a durable consumer), decode each envelope, print its digest line (an error line for a bad
one, and go on), and what the output flags ask for; ``reply`` also answers each request,
with payloads or an ``error_response_v1``."""

from __future__ import annotations

import argparse
from typing import Any, cast

from natsbridge_types import ERROR_CODE_VALUES, ErrorCode
from natsbridge_types.profile import (
    DEFAULT_FILESERVER_URL,
    ERROR_APPLICATION,
    ERROR_DEADLINE,
    ENV_FILESERVER_URL,
    START_ALL,
)

from .. import digest
from ..errors import NatsBridgeError
from ..jetstream import EnvelopeConsumer
from ..receive import ReceiveOptions, Received, smartreceive
from ..request import smartreply, smartreply_error
from ..transport import Client, open_connection, subscriptions_registered
from . import output
from .connection import add_connect_flags, add_fileserver_token_flag
from .common import Deadline, UsageError, out, since, stream_name, subscribed
from .source import parse_payload

__all__ = ["add_receive_flags", "add_reply_flags", "check_receive_flags", "receive", "reply"]

FAIL_MESSAGE = "the responder was told to fail"
"""The message of ``reply --fail CODE`` without one (as the Rust CLI's)."""


def _add_listen_flags(p: argparse.ArgumentParser) -> None:
    """Where and how long to listen."""
    add_connect_flags(p)
    p.add_argument("--subject", required=True)
    p.add_argument("--count", type=int, help="stop after this many envelopes (good or bad)")
    p.add_argument("--timeout", type=float, help="give up after this many seconds; exits 1 if fewer than --count arrived")
    output.add_output_flags(p)


def add_receive_flags(p: argparse.ArgumentParser) -> None:
    _add_listen_flags(p)
    p.add_argument("--stream", type=stream_name, metavar="NAME",
                   help="replay this JetStream stream through a pull consumer (filtered on the subject) instead of "
                        "subscribing: from its start, or from --since")
    p.add_argument("--since", type=since, metavar="START",
                   help="with --stream: where the replay starts: all (the default), new, a stream sequence (42), a "
                        "duration back from now (90s, 10m, 1h30m) or an RFC 3339 time with its offset "
                        "(2026-11-30T08:00:00Z)")
    p.add_argument("--durable", metavar="NAME",
                   help="with --stream: a durable consumer of this name (a later run goes on where this one "
                        "stopped) instead of an ephemeral one")


def add_reply_flags(p: argparse.ArgumentParser) -> None:
    _add_listen_flags(p)
    p.add_argument("--payload", action="append", default=[], metavar="NAME:TYPE:SOURCE",
                   help="answer with these payloads (repeatable); without any, echo each request's payloads")
    p.add_argument("--fail", metavar="CODE[:MESSAGE]",
                   help="answer every request with an error_response_v1 of this code instead (CODE or CODE:message, "
                        "e.g. TIMEOUT:the simulation is busy)")
    p.add_argument("--queue", metavar="GROUP", help="share the requests with other responders of this queue group")
    p.add_argument("--fileserver", metavar="URL",
                   help=f"Plik-compatible file server for link payloads in the answers (default: ${ENV_FILESERVER_URL}, "
                        f"else {DEFAULT_FILESERVER_URL})")
    add_fileserver_token_flag(p)


def check_receive_flags(a: argparse.Namespace) -> str | None:
    """What is wrong with ``receive``'s flags taken together, if anything."""
    if a.stream is None:
        for flag, value in (("--since", a.since), ("--durable", a.durable)):
            if value is not None:
                return f"{flag} needs --stream"
    return None


def _exit_status(count: int | None, seen: int) -> int:
    return 1 if count is not None and seen < count else 0


async def _next_msg(sub: Any, deadline: Deadline) -> Any | None:
    """The subscription's next message, ``None`` at the deadline or when it ends."""
    left = deadline.left()
    if left is not None and left <= 0:
        return None
    try:
        return await sub.next_msg(timeout=left)
    except Exception:  # nats.errors.TimeoutError at the deadline, or the connection closed
        return None


async def _received(msg: Any, options: ReceiveOptions) -> Received | None:
    """``msg`` decoded, or ``None`` after printing its error line: a hostile message costs
    one line, and the receiver goes on."""
    try:
        return await smartreceive(msg, options)
    except NatsBridgeError as e:
        out(digest.of_error(e))
    except Exception as e:  # a bug in this package: reported on the message's line, not fatal
        out(digest.of_unexpected(e))
    return None


async def receive(a: argparse.Namespace) -> int:
    """``receive``: subscribes (or replays ``--stream``) and prints a line per envelope."""
    if a.stream is not None:
        return await _receive_stream(a)
    nc = await open_connection(a.connect_settings)
    try:
        sub = await nc.subscribe(a.subject)
        await subscriptions_registered(nc)
        options = output.receive_options(a)
        subscribed()
        deadline = Deadline(a.timeout)
        seen = 0
        while a.count is None or seen < a.count:
            msg = await _next_msg(sub, deadline)
            if msg is None:
                break
            seen += 1
            received = await _received(msg, options)
            if received is not None:
                output.show(a, received, received.headers)
        return _exit_status(a.count, seen)
    finally:
        await nc.close()


async def _receive_stream(a: argparse.Namespace) -> int:
    """``receive --stream``: the stream's envelopes on ``--subject`` (from its start, from
    ``--since``, or where the ``--durable`` consumer stopped), acking each once its lines are
    printed. With ``--count`` the consumer pulls no more than are still to be printed, so a
    durable consumer's next run starts right after the last one printed."""
    nc = await open_connection(a.connect_settings)
    consumer = EnvelopeConsumer(nc, a.stream, start=a.since or START_ALL, durable_name=a.durable,
                                filter_subject=a.subject, receive_options=output.receive_options(a), limit=a.count)
    try:
        await consumer.open()
        subscribed(a.stream)
        deadline = Deadline(a.timeout)
        seen = 0
        while a.count is None or seen < a.count:
            if deadline.passed():
                break
            try:
                delivered = await consumer.next(timeout=deadline.left())
            except NatsBridgeError as e:
                if e.code == ERROR_DEADLINE:  # nothing more before the deadline
                    break
                if e.code == "NATS_CONNECTION_FAILED":
                    raise
                seen += 1  # an envelope that can never decode (the consumer terminated it)
                out(digest.of_error(e))
                continue
            seen += 1
            output.show(a, delivered.received, delivered.received.headers)
            await delivered.ack()
        return _exit_status(a.count, seen)
    finally:
        await consumer.close()
        await nc.close()


Failure = tuple[ErrorCode, str]
"""``reply --fail``: the code and message to answer every request with."""


def _failure(spec: str | None) -> Failure | None:
    """``--fail CODE[:MESSAGE]`` as the error to answer with."""
    if spec is None:
        return None
    code, sep, message = spec.partition(":")
    if code not in ERROR_CODE_VALUES:
        raise UsageError(f"--fail `{spec}`: the code is not one of {', '.join(ERROR_CODE_VALUES)}")
    if code == ERROR_APPLICATION:
        raise UsageError(f"--fail `{spec}`: {ERROR_APPLICATION} needs an application code, which this flag does not "
                         "take; answer with another code")
    return cast(ErrorCode, code), message if sep else FAIL_MESSAGE


async def _answer(nc: Client, a: argparse.Namespace, request: Received, fail: Failure | None,
                  answer: list[tuple[str, Any, str]]) -> None:
    """Answers ``request``: ``fail`` as an ``error_response_v1``, else ``answer`` (or the
    request's own payloads, echoed) as an ACK."""
    if fail is not None:
        error = NatsBridgeError(fail[0], fail[1], correlation_id=request.correlation_id)
        await smartreply_error(nc, request.envelope, error)
        return
    payloads = answer or request.tuples()
    await smartreply(nc, request.envelope, payloads, fileserver_url=a.fileserver,
                     fileserver_token=a.fileserver_token, sender_name="natsbridge reply", msg_purpose="ACK")


async def reply(a: argparse.Namespace) -> int:
    """``reply``: a responder for ``request`` (or any ``smartrequest``): prints each request's
    digest line and answers it."""
    fail = _failure(a.fail)
    answer = [parse_payload(spec).triple() for spec in a.payload]
    nc = await open_connection(a.connect_settings)
    try:
        sub = await (nc.subscribe(a.subject) if a.queue is None else nc.subscribe(a.subject, queue=a.queue))
        await subscriptions_registered(nc)
        subscribed()
        options = output.receive_options(a)
        deadline = Deadline(a.timeout)
        seen = 0
        while a.count is None or seen < a.count:
            msg = await _next_msg(sub, deadline)
            if msg is None:
                break
            seen += 1
            request = await _received(msg, options)
            if request is None:
                continue
            output.show(a, request, request.headers)
            try:
                await _answer(nc, a, request, fail, answer)
            except NatsBridgeError as e:
                out(digest.of_error(e))
        # Replies are not flushed one by one: the last ones must leave before exit.
        try:
            await nc.flush()
        except Exception as e:
            raise NatsBridgeError("PUBLISH_FAILED", "flushing the replies") from e
        return _exit_status(a.count, seen)
    finally:
        await nc.close()
