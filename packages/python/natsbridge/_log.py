"""The package logger. Every record carries ``correlation_id`` (and ``stage``) as ``extra``
fields, so a JSON formatter or a filter sees them as attributes of the record."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("natsbridge")


def log(level: int, msg: str, correlation_id: str | None, stage: str, stacklevel: int = 2,
        exc_info: BaseException | None = None, **fields: Any) -> None:
    """Logs ``msg`` with ``correlation_id``, ``stage`` and ``fields`` as record attributes
    (the record names the caller's line); ``exc_info``: an exception whose stack the record
    carries."""
    if logger.isEnabledFor(level):
        extra = {"correlation_id": correlation_id or "", "stage": stage}
        extra.update(fields)
        logger.log(level, msg, extra=extra, stacklevel=stacklevel, exc_info=exc_info)


def debug(msg: str, correlation_id: str | None, stage: str, **fields: Any) -> None:
    if logger.isEnabledFor(logging.DEBUG):  # checked here too: the hot paths call this per message
        log(logging.DEBUG, msg, correlation_id, stage, 3, **fields)


def info(msg: str, correlation_id: str | None, stage: str, **fields: Any) -> None:
    if logger.isEnabledFor(logging.INFO):
        log(logging.INFO, msg, correlation_id, stage, 3, **fields)


def warning(msg: str, correlation_id: str | None, stage: str, exc_info: BaseException | None = None,
            **fields: Any) -> None:
    log(logging.WARNING, msg, correlation_id, stage, 3, exc_info, **fields)


class CorrelationFilter(logging.Filter):
    """Gives every record a ``correlation_id`` (empty when it has none: records of other
    libraries), so a format string may name ``%(correlation_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = ""
        return True
