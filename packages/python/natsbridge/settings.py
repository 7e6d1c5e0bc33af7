"""NATS connection settings, resolved by one rule in every runtime and CLI (schema/README.md
rule 17; the profile's ``connection`` group; conformance op ``connect_settings``).

Each setting comes from its argument (the CLIs' flag), else its environment variable (the nats
CLI's names: ``NATS_URL``, ``NATS_TOKEN``, ``NATS_CREDS``, ...), else the nats CLI's context
in use (ADR-21 files: ``--context`` / ``NATS_CONTEXT`` / the one ``nats context select``
chose), else the default. Credentials are one unit: the first layer that has any (arguments
and environment together, then the context) gives them all, and two kinds within one layer
(``--creds`` with ``NATS_TOKEN``) are ``INVALID_ARGUMENT`` naming both. User info in a server
URL is that URL's layer's credential, and is taken out of the URL.

:func:`resolve_connect_settings` is pure but for reading the context files: the credential
files themselves are read when connecting. Its :class:`ConnectSettings` prints (``repr``,
``str``) only ``servers=<seeds without user info, query REDACTED> auth=<kind> from <source>
context=<name> tls``: never a password, token, seed or embedded credential.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import posixpath
import re
import typing
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from natsbridge_types.profile import (
    CONTEXT_CONFIG_FALLBACK,
    CONTEXT_DIR,
    CONTEXT_FIELDS,
    CONTEXT_FILE_EXTENSION,
    CONTEXT_REFERENCE_SCHEMES,
    CONTEXT_SELECTED_FILE,
    CONTEXT_UNSUPPORTED,
    DEFAULT_NATS_URL,
    ENV_HOME,
    ENV_NATS_CA,
    ENV_NATS_CERT,
    ENV_NATS_CONTEXT,
    ENV_NATS_CREDS,
    ENV_NATS_KEY,
    ENV_NATS_NKEY,
    ENV_NATS_PASSWORD,
    ENV_NATS_TOKEN,
    ENV_NATS_URL,
    ENV_NATS_USER,
    ENV_XDG_CONFIG_HOME,
    ERROR_CONNECT_SETTINGS,
)

from .errors import NatsBridgeError
from .options import checked

__all__ = ["AuthKind", "ConnectAuth", "ConnectSettings", "ConnectTls", "ENV_OF", "FLAG_NAMES", "resolve",
           "resolve_connect_settings", "shown_seeds", "shown_servers"]

AuthKind = Literal["none", "user_password", "token", "creds", "nkey"]
"""What a connection authenticates with."""

ENV_OF: dict[str, str] = {
    "server": ENV_NATS_URL, "user": ENV_NATS_USER, "password": ENV_NATS_PASSWORD, "token": ENV_NATS_TOKEN,
    "creds": ENV_NATS_CREDS, "nkey": ENV_NATS_NKEY, "tls-ca": ENV_NATS_CA, "tls-cert": ENV_NATS_CERT,
    "tls-key": ENV_NATS_KEY,
}
"""Each setting (the CLIs' flag without ``--``) and its environment variable."""

FLAG_NAMES: tuple[str, ...] = (*ENV_OF, "tls-first")
"""Every setting but the context's own (``context``, ``no-context``)."""

_TLS_FIRST = "tls-first"
_FILE_SCHEME = "file"
"""The URI scheme of a local path (``file:///etc/nats/u.creds``)."""
_DATA_SCHEME = "data"
"""RFC 2397 inline content (``data:;base64,...``, written by ``nats context save --embed``)."""


def _refused(message: str) -> NatsBridgeError:
    return NatsBridgeError(ERROR_CONNECT_SETTINGS, message)


# --- what a ConnectSettings holds ----------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ConnectAuth:
    """The credential a connection sends: ``kind`` and where it came from (``source``: a flag,
    named as the CLIs name it (``--token``, also for the library's keyword ``token``), an
    environment variable, ``context 'NAME' `field```, or ``the user info of ...``). ``user``/``password`` for ``user_password``, ``token`` for ``token``, ``path``
    (a ``.creds`` or NKey seed file, read when connecting) or ``data`` (its content, embedded in
    a context as ``data:;base64,...``) for ``creds`` and ``nkey``. Its ``repr`` shows no secret."""

    kind: AuthKind = "none"
    source: str | None = None
    user: str | None = None
    password: str | None = None
    token: str | None = None
    path: str | None = None
    data: str | None = field(default=None, compare=False)

    @property
    def inline(self) -> bool:
        """Whether the credential file's content is embedded (no file to read)."""
        return self.data is not None

    def described(self) -> str:
        """``token from --token``, ``creds from NATS_CREDS``, or ``none``: what an error names."""
        return self.kind if self.kind == "none" else f"{self.kind} from {self.source}"

    def __repr__(self) -> str:
        where = f", path={self.path!r}" if self.path is not None else (", inline" if self.inline else "")
        return f"ConnectAuth({self.described()}{where})"


@dataclass(frozen=True)
class ConnectTls:
    """TLS: the CA file to trust instead of the system roots, the client certificate and
    key, ``first`` (handshake before the server's INFO), and ``required`` (a ``tls://`` or
    ``wss://`` seed, a file above or ``first``: the connection is refused rather than made
    without TLS). ``sources`` names where each file came from (``tls-ca``: ``NATS_CA``)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    first: bool = False
    required: bool = False
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, repr=False)
class ConnectSettings:
    """Where and how to connect, as :func:`resolve_connect_settings` resolved it: the seeds
    (without user info), where they came from, the context used, the credential and TLS.
    ``repr`` and ``str`` are :attr:`shown`; no secret is ever printed."""

    servers: tuple[str, ...]
    servers_source: str
    context: str | None = None
    auth: ConnectAuth = ConnectAuth()
    tls: ConnectTls = ConnectTls()

    @property
    def shown(self) -> str:
        """``servers=<seeds> auth=<kind>[ from <source>][ context=<name>][ tls]``: seeds without
        user info, a query as ``?REDACTED``."""
        text = f"servers={shown_servers(self.servers)} auth={self.auth.described()}"
        if self.context is not None:
            text += f" context={self.context}"
        return text + (" tls" if self.tls.required else "")

    def __repr__(self) -> str:
        return self.shown

    def __str__(self) -> str:
        return self.shown


def shown_seed(seed: str) -> str:
    """A seed (as resolved: without user info) as logs, errors and envelopes show it: as
    written, a query as ``?REDACTED``."""
    before, query, _ = seed.partition("?")
    return f"{before}?REDACTED" if query else before


def shown_servers(servers: tuple[str, ...] | list[str]) -> str:
    """Resolved seeds as logs, errors and envelopes show them: comma-joined, each a query as
    ``?REDACTED``."""
    return ",".join(shown_seed(s) for s in servers)


def shown_seeds(url: str) -> str:
    """Seeds as a caller wrote them (``nats://u:p@h:4222,h2``) as they may be shown: each
    without user info, ``nats://`` added when it has no scheme, the scheme lowercased, a query
    as ``?REDACTED``; a seed that does not parse as ``<unparseable url>``."""
    shown: list[str] = []
    for seed in (s.strip() for s in url.split(",")):
        if seed:
            try:
                shown.append(shown_seed(_split_userinfo(seed, "")[0]))
            except NatsBridgeError:
                shown.append("<unparseable url>")
    return ",".join(shown)


def _flag(name: str) -> str:
    """A setting's source as the CLIs and the library name it: ``--token``, ``--tls-ca``."""
    return f"--{name}"


# --- small helpers --------------------------------------------------------------------------


def _blank(value: object) -> bool:
    """Whether ``value`` says nothing: not a string, or empty or whitespace only (flags,
    keywords, variables and context fields alike)."""
    return not isinstance(value, str) or value.strip() == ""


def _non_empty(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return None if value is None or _blank(value) else value


def _scheme(ref: str) -> str:
    """The URI scheme ``ref`` starts with (two characters at least, so that ``C:`` is none),
    lower-cased; ``""`` without one."""
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]+):", ref)
    return m.group(1).lower() if m else ""


def _expand(path: str, env: Mapping[str, str]) -> str:
    """``$VAR`` / ``${VAR}`` from ``env`` and a leading ``~`` as the home (as the nats CLI
    expands a context's paths)."""
    path = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), path)
    home = _non_empty(env, ENV_HOME)
    if home is not None and (path == "~" or path.startswith("~/")):
        path = home + path[1:]
    return path


def _literal(value: str, where: str) -> str:
    """A token or password as written, unless it is a reference the nats CLI resolves with a
    helper program or reads (``op://``, ``nsc://``, ``env://``, ``file://``, ``data:``): refused,
    naming ``where``."""
    s = _scheme(value)
    if s in CONTEXT_REFERENCE_SCHEMES and (value[len(s) + 1:].startswith("//") or s == _DATA_SCHEME):
        written = f"{s}:" if s == _DATA_SCHEME else f"{s}://"
        raise _refused(f"{where} is {CONTEXT_REFERENCE_SCHEMES[s]} (`{written}`), which only the nats CLI resolves; "
                       "give the value itself")
    return value


class _FileRef(NamedTuple):
    path: str | None
    data: str | None


def _file_path(ref: str, where: str) -> str:
    """The path of a ``file:`` reference: ``file:`` off, then ``//`` if present
    (``file:///k/x`` and ``file:/k/x`` are ``/k/x``); nothing left is refused."""
    rest = ref[len(_FILE_SCHEME) + 1:]
    path = rest[2:] if rest.startswith("//") else rest
    if path.strip() == "":
        raise _refused(f"{where}: a `file:` reference needs a path")
    return path


def _file_ref(ref: str, where: str, env: Mapping[str, str]) -> _FileRef:
    """A ``creds`` or ``nkey`` value: a path, ``file://PATH``, or ``data:;base64,...``
    (``nats context save --embed``)."""
    s = _scheme(ref)
    if s == "":
        return _FileRef(_expand(ref, env), None)
    if s == _FILE_SCHEME:
        return _FileRef(_expand(_file_path(ref, where), env), None)
    if s == _DATA_SCHEME:
        head, _, payload = ref[len(s) + 1:].partition(",")
        if "base64" not in [p.strip().lower() for p in head.split(";")]:
            raise _refused(f"{where}: a `data:` value must be base64 (`data:;base64,...`)")
        try:
            content = base64.b64decode(payload.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise _refused(f"{where}: the embedded `data:` content is not base64 of UTF-8 text") from None
        return _FileRef(None, content)
    what = CONTEXT_REFERENCE_SCHEMES.get(s, f"a `{s}:` reference")
    raise _refused(f"{where} is {what}, which NATSBridge does not resolve; give a file path "
                   "(or `data:;base64,...` content)")


def _split_userinfo(seed: str, where: str) -> tuple[str, ConnectAuth | None]:
    """One seed as written but for its user info (taken out), its scheme (lowercased) and a
    missing scheme (``nats://`` added), and the credential the user info was
    (``user:password@``, ``user:@`` with an empty password, or ``token@``; ``@`` alone is
    none). A seed without a scheme is read as ``nats://`` first, so that
    ``alice:pw@host:4222`` is never taken for a URL of scheme ``alice``."""
    full = seed if "://" in seed else f"nats://{seed}"
    try:
        u = urllib.parse.urlsplit(full)
        u.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise _refused(f"{where}: a server URL does not parse (it is not shown: it may hold a password)") from None
    if not u.hostname:
        raise _refused(f"{where}: a server URL has no host (it is not shown: it may hold a password)")
    scheme, rest = full.split("://", 1)
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    userinfo, at, _ = rest[:end].rpartition("@")
    clean = f"{scheme.lower()}://{rest[len(userinfo) + len(at):]}"
    if userinfo == "":
        return clean, None
    source = f"the user info of {where}"
    user, colon, password = userinfo.partition(":")
    if colon:
        return clean, ConnectAuth("user_password", source, user=urllib.parse.unquote(user),
                                  password=urllib.parse.unquote(password))
    return clean, ConnectAuth("token", source, token=urllib.parse.unquote(userinfo))


# --- the context ----------------------------------------------------------------------------


class _Context(NamedTuple):
    name: str | None
    fields: dict[str, object]


_NO_CONTEXT = _Context(None, {})


def _config_root(env: Mapping[str, str]) -> str | None:
    """``$XDG_CONFIG_HOME``, else ``$HOME/.config``, else ``None``."""
    xdg = _non_empty(env, ENV_XDG_CONFIG_HOME)
    if xdg is not None:
        return xdg
    home = _non_empty(env, ENV_HOME)
    return None if home is None else posixpath.join(home, CONTEXT_CONFIG_FALLBACK)


def _valid_name(name: str, where: str) -> None:
    """The nats CLI's rule (jsm.go ``ValidateName``): not empty, no ``..``, ``/`` or ``\\``."""
    if name == "" or ".." in name or "/" in name or "\\" in name:
        raise _refused(f"{where}: {name!r} is not a context name (it is empty or has `..`, `/` or `\\`)")


def _read_text(path: str, what: str) -> str | None:
    """The text of the file ``path``; ``None`` when there is none; ``INVALID_ARGUMENT``
    naming ``what`` and ``path`` when it is there but cannot be read (not UTF-8, a directory,
    no permission)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise _refused(f"{what} ({path}) cannot be read: it is not UTF-8 text") from None
    except OSError as e:
        raise _refused(f"{what} ({path}) cannot be read: {e.strerror or type(e).__name__}") from None


def _set_unsupported(value: object) -> bool:
    """Whether a context sets an unsupported field: a string that is not blank, ``true``, a
    number, a non-empty list or object; ``false``, ``null`` and ``""`` are not set."""
    if value is None or isinstance(value, bool):
        return value is True
    if isinstance(value, str):
        return not _blank(value)
    if isinstance(value, (list, dict)):
        return len(value) > 0
    return True


def _load_context(named: str | None, where: str, no_context: bool, env: Mapping[str, str]) -> _Context:
    """The context in use: ``named`` (from ``where``), else the selected one, else none."""
    if no_context:
        return _NO_CONTEXT
    if named is not None and named.endswith(CONTEXT_FILE_EXTENSION) and os.path.isfile(named):
        path, name = named, os.path.basename(named)[: -len(CONTEXT_FILE_EXTENSION)]
    else:
        root = _config_root(env)
        if named is None:
            if root is None:
                return _NO_CONTEXT  # no home to look in: nothing is selected
            selected = posixpath.join(root, CONTEXT_SELECTED_FILE)
            chosen = _read_text(selected, "the file naming the selected nats CLI context")
            if chosen is None or chosen.strip() == "":
                return _NO_CONTEXT  # none selected
            named, where = chosen.strip(), f"the context selected in {selected}"
        if root is None:
            raise _refused(f"{where}: cannot find the nats CLI context {named!r}: neither {ENV_XDG_CONFIG_HOME} nor "
                           f"{ENV_HOME} is set")
        _valid_name(named, where)
        path, name = posixpath.join(root, CONTEXT_DIR, named + CONTEXT_FILE_EXTENSION), named
    text = _read_text(path, f"context {name!r}")
    if text is None:
        raise _refused(f"{where}: the nats CLI context {name!r} does not exist ({path}); `nats context ls` lists "
                       "them")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _refused(f"context {name!r} ({path}) is not JSON") from None
    if not isinstance(data, dict):
        raise _refused(f"context {name!r} ({path}) is not a JSON object")
    tls_first_field = CONTEXT_FIELDS[_TLS_FIRST]
    for key in CONTEXT_FIELDS.values():
        value = data.get(key)
        want, what = (bool, "true or false") if key == tls_first_field else (str, "a string")
        if value is not None and not isinstance(value, want):
            raise _refused(f"context {name!r} ({path}): `{key}` must be {what}, not {type(value).__name__}")
    for key, what in CONTEXT_UNSUPPORTED.items():
        if _set_unsupported(data.get(key)):
            raise _refused(f"context {name!r} ({path}) sets `{key}` ({what}), which NATSBridge does not support; "
                           "remove it or use another context")
    return _Context(name, data)


# --- the resolution -------------------------------------------------------------------------


class _Picked(NamedTuple):
    value: str | None
    source: str
    layer: Literal["explicit", "context", "default"]


_KIND_ORDER: tuple[AuthKind, ...] = ("user_password", "token", "creds", "nkey")
"""The order an error lists credentials of several kinds in."""


def _listed(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def resolve(flags: Mapping[str, object], env: Mapping[str, str]) -> ConnectSettings:
    """The settings of ``flags`` (keys: the CLIs' flag names without ``--``: ``server``,
    ``context``, ``no-context``, ``user``, ``password``, ``token``, ``creds``, ``nkey``,
    ``tls-ca``, ``tls-cert``, ``tls-key``, ``tls-first``; ``None`` or a blank string is not
    given) and ``env`` (the whole environment). Sources are named as the CLIs' flags
    (``--token``), whoever gave them. ``INVALID_ARGUMENT`` (``ERROR_CONNECT_SETTINGS``)
    naming every source involved, never a secret."""

    def given(name: str) -> str | None:
        value = flags.get(name)
        return None if _blank(value) else typing.cast(str, value)

    named, where = given("context"), _flag("context")
    if named is None:
        named, where = _non_empty(env, ENV_NATS_CONTEXT), ENV_NATS_CONTEXT
    ctx = _load_context(named, where, bool(flags.get("no-context")), env)
    ctx_where = f"context {ctx.name!r}"

    def explicit(name: str) -> _Picked:
        value = given(name)
        if value is not None:
            return _Picked(value, _flag(name), "explicit")
        value = _non_empty(env, ENV_OF[name])
        if value is not None:
            return _Picked(value, ENV_OF[name], "explicit")
        return _Picked(None, "default", "default")

    def in_context(name: str) -> _Picked:
        key = CONTEXT_FIELDS[name]
        value = ctx.fields.get(key)
        if isinstance(value, str) and not _blank(value):
            return _Picked(value, f"{ctx_where} `{key}`", "context")
        return _Picked(None, "default", "default")

    def pick(name: str) -> _Picked:
        first = explicit(name)
        return first if first.value is not None else in_context(name)

    # Servers: flag > env > context > default; each seed gives up its user info.
    server = pick("server")
    url, url_source = (server.value, server.source) if server.value is not None else (DEFAULT_NATS_URL, "default")
    seeds: list[str] = []
    url_auth: ConnectAuth | None = None
    for seed in (s.strip() for s in url.split(",")):
        if seed:
            clean, auth = _split_userinfo(seed, url_source)
            seeds.append(clean)
            url_auth = url_auth or auth  # the first seed with credentials gives them for the cluster
    if not seeds:
        raise _refused(f"{url_source}: no server URL")

    # Credentials, one unit per layer: the explicit one (arguments over environment, field by
    # field), else the context's.
    def kinds(layer: Literal["explicit", "context"]) -> ConnectAuth | None:
        get = explicit if layer == "explicit" else in_context
        found: list[tuple[ConnectAuth, str]] = []  # each with all its sources
        user, password = get("user"), get("password")
        if user.value is not None or password.value is not None:
            if user.value is None or password.value is None:
                have = user if user.value is not None else password
                missing = "password" if user.value is not None else "user"
                hint = f" (a token goes in {_flag('token')} or {ENV_NATS_TOKEN})" if missing == "password" else ""
                raise _refused(f"{have.source} needs a {missing} too{hint}")
            found.append((ConnectAuth("user_password", user.source, user=_literal(user.value, user.source),
                                      password=_literal(password.value, password.source)),
                          f"{user.source}, {password.source}"))
        token = get("token")
        if token.value is not None:
            found.append((ConnectAuth("token", token.source, token=_literal(token.value, token.source)), token.source))
        for kind in ("creds", "nkey"):
            picked = get(kind)
            if picked.value is not None:
                ref = _file_ref(picked.value, picked.source, env)
                found.append((ConnectAuth("creds" if kind == "creds" else "nkey", picked.source, path=ref.path,
                                          data=ref.data), picked.source))
        if url_auth is not None and server.layer == layer:
            found.append((url_auth, typing.cast(str, url_auth.source)))
        if len(found) > 1:
            found.sort(key=lambda f: _KIND_ORDER.index(f[0].kind))  # stable: the user info after its kind's flags
            raise _refused(f"two kinds of credentials: {_listed([f'{a.kind} ({sources})' for a, sources in found])}; "
                           "give one")
        return found[0][0] if found else None

    auth = kinds("explicit") or kinds("context") or ConnectAuth()

    # TLS: each file on its own, flag > env > context.
    files: dict[str, tuple[str, str]] = {}
    for name in ("tls-ca", "tls-cert", "tls-key"):
        picked = pick(name)
        if picked.value is not None:
            s = _scheme(picked.value)
            if s not in ("", _FILE_SCHEME):
                raise _refused(f"{picked.source}: a TLS file is a path (or `file://PATH`), not a `{s}:` reference")
            path = _file_path(picked.value, picked.source) if s else picked.value
            files[name] = (_expand(path, env), picked.source)
    if "tls-cert" in files and "tls-key" not in files:
        raise _refused(f"{files['tls-cert'][1]} needs a key too ({_flag('tls-key')}, {ENV_NATS_KEY} or a context's "
                       f"{CONTEXT_FIELDS['tls-key']})")
    if "tls-key" in files and "tls-cert" not in files:
        raise _refused(f"{files['tls-key'][1]} needs a certificate too ({_flag('tls-cert')}, {ENV_NATS_CERT} or a "
                       f"context's {CONTEXT_FIELDS['tls-cert']})")
    tls_first = flags.get(_TLS_FIRST) is True or ctx.fields.get(CONTEXT_FIELDS[_TLS_FIRST]) is True
    required = tls_first or bool(files) or any(_scheme(s) in ("tls", "wss") for s in seeds)
    tls = ConnectTls(ca=files.get("tls-ca", (None,))[0], cert=files.get("tls-cert", (None,))[0],
                     key=files.get("tls-key", (None,))[0], first=tls_first, required=required,
                     sources={name: source for name, (_, source) in files.items()})
    return ConnectSettings(tuple(seeds), url_source, ctx.name, auth, tls)


@checked("resolve_connect_settings")
def resolve_connect_settings(
    url: str | None = None,
    *,
    context: str | None = None,
    no_context: bool = False,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    creds: str | os.PathLike[str] | None = None,
    nkey: str | os.PathLike[str] | None = None,
    tls_ca: str | os.PathLike[str] | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    tls_first: bool = False,
    env: Mapping[str, str] | None = None,
) -> ConnectSettings:
    """The connection settings these arguments, the environment ``env`` (default: the
    process's) and the nats CLI's context in use give, by the rule every runtime and CLI
    follows (see the module): ``url`` is a server URL or a comma-separated list of seeds
    (``NATS_URL``), ``context`` a context name or the path of a context's ``.json`` file
    (``NATS_CONTEXT``; default: the selected one), ``no_context`` ignores every context;
    ``user`` + ``password`` (``NATS_USER``, ``NATS_PASSWORD``), ``token`` (``NATS_TOKEN``),
    ``creds`` (a ``.creds`` file, ``NATS_CREDS``), ``nkey`` (an NKey seed file,
    ``NATS_NKEY``), ``tls_ca`` (``NATS_CA``: trusted instead of the system roots),
    ``tls_cert`` + ``tls_key`` (``NATS_CERT``, ``NATS_KEY``), ``tls_first``.

    Reads the context files, nothing else (the credential and TLS files are read when
    connecting); ``INVALID_ARGUMENT`` naming every source involved, as the CLIs name them
    (``--token`` for ``token``, ``--server`` for ``url``, ``NATS_CREDS``,
    ``context 'prod' `creds```), for settings that cannot be used as given."""
    flags: dict[str, object] = {
        "server": url, "context": context, "no-context": no_context, "user": user, "password": password,
        "token": token, "creds": _path(creds), "nkey": _path(nkey), "tls-ca": _path(tls_ca),
        "tls-cert": _path(tls_cert), "tls-key": _path(tls_key), "tls-first": tls_first,
    }
    return resolve(flags, os.environ if env is None else env)


def _path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)
