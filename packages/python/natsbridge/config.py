"""Configuration from the environment, with the profile's names and defaults (``NATS_URL``,
``FILESERVER_URL``, ``FILESERVER_TOKEN``, ``SIZE_THRESHOLD``; ``natsbridge_types.profile``).
Read when options are made, never during a call. The NATS connection's other settings
(credentials, TLS, the nats CLI's contexts) are resolved by :mod:`natsbridge.settings`.
"""

from __future__ import annotations

import os
import uuid
from typing import NamedTuple

from natsbridge_types.profile import (
    DEFAULT_FILESERVER_URL,
    DEFAULT_NATS_URL,
    DEFAULT_SIZE_THRESHOLD,
    ENV_FILESERVER_TOKEN,
    ENV_FILESERVER_URL,
    ENV_NATS_URL,
    ENV_SIZE_THRESHOLD,
)

__all__ = ["DEFAULT_FILESERVER_URL", "DEFAULT_NATS_URL", "DEFAULT_SIZE_THRESHOLD", "Setting", "fileserver_setting",
           "fileserver_token", "fileserver_url", "nats_url", "parse_threshold", "sender_id",
           "size_threshold"]

_SENDER_ID = str(uuid.uuid4())


def _non_empty(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value is not None and value.strip() else None


def nats_url() -> str:
    """``NATS_URL``, or the default when unset or empty."""
    return _non_empty(ENV_NATS_URL) or DEFAULT_NATS_URL


def fileserver_url() -> str:
    """``FILESERVER_URL``, or the default when unset or empty."""
    return _non_empty(ENV_FILESERVER_URL) or DEFAULT_FILESERVER_URL


def fileserver_token() -> str | None:
    """``FILESERVER_TOKEN`` (the token of a file server started with one), or ``None`` when
    unset or empty. A secret: never logged or shown."""
    return _non_empty(ENV_FILESERVER_TOKEN)


class Setting(NamedTuple):
    """A URL and where it came from, as errors name it: ``source`` is ``"argument"``,
    ``"environment"`` or ``"default"``; ``name`` the argument's or variable's name."""

    value: str
    source: str
    name: str
    variable: str

    def origin(self) -> str:
        """``the argument `fileserver_url``` / ``FILESERVER_URL`` / ``the default ... :
        FILESERVER_URL is unset``."""
        if self.source == "argument":
            return f"the argument `{self.name}`"
        if self.source == "environment":
            return f"{self.variable} (environment)"
        return f"the default {self.value}: {self.variable} is unset"


def fileserver_setting(given: str | None, argument: str = "fileserver_url") -> Setting:
    """The file server URL a call uses: ``given`` (the argument ``argument``), else
    ``FILESERVER_URL``, else the default."""
    return _setting(given, argument, ENV_FILESERVER_URL, DEFAULT_FILESERVER_URL)


def _setting(given: str | None, argument: str, variable: str, default: str) -> Setting:
    if given is not None and given.strip():  # a blank value is none given
        return Setting(given, "argument", argument, variable)
    env = _non_empty(variable)
    if env is not None:
        return Setting(env, "environment", variable, variable)
    return Setting(default, "default", variable, variable)


def parse_threshold(value: str | None) -> int:
    """A threshold as the Rust runtime reads it: digits (``_`` allowed), else the default."""
    if value is None:
        return DEFAULT_SIZE_THRESHOLD
    text = value.strip().replace("_", "")
    return int(text) if text.isdigit() and text.isascii() else DEFAULT_SIZE_THRESHOLD


def size_threshold() -> int:
    """``SIZE_THRESHOLD`` in bytes, or the default when unset or not a number."""
    return parse_threshold(_non_empty(ENV_SIZE_THRESHOLD))


def sender_id() -> str:
    """This process's ``sender_id``: one UUID v4 per process."""
    return _SENDER_ID
