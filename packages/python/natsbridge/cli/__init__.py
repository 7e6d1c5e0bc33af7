"""``python -m natsbridge send|receive|request|reply``: the contract of the Rust ``natsbridge``
CLI (the same flags, the same digest and error lines on stdout, ``{"subscribed": true}`` on
stderr when a receiver is ready), so any two implementations can be compared from a shell;
the shared three-CLI script checks that they print the same lines.

    python -m natsbridge send    --subject S --payload NAME:TYPE:SOURCE... [envelope fields]
                                 [--stream NAME [--max-age SECS] [--replicas N]] [--no-publish]
                                 [--from-stdin NAME:TYPE]
    python -m natsbridge receive --subject S [--count N] [--timeout SECS] [--allow-host URL]...
                                 [--allow-dir DIR]... [--show-header NAME]...
                                 [--stream NAME [--since START] [--durable NAME]] [--out DIR] [--envelope]
    python -m natsbridge request --subject S --payload ... [envelope fields] [--timeout SECS] [--out DIR] [--envelope]
    python -m natsbridge reply   --subject S [--payload ...] [--fail CODE[:MESSAGE]] [--queue GROUP] [--count N]

Connection (every command): ``--server``, ``--context``, ``--no-context``, ``--user``,
``--password``, ``--token``, ``--creds``, ``--nkey``, ``--tls-ca``, ``--tls-cert``, ``--tls-key``,
``--tls-first`` (:mod:`.connection`; each else its ``NATS_*`` variable, else the nats CLI's
context, else the default). Settings that cannot be used (``INVALID_ARGUMENT``) exit 1, as a
failed send does; a flag given twice, an unknown or abbreviated one, or ``--context`` with
``--no-context`` is a usage error (exit 2).

Envelope fields: ``--purpose``, ``--correlation-id``, ``--msg-id``, ``--sender-name``,
``--sender-id``, ``--receiver-name``, ``--receiver-id``, ``--reply-to``,
``--reply-to-msg-id``, ``--metadata K=V``, ``--metadata-json JSON``, ``--header K=V``,
``--threshold``, ``--fileserver``, ``--fileserver-token``, ``--one-shot``, ``--link-ttl SECS``. ``--help`` after a
command lists its flags. Exit status 2 for a usage error, 1 on a failure (and for
``receive``/``reply`` when fewer than ``--count`` envelopes arrived before ``--timeout``;
for ``request`` when the reply is an error, printed as its error line).

Commands by module: :mod:`.send` (``send``, ``request``), :mod:`.receive` (``receive``,
``reply``), :mod:`.output` (what is printed and saved per envelope), :mod:`.source`
(``--payload``), :mod:`.common` (lines, argument values), :mod:`.logs` (``--log-*``), :mod:`.connection`
(the connection flags).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from natsbridge_types.profile import ENV_FILESERVER_TOKEN, ENV_FILESERVER_URL, ENV_SIZE_THRESHOLD, ERROR_CONNECT_SETTINGS

from ..errors import NatsBridgeError, report
from . import logs
from .common import UsageError, once_only
from .connection import ENVIRONMENT, check_connect_flags, settings_of
from .receive import add_receive_flags, add_reply_flags, check_receive_flags, receive, reply
from .send import add_request_flags, add_send_flags, check_send_flags, request, send

__all__ = ["main", "parser"]

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]

_COMMANDS: dict[str, tuple[Command, Callable[[argparse.ArgumentParser], None], str]] = {
    "send": (send, add_send_flags,
             "Publish one envelope and print its digest line (or, with --no-publish, its JSON)."),
    "receive": (receive, add_receive_flags,
                "Subscribe (or replay a stream) and print a digest line per envelope (an error line per bad one)."),
    "request": (request, add_request_flags,
                "Send a request and print the reply's digest line (the responder's error line and exit 1 when it "
                "answers with an error_response_v1)."),
    "reply": (reply, add_reply_flags,
              "Answer requests: print each one's digest line and reply with payloads (the request's own, echoed, "
              "by default) or, with --fail, an error_response_v1."),
}


def parser() -> argparse.ArgumentParser:
    variables = ", ".join([*ENVIRONMENT, ENV_FILESERVER_URL, ENV_FILESERVER_TOKEN, ENV_SIZE_THRESHOLD, logs.ENV_LOG])
    ap = argparse.ArgumentParser(prog="python -m natsbridge", description="Send and receive NATSBridge envelopes.",
                                 epilog=f"Environment: {variables} (their values are never printed).",
                                 allow_abbrev=False)
    once_only(ap)
    logs.add_flags(ap, top=True)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, add_flags, about) in _COMMANDS.items():
        p = sub.add_parser(name, help=about, description=about, allow_abbrev=False)
        once_only(p)
        add_flags(p)
        logs.add_flags(p, top=False)
    return ap


def _check(a: argparse.Namespace) -> str | None:
    problem = check_connect_flags(a)
    if problem is not None:
        return problem
    if a.command == "send":
        return check_send_flags(a)
    if a.command == "receive":
        return check_receive_flags(a)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)  # exits 2 on a usage error
    problem = _check(a)
    if problem is not None:
        ap.error(problem)
    logs.init(a.log_level, a.log_format)
    try:
        a.connect_settings = settings_of(a)  # every command connects (send --no-publish: for broker_url)
    except NatsBridgeError as e:
        if e.code != ERROR_CONNECT_SETTINGS:
            raise
        print(f"error: {report(e)}", file=sys.stderr)  # settings that cannot be used: a failure, as in every CLI
        return 1
    command = _COMMANDS[a.command][0]
    try:
        return asyncio.run(command(a))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NatsBridgeError as e:
        print(f"error: {report(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug in this package: a message, not a traceback
        print(f"error: {report(e)}", file=sys.stderr)
        return 1
