"""``python -m natsbridge send|receive``: the same contract as the Rust ``natsbridge send`` /
``natsbridge receive`` (flags, digest lines on stdout, ``{"subscribed": true}`` on stderr when
the receiver is ready), so any two implementations can be compared from a shell.

    python -m natsbridge send --server URL --subject S [--fileserver URL] [--threshold N]
        [--purpose P] [--correlation-id ID] [--header K=V]... [--stream NAME]
        --payload NAME:TYPE:SOURCE...
    python -m natsbridge receive --server URL --subject S [--count N] [--timeout SECS]
        [--allow-host HOST]... [--show-header NAME]... [--stream NAME [--since RFC3339_TIME]]

SOURCE is literal text or ``@PATH``. With ``--stream``, ``send`` publishes through JetStream
(creating stream NAME with subjects ``[--subject]``, file storage, no age limit, when it does
not exist), prints the digest line on stdout and ``{"stream": NAME, "stream_sequence": N}``
(the ack) on stderr; ``receive`` replays the stream through an ephemeral pull consumer
filtered on ``--subject``, from its start or from ``--since`` (readiness line
``{"subscribed": true, "stream": NAME}``). Exit status 2 for a usage error, 1 on failure (and
for ``receive`` when fewer than ``--count`` envelopes arrived before ``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import nats.js
import nats.js.errors
import pyarrow as pa
import pyarrow.ipc

from natsbridge_types.profile import (
    CLI_STREAM_MAX_AGE_SECONDS,
    DEFAULT_MSG_PURPOSE,
    DEFAULT_SIZE_THRESHOLD,
    ENV_SIZE_THRESHOLD,
    ERROR_DEADLINE,
)

from . import config, digest
from ._log import CorrelationFilter
from .errors import NatsBridgeError, report
from .jetstream import EnvelopeConsumer, ensure_stream, publish_to_stream
from .payload import BINARY_TYPES, decode_table
from .receive import ReceiveOptions, smartreceive
from .send import smartsend
from .transport import connect, subscriptions_registered


class UsageError(Exception):
    pass


def out(line: str) -> None:
    """Prints a JSON line on stdout with ASCII escapes: nothing a peer sent can make printing
    fail (a lone surrogate, a character the terminal's encoding lacks)."""
    print(digest.ascii_line(line), flush=True)


def parse_payload(spec: str) -> tuple[str, Any, str, int | None]:
    """``NAME:TYPE:SOURCE`` → ``(dataname, data, payload_type, rows)``."""
    parts = spec.split(":", 2)
    if len(parts) != 3:
        raise UsageError(f"--payload `{spec}` is not NAME:TYPE:SOURCE")
    name, kind, source = parts
    if source.startswith("@"):
        try:
            with open(source[1:], "rb") as f:
                raw = f.read()
        except OSError as e:
            raise UsageError(f"reading {source[1:]}: {e}") from e
    else:
        raw = source.encode("utf-8")

    def as_json() -> Any:
        try:
            return json.loads(raw)
        except ValueError as e:
            raise UsageError(f"{name}: not JSON: {e}") from e

    if kind == "text":
        try:
            return name, raw.decode("utf-8"), kind, None
        except UnicodeDecodeError as e:
            raise UsageError(f"{name}: text must be UTF-8") from e
    if kind == "dictionary":
        return name, as_json(), kind, None
    if kind == "jsontable":
        rows = as_json()
        return name, rows, kind, len(rows) if isinstance(rows, list) else None
    if kind == "arrowtable":
        try:
            if raw.startswith(b"ARROW1"):  # an IPC file: re-encoded as a stream
                table = pa.ipc.open_file(pa.py_buffer(raw)).read_all()
                return name, table, kind, table.num_rows
            return name, raw, kind, decode_table(raw).num_rows  # a stream: sent unchanged
        except (pa.ArrowException, NatsBridgeError) as e:
            raise UsageError(f"{name}: {e}") from e
    if kind in BINARY_TYPES:
        return name, raw, kind, None
    raise UsageError(f"{name}: unknown payload type `{kind}`")


async def send(a: argparse.Namespace) -> int:
    specs = [parse_payload(s) for s in a.payload]
    headers: dict[str, str] = {}
    for h in a.header:
        k, sep, v = h.partition("=")
        if not sep:
            raise UsageError(f"--header `{h}` is not K=V")
        headers[k] = v
    items = [(n, d, t) for n, d, t, _ in specs]
    threshold = config.size_threshold() if a.threshold is None else a.threshold
    nc = await connect(a.server)
    try:
        if a.stream is None:
            sent = await smartsend(
                a.subject, items, connection=nc, fileserver_url=a.fileserver, size_threshold=threshold,
                msg_purpose=a.purpose, correlation_id=a.correlation_id, headers=headers,
            )
            envelope = sent.envelope
        else:
            js = nc.jetstream()
            await stream_capturing(js, a.stream, a.subject)
            in_stream = await publish_to_stream(
                js, a.subject, items, fileserver_url=a.fileserver, size_threshold=threshold,
                msg_purpose=a.purpose, correlation_id=a.correlation_id, headers=headers,
            )
            envelope = in_stream.envelope
            ack = {"stream": a.stream, "stream_sequence": in_stream.stream_sequence}
            print(json.dumps(ack), file=sys.stderr, flush=True)
    finally:
        await nc.close()
    out(digest.of_sent(envelope, [r for *_, r in specs]))
    return 0


DEFAULT_STREAM_MAX_AGE = float(CLI_STREAM_MAX_AGE_SECONDS)
"""How long a stream that ``send --stream`` creates keeps its messages (as in every CLI)."""


async def stream_capturing(js: nats.js.JetStreamContext, name: str, subject: str) -> None:
    """Makes sure stream ``name`` exists (created with subjects ``[subject]``, file storage,
    a 24-hour ``max_age`` as the other CLIs give it, when it does not; an existing one is
    left as it is) and captures ``subject``."""
    try:
        await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        await ensure_stream(js, name, [subject], max_age=DEFAULT_STREAM_MAX_AGE)
    except Exception as e:  # no JetStream on the server, timeout, closed connection
        raise NatsBridgeError("NATS_CONNECTION_FAILED", f"looking up the stream `{name}`") from e
    try:
        captured: str | None = await js.find_stream_name_by_subject(subject)
    except nats.js.errors.NotFoundError:
        captured = None
    except Exception as e:
        raise NatsBridgeError("NATS_CONNECTION_FAILED", f"looking up the stream of `{subject}`") from e
    if captured != name:
        also = f" (`{captured}` does)" if captured else ""
        raise NatsBridgeError("PUBLISH_FAILED", f"the stream `{name}` does not capture `{subject}`{also}")


def receive_options(a: argparse.Namespace) -> ReceiveOptions:
    options = ReceiveOptions()
    for h in a.allow_host:
        options = options.allow_host(h)
    return options


def subscribed(stream: str | None = None) -> None:
    """The readiness line on stderr: a driver may start sending."""
    line: dict[str, object] = {"subscribed": True} if stream is None else {"subscribed": True, "stream": stream}
    print(json.dumps(line), file=sys.stderr, flush=True)


async def receive(a: argparse.Namespace) -> int:
    if a.stream is not None:
        return await receive_stream(a)
    nc = await connect(a.server)
    try:
        sub = await nc.subscribe(a.subject)
        await subscriptions_registered(nc)
        options = receive_options(a)
        subscribed()
        loop = asyncio.get_running_loop()
        deadline = None if a.timeout is None else loop.time() + a.timeout
        seen = 0
        while a.count is None or seen < a.count:
            try:
                if deadline is None:
                    msg = await sub.next_msg(timeout=None)
                else:
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    msg = await sub.next_msg(timeout=left)
            except Exception:  # nats.errors.TimeoutError at the deadline, or the connection closed
                break
            seen += 1
            out(await receive_line(msg, options, a.show_header))
        return 1 if a.count is not None and seen < a.count else 0
    finally:
        await nc.close()


async def receive_line(msg: Any, options: ReceiveOptions, show_header: list[str]) -> str:
    """The line for one message: its digest, or its error. Never raises: a hostile message
    costs one error line, and the receiver goes on."""
    try:
        received = await smartreceive(msg, options)
        return digest.with_headers(digest.of_received(received), received.headers, show_header)
    except NatsBridgeError as e:
        return digest.of_error(e)
    except Exception as e:  # a bug in this package: reported on the message's line, not fatal
        return digest.of_unexpected(e)


async def receive_stream(a: argparse.Namespace) -> int:
    """``receive --stream``: replays the stream's envelopes on ``--subject`` (from its start,
    or those published at or after ``--since``) through an ephemeral pull consumer, acking
    each once its line is printed."""
    nc = await connect(a.server)
    consumer = EnvelopeConsumer(nc.jetstream(), a.stream, start=a.since or "all", filter_subject=a.subject,
                                receive_options=receive_options(a))
    try:
        await consumer.open()
        subscribed(a.stream)
        loop = asyncio.get_running_loop()
        deadline = None if a.timeout is None else loop.time() + a.timeout
        seen = 0
        while a.count is None or seen < a.count:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                break
            try:
                delivered = await consumer.next(timeout=left)
            except NatsBridgeError as e:
                if e.code == ERROR_DEADLINE:  # nothing more before the deadline
                    break
                if e.code == "NATS_CONNECTION_FAILED":
                    raise
                seen += 1  # an envelope that can never decode (the consumer terminated it)
                out(digest.of_error(e))
                continue
            seen += 1
            received = delivered.received
            try:
                line = digest.with_headers(digest.of_received(received), received.headers, a.show_header)
            except Exception as e:  # a bug in this package: reported on the message's line, not fatal
                line = digest.of_unexpected(e)
            out(line)
            await delivered.ack()
        return 1 if a.count is not None and seen < a.count else 0
    finally:
        await consumer.close()
        await nc.close()


def stream_name(text: str) -> str:
    """``--stream``: a name nats-server accepts (1 to 255 characters, none of whitespace,
    ``.``, ``*``, ``>``, ``/``, ``\\``)."""
    if not 0 < len(text) <= 255 or any(c.isspace() or c in ".*>/\\" for c in text):
        raise argparse.ArgumentTypeError(
            f"`{text}` is not a stream name (1 to 255 characters, none of whitespace . * > / \\)")
    return text


def rfc3339(text: str) -> datetime.datetime:
    """``--since``: an RFC 3339 time with its offset, e.g. ``2026-01-31T12:00:00Z``."""
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z)") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"`{text}` has no UTC offset (end it with Z or +hh:mm)")
    return when


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m natsbridge", description="Send and receive NATSBridge envelopes")
    ap.add_argument("--log-level", default=os.environ.get("NATSBRIDGE_LOG", "WARNING"))
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send", help="publish one envelope and print its digest line")
    s.add_argument("--server", default=config.nats_url())
    s.add_argument("--subject", required=True)
    s.add_argument("--fileserver", default=config.fileserver_url())
    s.add_argument("--threshold", type=int, help=f"default: ${ENV_SIZE_THRESHOLD}, else {DEFAULT_SIZE_THRESHOLD}")
    s.add_argument("--purpose", default=DEFAULT_MSG_PURPOSE)
    s.add_argument("--correlation-id")
    s.add_argument("--header", action="append", default=[], metavar="K=V")
    s.add_argument("--payload", action="append", required=True, metavar="NAME:TYPE:SOURCE")
    s.add_argument("--stream", type=stream_name, metavar="NAME",
                   help="publish through JetStream into stream NAME (created with subjects [--subject] if missing)")
    r = sub.add_parser("receive", help="subscribe and print a digest line per envelope")
    r.add_argument("--server", default=config.nats_url())
    r.add_argument("--subject", required=True)
    r.add_argument("--count", type=int)
    r.add_argument("--timeout", type=float)
    r.add_argument("--allow-host", action="append", default=[])
    r.add_argument("--show-header", action="append", default=[])
    r.add_argument("--stream", type=stream_name, metavar="NAME", help="replay stream NAME (a pull consumer filtered on --subject)")
    r.add_argument("--since", type=rfc3339, metavar="RFC3339_TIME",
                   help="with --stream: only envelopes published at or after this time")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)  # exits 2 on a usage error
    if a.command == "receive" and a.since is not None and a.stream is None:
        ap.error("--since needs --stream")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"))
    logging.basicConfig(level=str(a.log_level).upper(), handlers=[handler])
    try:
        return asyncio.run(send(a) if a.command == "send" else receive(a))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NatsBridgeError as e:
        print(f"error: {report(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
