"""Allowed hosts, in one form everywhere (options, ``ReceiveOptions.allow_host``, the CLI's
``--allow-host``): an http(s) URL or origin (``http://files:8080``, ``https://secure.example``;
the scheme's default port filled in, a path ignored), or ``*`` for every host.
:func:`allowed_host` reads one as ``host:port`` (or ``*``); anything else (a bare
``files:8080``, ``ftp://x``, an empty string, a list) is ``INVALID_ARGUMENT`` saying what to
write instead. Credentials in a URL are never repeated in an error."""

from __future__ import annotations

import re
import urllib.parse

from natsbridge_types.profile import ERROR_BAD_OPTION

from .errors import NatsBridgeError
from .options import checked

__all__ = ["ANY_HOST", "allowed_host"]

ANY_HOST = "*"
"""The allowed host that allows every host."""

_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?[^/@]*@")


def _without_credentials(text: str) -> str:
    """``text`` with any ``user:password@`` removed (for messages)."""
    return _USERINFO.sub(lambda m: m.group(1) or "", text)[:200]


def _refused(value: str, why: str) -> NatsBridgeError:
    shown = _without_credentials(value)
    bare = shown.split("://", 1)[-1].split("/", 1)[0] or "host:port"
    return NatsBridgeError(
        ERROR_BAD_OPTION,
        f"allowed host `{shown}` {why}; write `http://{bare}` (or https://...), or `*` for every host",
    )


@checked("allowed_host")
def allowed_host(value: object) -> str:
    """``value`` (an http(s) URL or origin, or ``*``) as the ``host:port`` a link's URL is
    compared with (the port defaulted from the scheme: 80, 443; an IPv6 host in brackets),
    or ``*``. ``INVALID_ARGUMENT`` for anything else."""
    if not isinstance(value, str):
        if isinstance(value, (list, tuple, set, frozenset)):
            raise NatsBridgeError(ERROR_BAD_OPTION, f"an allowed host is one URL (a str), not a {type(value).__name__}; "
                                  "give each host on its own (e.g. `http://files:8080`)")
        raise NatsBridgeError(ERROR_BAD_OPTION, f"an allowed host must be a URL string such as `http://files:8080`, "
                              f"not {type(value).__name__} {value!r:.60}")
    if value == ANY_HOST:
        return ANY_HOST
    if not value:
        raise NatsBridgeError(ERROR_BAD_OPTION, "allowed host `` is empty; write a URL such as `http://files:8080`, "
                              "or `*` for every host")
    if "://" not in value:
        raise _refused(value, "is not a URL")
    try:
        u = urllib.parse.urlsplit(value)
        port = u.port
    except ValueError:
        raise _refused(value, "is not a URL (its port is not a number from 0 to 65535)") from None
    scheme = u.scheme.lower()
    if scheme not in ("http", "https"):
        raise _refused(value, "is not an http(s) URL")
    if not u.hostname or any(c.isspace() for c in value):
        raise _refused(value, "names no host")
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    return f"{host}:{port or (443 if scheme == 'https' else 80)}"
