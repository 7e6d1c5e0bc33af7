"""``python -m natsbridge send|receive``: the same contract as the Rust ``natsbridge send`` /
``natsbridge receive`` (flags, digest lines on stdout, ``{"subscribed": true}`` on stderr when
the receiver is ready), so any two implementations can be compared from a shell.

    python -m natsbridge send --server URL --subject S [--fileserver URL] [--threshold N]
        [--purpose P] [--correlation-id ID] [--header K=V]... --payload NAME:TYPE:SOURCE...
    python -m natsbridge receive --server URL --subject S [--count N] [--timeout SECS]
        [--allow-host HOST]... [--show-header NAME]...

SOURCE is literal text or ``@PATH``. Exit status 1 on failure (and for ``receive`` when fewer
than ``--count`` envelopes arrived before ``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.ipc

from . import config, digest
from ._log import CorrelationFilter
from .errors import NatsBridgeError, report
from .payload import decode_table
from .receive import ReceiveOptions, smartreceive
from .send import smartsend
from .transport import connect


class UsageError(Exception):
    pass


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
    if kind in ("image", "audio", "video", "binary"):
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
    nc = await connect(a.server)
    try:
        sent = await smartsend(
            a.subject, [(n, d, t) for n, d, t, _ in specs], connection=nc, fileserver_url=a.fileserver,
            size_threshold=a.threshold, msg_purpose=a.purpose, correlation_id=a.correlation_id, headers=headers,
        )
    finally:
        await nc.close()
    print(digest.of_sent(sent.envelope, [r for *_, r in specs]), flush=True)
    return 0


async def receive(a: argparse.Namespace) -> int:
    nc = await connect(a.server)
    try:
        sub = await nc.subscribe(a.subject)
        await nc.flush()
        options = ReceiveOptions()
        for h in a.allow_host:
            options = options.allow_host(h)
        print(json.dumps({"subscribed": True}), file=sys.stderr, flush=True)
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
            try:
                received = await smartreceive(msg, options)
                line = digest.with_headers(digest.of_received(received), received.headers, a.show_header)
            except NatsBridgeError as e:
                line = digest.of_error(e)
            print(line, flush=True)
        return 1 if a.count is not None and seen < a.count else 0
    finally:
        await nc.close()


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m natsbridge", description="Send and receive NATSBridge envelopes")
    ap.add_argument("--log-level", default=os.environ.get("NATSBRIDGE_LOG", "WARNING"))
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send", help="publish one envelope and print its digest line")
    s.add_argument("--server", default=config.nats_url())
    s.add_argument("--subject", required=True)
    s.add_argument("--fileserver", default=config.fileserver_url())
    s.add_argument("--threshold", type=int, default=config.size_threshold())
    s.add_argument("--purpose", default="chat")
    s.add_argument("--correlation-id")
    s.add_argument("--header", action="append", default=[], metavar="K=V")
    s.add_argument("--payload", action="append", required=True, metavar="NAME:TYPE:SOURCE")
    r = sub.add_parser("receive", help="subscribe and print a digest line per envelope")
    r.add_argument("--server", default=config.nats_url())
    r.add_argument("--subject", required=True)
    r.add_argument("--count", type=int)
    r.add_argument("--timeout", type=float)
    r.add_argument("--allow-host", action="append", default=[])
    r.add_argument("--show-header", action="append", default=[])
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    a = parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"))
    logging.basicConfig(level=str(a.log_level).upper(), handlers=[handler])
    try:
        return asyncio.run(send(a) if a.command == "send" else receive(a))
    except (NatsBridgeError, UsageError) as e:
        print(f"error: {report(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
