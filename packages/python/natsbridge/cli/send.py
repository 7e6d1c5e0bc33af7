"""``send`` and ``request``: build an envelope from the command line (every field the schema
has, payloads from arguments, files or stdin) and publish it, through core NATS or a
JetStream stream, or print it without publishing; ``request`` waits for the reply and
prints its digest line (a responder's ``error_response_v1`` as its error line, exit 1)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import nats.js
import nats.js.errors

from natsbridge_types import MSG_PURPOSE_VALUES
from natsbridge_types.profile import (
    CLI_STREAM_MAX_AGE_SECONDS,
    DEFAULT_FILESERVER_URL,
    DEFAULT_MSG_PURPOSE,
    DEFAULT_SIZE_THRESHOLD,
    ENV_FILESERVER_URL,
    ENV_SIZE_THRESHOLD,
)

from .. import digest
from ..errors import NatsBridgeError
from ..jetstream import ensure_stream, publish_to_stream
from ..request import smartrequest
from ..send import smartsend
from ..transport import open_connection
from . import output
from .connection import add_connect_flags, add_fileserver_token_flag
from .common import UsageError, key_value, metadata_of, out, stream_name
from .source import Source, parse_bytes, parse_payload

__all__ = ["add_envelope_flags", "add_request_flags", "add_send_flags", "request", "send"]

DEFAULT_STREAM_MAX_AGE = CLI_STREAM_MAX_AGE_SECONDS
"""How long a stream that ``send --stream`` creates keeps its messages, unless ``--max-age``."""


def add_envelope_flags(p: argparse.ArgumentParser) -> None:
    """The envelope ``send`` and ``request`` build: its fields, payloads and where links go."""
    add_connect_flags(p)
    p.add_argument("--subject", required=True)
    p.add_argument("--payload", action="append", default=[], metavar="NAME:TYPE:SOURCE",
                   help="NAME:TYPE:SOURCE, where SOURCE is literal text or @PATH. Repeatable")
    p.add_argument("--from-stdin", metavar="NAME:TYPE", help="one more payload, read from standard input")
    p.add_argument("--fileserver", metavar="URL",
                   help=f"Plik-compatible file server for link payloads (default: ${ENV_FILESERVER_URL}, else "
                        f"{DEFAULT_FILESERVER_URL})")
    add_fileserver_token_flag(p)
    p.add_argument("--store", default="plik",
                   help="where link payloads go: only `plik` (the --fileserver) in this CLI")
    p.add_argument("--threshold", type=int,
                   help=f"payloads of this many serialized bytes or more go by link (default: ${ENV_SIZE_THRESHOLD}, "
                        f"else {DEFAULT_SIZE_THRESHOLD})")
    p.add_argument("--purpose", default=DEFAULT_MSG_PURPOSE, help=f"msg_purpose: {', '.join(MSG_PURPOSE_VALUES)}")
    p.add_argument("--correlation-id", help="a UUID; a new one when not given")
    p.add_argument("--msg-id", help="a UUID (also the Nats-Msg-Id header); a new one when not given")
    p.add_argument("--sender-name")
    p.add_argument("--sender-id")
    p.add_argument("--receiver-name")
    p.add_argument("--receiver-id")
    p.add_argument("--reply-to", help="where the receiver should answer (`request` sets its own inbox)")
    p.add_argument("--reply-to-msg-id", help="the msg_id this message answers")
    p.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                   help="envelope metadata entry; VALUE is JSON when it parses as JSON, else a string. Repeatable")
    p.add_argument("--metadata-json", metavar="JSON",
                   help="envelope metadata as one JSON object (entries of --metadata are added to it)")
    p.add_argument("--header", action="append", default=[], metavar="K=V", help="extra NATS header, repeatable")
    p.add_argument("--one-shot", action="store_true",
                   help="link downloads may happen once (the file server deletes the file after it)")
    p.add_argument("--link-ttl", type=int, metavar="SECS", help="lifetime asked for link uploads, in seconds")


def add_send_flags(p: argparse.ArgumentParser) -> None:
    """``send``'s own switches."""
    add_envelope_flags(p)
    p.add_argument("--stream", type=stream_name, metavar="NAME",
                   help="publish through JetStream into this stream and wait for the ack (its stream sequence is "
                        "printed on stderr); the stream is created for the subject when missing")
    p.add_argument("--max-age", type=int, metavar="SECS",
                   help=f"with --stream, when it creates the stream: how long it keeps messages, in seconds "
                        f"(default {DEFAULT_STREAM_MAX_AGE})")
    p.add_argument("--replicas", type=int, metavar="N",
                   help="with --stream, when it creates the stream: copies kept on distinct servers of a cluster "
                        "(default 1)")
    p.add_argument("--no-publish", action="store_true",
                   help="do not publish: print the envelope JSON instead of the digest line (links are still uploaded)")


def add_request_flags(p: argparse.ArgumentParser) -> None:
    """``request``'s own switches: the envelope, how long to wait, and what to do with the reply."""
    add_envelope_flags(p)
    p.add_argument("--timeout", type=float, default=30.0, help="how long to wait for the reply, in seconds (default 30)")
    output.add_output_flags(p)


def check_send_flags(a: argparse.Namespace) -> str | None:
    """What is wrong with ``send``'s flags taken together, if anything."""
    if a.stream is None:
        for flag, value in (("--max-age", a.max_age), ("--replicas", a.replicas)):
            if value is not None:
                return f"{flag} needs --stream"
    elif a.no_publish:
        return "--no-publish cannot go with --stream"
    return None


def _sources(a: argparse.Namespace) -> list[Source]:
    sources = [parse_payload(spec) for spec in a.payload]
    if a.from_stdin is not None:
        sources.append(parse_bytes(a.from_stdin, sys.stdin.buffer.read()))
    if not sources:
        raise UsageError("give at least one --payload (or --from-stdin)")
    return sources


def _send_options(a: argparse.Namespace) -> dict[str, Any]:
    """smartsend's keyword arguments the flags ask for (but the connection)."""
    if a.store != "plik":
        raise UsageError(f"--store `{a.store}`: this CLI stores links on a Plik-compatible server only (plik)")
    if a.purpose not in MSG_PURPOSE_VALUES:
        raise UsageError(f"--purpose `{a.purpose}` is not one of {', '.join(MSG_PURPOSE_VALUES)}")
    options: dict[str, Any] = {
        "fileserver_url": a.fileserver, "fileserver_token": a.fileserver_token, "size_threshold": a.threshold,
        "msg_purpose": a.purpose,
        "metadata": metadata_of(a.metadata_json, a.metadata), "headers": dict(key_value("--header", h) for h in a.header),
    }
    fields = {"correlation_id": a.correlation_id, "msg_id": a.msg_id, "sender_name": a.sender_name,
              "sender_id": a.sender_id, "receiver_name": a.receiver_name, "receiver_id": a.receiver_id,
              "reply_to": a.reply_to, "reply_to_msg_id": a.reply_to_msg_id, "link_ttl": a.link_ttl}
    options.update({k: v for k, v in fields.items() if v is not None})
    if a.one_shot:
        options["one_shot"] = True
    return options


async def send(a: argparse.Namespace) -> int:
    """``send``: publishes one envelope and prints its digest line (with ``--no-publish``, its
    JSON instead, nothing published)."""
    sources = _sources(a)
    options = _send_options(a)
    items = [s.triple() for s in sources]
    if a.no_publish:  # connects to nothing; the settings give the envelope's broker_url
        sent = await smartsend(a.subject, items, publish=False, connection=a.connect_settings, **options)
        out(sent.json)
        return 0
    nc = await open_connection(a.connect_settings)
    try:
        if a.stream is None:
            # One envelope, then the process exits: it must be on the wire first.
            envelope = (await smartsend(a.subject, items, connection=nc, flush=True, **options)).envelope
        else:
            js = nc.jetstream()
            await stream_capturing(js, a.stream, a.subject, a.max_age, a.replicas)
            options.pop("one_shot", None)  # links in a stream outlive it, never one-shot
            in_stream = await publish_to_stream(js, a.subject, items, **options)
            envelope = in_stream.envelope
            ack = {"stream": a.stream, "stream_sequence": in_stream.stream_sequence}
            print(json.dumps(ack), file=sys.stderr, flush=True)
    finally:
        await nc.close()
    out(digest.of_sent(envelope, [s.rows for s in sources]))
    return 0


async def stream_capturing(
    js: nats.js.JetStreamContext, name: str, subject: str, max_age: int | None, replicas: int | None
) -> None:
    """Makes sure stream ``name`` exists (created with subjects ``[subject]``, file storage,
    ``max_age`` seconds (default a day, as every CLI gives it) and ``replicas`` copies, when it
    does not; an existing one is left as it is) and captures ``subject``."""
    try:
        await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        age = float(DEFAULT_STREAM_MAX_AGE if max_age is None else max_age)
        await ensure_stream(js, name, [subject], max_age=age, replicas=1 if replicas is None else replicas)
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


async def request(a: argparse.Namespace) -> int:
    """``request``: sends, waits for the reply, prints its digest line (and what the output
    flags ask for); a failure, the responder's error included, is its error line and exit 1."""
    sources = _sources(a)
    options = _send_options(a)
    options.pop("reply_to", None)  # the request's own inbox
    nc = await open_connection(a.connect_settings)
    try:
        receive_options = output.receive_options(a)
        try:
            reply = await smartrequest(nc, a.subject, [s.triple() for s in sources], timeout=a.timeout,
                                       receive_options=receive_options, **options)
        except NatsBridgeError as e:
            out(digest.of_error(e))
            return 1
        output.show(a, reply, reply.headers)
        return 0
    finally:
        await nc.close()
