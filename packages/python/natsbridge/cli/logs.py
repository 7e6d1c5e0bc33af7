"""The flags every command takes, before or after its name (as the Rust CLI's global flags):
``--log-level`` (a level, or a filter such as ``natsbridge=debug,warn``), ``--log-format
text|json`` (logs go to stderr), ``-q/--quiet`` (accepted for parity: this CLI draws no
progress bars)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from .._log import CorrelationFilter

__all__ = ["ENV_LOG", "add_flags", "init", "levels"]

ENV_LOG = "NATSBRIDGE_LOG"
"""The variable of the default ``--log-level`` (the Rust CLI's)."""

_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL,
           "off": logging.CRITICAL + 10}


def add_flags(p: argparse.ArgumentParser, *, top: bool) -> None:
    """The global flags on ``p``: with their defaults on the top parser, without (so they do
    not override what was given before the command) on a command's."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    p.add_argument("--log-level", default=default(os.environ.get(ENV_LOG, "warn")),
                   help="log level (trace, debug, info, warn, error, off) or filter (natsbridge=debug,warn); "
                        "default $NATSBRIDGE_LOG, else warn")
    p.add_argument("--log-format", choices=["text", "json"], default=default("text"), help="log format on stderr")
    p.add_argument("-q", "--quiet", action="store_true", default=default(False),
                   help="no progress bars (this CLI draws none: accepted for parity)")


def levels(spec: str) -> dict[str, int]:
    """A level or filter → ``{logger name: level}`` (``""`` is the root). Unknown levels fall
    back to warnings, never an error."""
    out: dict[str, int] = {}
    for directive in (d.strip() for d in spec.split(",")):
        if not directive:
            continue
        target, sep, level = directive.rpartition("=")
        out[target if sep else ""] = _LEVELS.get(level.strip().lower(), logging.WARNING)
    return out or {"": logging.WARNING}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": self.formatTime(record), "level": record.levelname, "target": record.name,
            "correlation_id": getattr(record, "correlation_id", None), "message": record.getMessage(),
        }
        return json.dumps(line, default=str)


def _without_asyncio_tls_noise(record: logging.LogRecord) -> bool:
    """Drops asyncio's warning that nats-py's stream protocol returns true from
    ``eof_received`` over TLS (harmless, printed at every TLS close)."""
    return not (record.name == "asyncio" and str(record.msg).startswith("returning true from eof_received()"))


def init(spec: str, fmt: str) -> None:
    """Logging to stderr at the levels ``spec`` names, as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationFilter())
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"))
    handler.addFilter(_without_asyncio_tls_noise)
    by_name = levels(spec)
    logging.basicConfig(level=by_name.pop("", logging.WARNING), handlers=[handler])
    for name, level in by_name.items():
        logging.getLogger(name).setLevel(level)
