"""What every command of ``python -m natsbridge`` shares: printing JSON lines that cannot fail,
the readiness line, usage errors, deadlines, and the parsing of argument values (stream
names, ``--since``, ``--allow-host``, ``K=V`` pairs)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from .. import digest, strict_json
from ..errors import NatsBridgeError
from ..hosts import allowed_host
from ..start import parse_start

__all__ = ["Deadline", "UsageError", "host_url", "key_value", "metadata_of", "once_only", "out", "since",
           "stream_name", "subscribed"]


class UsageError(Exception):
    """A command line that cannot be acted on (exit status 2, the message on stderr)."""


def _given_once(action: argparse.Action, namespace: argparse.Namespace) -> None:
    seen: set[str] = namespace.__dict__.setdefault("_given_flags", set())
    if action.dest in seen:
        raise argparse.ArgumentError(action, "is given twice; give it once")
    seen.add(action.dest)


class _StoreOnce(argparse._StoreAction):
    """A flag with a value, given at most once."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        _given_once(self, namespace)
        super().__call__(parser, namespace, values, option_string)


class _StoreTrueOnce(argparse._StoreTrueAction):
    """A switch, given at most once."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        _given_once(self, namespace)
        super().__call__(parser, namespace, values, option_string)


def once_only(p: argparse.ArgumentParser) -> None:
    """Makes every flag of ``p`` added from now on (but the repeatable ones, ``append``) a
    usage error when given twice, as in the Rust and TypeScript CLIs (``--server a --server
    b`` is not "the last one wins")."""
    p.register("action", None, _StoreOnce)
    p.register("action", "store", _StoreOnce)
    p.register("action", "store_true", _StoreTrueOnce)


def out(line: str) -> None:
    """Prints a JSON line on stdout with ASCII escapes: nothing a peer sent can make printing
    fail (a lone surrogate, a character the terminal's encoding lacks)."""
    print(digest.ascii_line(line), flush=True)


def subscribed(stream: str | None = None) -> None:
    """The readiness line on stderr: a driver may start sending."""
    line: dict[str, object] = {"subscribed": True} if stream is None else {"subscribed": True, "stream": stream}
    print(json.dumps(line), file=sys.stderr, flush=True)


class Deadline:
    """``--timeout``: the seconds left, ``None`` without a timeout."""

    def __init__(self, timeout: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._at = None if timeout is None else self._loop.time() + timeout

    def left(self) -> float | None:
        return None if self._at is None else self._at - self._loop.time()

    def passed(self) -> bool:
        left = self.left()
        return left is not None and left <= 0


def stream_name(text: str) -> str:
    """``--stream``: a name nats-server accepts (1 to 255 characters, none of whitespace,
    ``.``, ``*``, ``>``, ``/``, ``\\``)."""
    if not 0 < len(text) <= 255 or any(c.isspace() or c in ".*>/\\" for c in text):
        raise argparse.ArgumentTypeError(
            f"`{text}` is not a stream name (1 to 255 characters, none of whitespace . * > / \\)")
    return text


def since(text: str) -> str:
    """``--since``: a replay start in the text grammar every CLI and runtime reads
    (:func:`natsbridge.parse_start`: ``all``, ``new``, a sequence, a duration back from now such
    as ``5m``, an RFC 3339 time with its offset), checked here and kept as text (a duration is
    counted from when the consumer is made)."""
    try:
        parse_start(text)
    except NatsBridgeError as e:
        raise argparse.ArgumentTypeError(e.message) from None
    return text


def host_url(text: str) -> str:
    """``--allow-host``: an http(s) URL or origin (``http://files:8080``), or ``*``
    (:func:`natsbridge.allowed_host`)."""
    try:
        allowed_host(text)
    except NatsBridgeError as e:
        raise argparse.ArgumentTypeError(e.message) from None
    return text


def key_value(flag: str, text: str) -> tuple[str, str]:
    """``K=V`` → ``(K, V)`` (the value may hold ``=``)."""
    key, sep, value = text.partition("=")
    if not sep:
        raise UsageError(f"{flag} `{text}` is not {'KEY=VALUE' if flag == '--metadata' else 'K=V'}")
    return key, value


def metadata_of(metadata_json: str | None, entries: list[str]) -> dict[str, object]:
    """The envelope's ``metadata``: ``--metadata-json`` (an object), then each ``--metadata
    KEY=VALUE`` added, VALUE read as JSON when it parses as JSON (``run=7`` is 7), else kept
    as a string."""
    metadata: dict[str, object] = {}
    if metadata_json is not None:
        try:
            value = strict_json.loads(metadata_json)
        except strict_json.StrictJsonError as e:
            raise UsageError(f"--metadata-json: not JSON: {e}") from None
        if not isinstance(value, dict):
            raise UsageError("--metadata-json must be a JSON object")
        metadata.update(value)
    for entry in entries:
        key, text = key_value("--metadata", entry)
        try:
            metadata[key] = strict_json.loads(text)
        except strict_json.StrictJsonError:
            metadata[key] = text
    return metadata
