"""NATS transport: connecting (``NATS_CONNECTION_FAILED``), which connection a call uses,
the ``broker_url`` an envelope names (credentials removed), and publishing with typed
errors (:func:`publish_message`, and the JetStream publish with its ack)."""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import urllib.parse
from collections.abc import Mapping
from typing import Any

import nats
import nats.errors
import nats.js
import nats.js.errors
import nkeys  # type: ignore[import-untyped]  # nats-py's `nkeys` extra, a dependency
from nats.aio.client import Client, RawCredentials, Srv
from nats.aio.transport import TcpTransport

from natsbridge_types.profile import (
    DEFAULT_FLUSH,
    DEFAULT_NATS_URL,
    ENV_NATS_CA,
    ENV_NATS_CREDS,
    ENV_NATS_NKEY,
    ENV_NATS_PASSWORD,
    ENV_NATS_TOKEN,
    ENV_NATS_URL,
    ENV_NATS_USER,
    ERROR_CONNECT_SETTINGS,
    ERROR_TOO_LARGE_TO_SEND,
    ERROR_WRITER_RULE,
    HEADER_CORRELATION_ID,
)

from . import _log
from .errors import NatsBridgeError
from .fetch import describe_failure
from .options import PositiveSeconds, checked
from .settings import (
    ConnectAuth,
    ConnectSettings,
    ConnectTls,
    resolve,
    resolve_connect_settings,
    shown_seed,
    shown_servers,
)
from .wire import header_len

__all__ = ["Client", "broker_url_of", "connect", "open_connection", "publish_message", "settings_for",
           "subscriptions_registered"]


@checked("connect")
async def connect(
    url: str | ConnectSettings | None = None,
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
    name: str = "natsbridge-python",
    connect_timeout: PositiveSeconds = 5.0,
) -> Client:
    """Connects to NATS with the settings :func:`natsbridge.resolve_connect_settings` resolves
    from these arguments, the environment and the nats CLI's context in use (``url``: a URL or
    comma-separated seeds, else ``NATS_URL``, else the context's, else the default; or
    :class:`ConnectSettings` resolved before, with no other setting given): TLS (a CA file
    instead of the system roots, a client certificate, ``tls://`` refused without TLS,
    ``tls_first``), a token, a user and password (also from a URL's user info, taken out of the
    URL before the client sees it), an NKey seed file or a ``.creds`` file.

    ``INVALID_ARGUMENT`` for settings that cannot be used (naming their sources);
    ``NATS_CONNECTION_FAILED`` when no server answers or the server refuses, saying why
    (refused, DNS, timed out, TLS, the credential sent and where it came from, never its
    value) and what to try. Reconnects by itself after that."""
    given = {"context": context, "no_context": no_context or None, "user": user, "password": password,
             "token": token, "creds": creds, "nkey": nkey, "tls_ca": tls_ca, "tls_cert": tls_cert, "tls_key": tls_key,
             "tls_first": tls_first or None}
    if isinstance(url, ConnectSettings):
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise NatsBridgeError(ERROR_CONNECT_SETTINGS, f"connect: `{extra[0]}` cannot go with settings already "
                                  "resolved (ConnectSettings); resolve them with it")
        settings = url
    else:
        settings = resolve_connect_settings(url, context=context, no_context=no_context, user=user, password=password,
                                            token=token, creds=creds, nkey=nkey, tls_ca=tls_ca, tls_cert=tls_cert,
                                            tls_key=tls_key, tls_first=tls_first)
    return await open_connection(settings, name=name, connect_timeout=connect_timeout)


def settings_for(connection: str | ConnectSettings | None) -> ConnectSettings:
    """The settings a call that connects for itself uses: ``connection`` as resolved settings,
    or a URL (named ``--server``, as every runtime names it; else ``NATS_URL``, the context,
    the default), with the credentials and TLS of the environment and the context."""
    if isinstance(connection, ConnectSettings):
        return connection
    return resolve({"server": connection}, os.environ)


def _origin(settings: ConnectSettings) -> str:
    if settings.servers_source == "default":
        return f"the default {DEFAULT_NATS_URL}: {ENV_NATS_URL} is unset and no nats CLI context gives a `url`"
    return f"from {settings.servers_source}"


def _connect_hint(settings: ConnectSettings, why: str, refused_auth: bool) -> str:
    auth = settings.auth
    if refused_auth:
        if auth.kind == "none":
            return (f"The server wants credentials: give a token, a user and password, a .creds file or an NKey seed "
                    f"(--token or {ENV_NATS_TOKEN}, --user + --password or {ENV_NATS_USER} + {ENV_NATS_PASSWORD}, "
                    f"--creds or {ENV_NATS_CREDS}, --nkey or {ENV_NATS_NKEY}, or a nats CLI context)")
        return f"Check the {auth.kind} from {auth.source}, and the server's authorization configuration"
    shown = shown_servers(settings.servers)
    if why.startswith("TLS"):
        return (f"Check that the server at {shown} speaks TLS and that its certificate is signed by the CA trusted here "
                f"({'the system roots' if settings.tls.ca is None else settings.tls.ca}; --tls-ca or {ENV_NATS_CA})")
    source = settings.servers_source
    if source == "default":
        return f"Start a NATS server (`nats-server -js`), set {ENV_NATS_URL} or select a nats CLI context"
    if source == ENV_NATS_URL:
        return f"Start the NATS server at {shown} or change {ENV_NATS_URL}"
    if source.startswith("context "):
        return f"Start the NATS server at {shown} or change {source} (or give another URL)"
    return f"Start the NATS server at {shown} or pass another URL"


class _Client(Client):
    """nats-py's client, made to insist on TLS when the settings require it: nats-py upgrades
    only when the server's INFO asks for TLS, so a ``tls://`` URL, a CA or a client certificate
    would otherwise go (credentials included) over plain TCP to a server that does not.
    It overrides private methods of nats-py's ``Client``: hence the ``<2.17`` pin in
    pyproject.toml, to be widened only after checking them against the new release."""

    def __init__(self, tls_required: bool) -> None:
        super().__init__()
        self._natsbridge_tls_required = tls_required

    async def _connect_to_server(self, s: Srv) -> None:
        await super()._connect_to_server(s)
        if type(self._transport) is TcpTransport:
            self._transport.__class__ = _BoundedTcp

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        server = self._current_server
        if (initial_connection and self._natsbridge_tls_required and server is not None
                and server.uri.scheme not in ("ws", "wss")):
            info["tls_required"] = True
        await super()._process_info(info, initial_connection)


class _BoundedTcp(TcpTransport):
    """nats-py's TCP transport, whose close cannot hang: after a failed TLS upgrade (a wrong
    CA, a server without TLS) the plain writer's ``wait_closed`` never returns, its protocol
    having gone to the TLS layer, and nats-py waits for it before trying the next server."""

    async def wait_closed(self) -> None:
        try:
            await asyncio.wait_for(super().wait_closed(), _CLOSE_WAIT)  # type: ignore[no-untyped-call]
        except asyncio.TimeoutError:
            pass


_CLOSE_WAIT = 0.5
"""Seconds a closing socket is waited for."""


def _refused(message: str) -> NatsBridgeError:
    return NatsBridgeError(ERROR_CONNECT_SETTINGS, message)


def _unreadable(source: str, path: str, e: OSError | UnicodeDecodeError) -> NatsBridgeError:
    why = "it is not UTF-8 text" if isinstance(e, UnicodeDecodeError) else (e.strerror or type(e).__name__)
    return _refused(f"{source} names {path}, which cannot be read: {why}")


def _check_readable(path: str, source: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise _unreadable(source, path, e) from None


def _no_password() -> str:
    """The password of an encrypted client key: none (OpenSSL would ask on the terminal)."""
    return ""


def _tls_context(tls: ConnectTls) -> ssl.SSLContext | None:
    """An SSL context trusting the CA file (instead of the system roots) with the client
    certificate; ``None`` when neither is given (nats-py's default context then). A file
    that cannot be read or used is ``INVALID_ARGUMENT`` naming its source, never its text."""
    if tls.ca is None and tls.cert is None:
        return None
    for name, path in (("tls-ca", tls.ca), ("tls-cert", tls.cert), ("tls-key", tls.key)):
        if path is not None:
            _check_readable(path, tls.sources.get(name, f"--{name}"))
    try:
        context = ssl.create_default_context(cafile=tls.ca)
    except (OSError, ssl.SSLError):
        raise _refused(f"{tls.sources.get('tls-ca', '--tls-ca')} names {tls.ca}, which holds no PEM "
                       "certificate") from None
    if tls.cert is not None:
        try:
            context.load_cert_chain(tls.cert, tls.key, password=_no_password)
        except (OSError, ssl.SSLError):
            raise _refused(f"{tls.sources.get('tls-cert', '--tls-cert')} names {tls.cert} and "
                           f"{tls.sources.get('tls-key', '--tls-key')} names {tls.key}, which are not a PEM "
                           "certificate and its (unencrypted) private key") from None
    return context


def _credential_text(auth: ConnectAuth) -> str:
    """The content of a creds or seed file (read now), or the embedded one."""
    if auth.data is not None:
        return auth.data
    assert auth.path is not None and auth.source is not None
    try:
        with open(auth.path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise _unreadable(auth.source, auth.path, e) from None


def _names(auth: ConnectAuth) -> str:
    """``--nkey names FILE`` / ``context 'x' `creds` embeds content``: what an error about the
    file's content says (never the content)."""
    return f"{auth.source} embeds content" if auth.inline else f"{auth.source} names {auth.path}"


_NO_SEED = "no NKey user seed (a line starting SU)"


def _check_seed(seed: str, auth: ConnectAuth, where: str) -> None:
    """``INVALID_ARGUMENT`` (with a fixed message: the text is never shown) unless ``seed``
    is an NKey user seed."""
    try:
        if not seed.startswith("SU"):
            raise ValueError
        nkeys.from_seed(bytearray(seed.encode())).wipe()
    except Exception:  # nkeys raises its own errors, and others for text that is no seed at all
        raise _refused(f"{_names(auth)}, {where} {_NO_SEED}") from None


def _credentials(auth: ConnectAuth) -> dict[str, Any]:
    """nats-py's keyword arguments for ``auth``; the files checked first (nats-py would loop
    for ever on a .creds file without a JWT block)."""
    if auth.kind == "user_password":
        return {"user": auth.user, "password": auth.password}
    if auth.kind == "token":
        return {"token": auth.token}
    if auth.kind == "nkey":
        seed = _credential_text(auth).strip()
        _check_seed(seed, auth, "which holds")
        return {"nkeys_seed_str": seed} if auth.inline else {"nkeys_seed": auth.path}
    if auth.kind == "creds":
        text = _credential_text(auth)
        lines = [line.strip() for line in text.splitlines()]
        blocks = {}
        for marker in (_JWT_MARKER, _SEED_MARKER):
            at = next((i for i, line in enumerate(lines) if marker in line), None)
            if at is None or at + 1 >= len(lines) or not lines[at + 1]:
                raise _refused(f"{_names(auth)}, which is not a .creds file (no `{marker}` block)")
            blocks[marker] = lines[at + 1]
        _check_seed(blocks[_SEED_MARKER], auth, "whose seed block holds")
        return {"user_credentials": RawCredentials(text) if auth.inline else auth.path}
    return {}


_JWT_MARKER = "BEGIN NATS USER JWT"
_SEED_MARKER = "BEGIN USER NKEY SEED"


async def open_connection(settings: ConnectSettings, *, name: str = "natsbridge-python",
                          connect_timeout: float = 5.0) -> Client:
    """:func:`connect` with settings already resolved, whose sources an error names."""
    servers = list(settings.servers)
    shown = shown_servers(servers)
    if settings.tls.required:
        plain_ws = [shown_seed(s) for s in servers if s.startswith("ws://")]
        if plain_ws:
            raise NatsBridgeError(ERROR_CONNECT_SETTINGS, f"{plain_ws[0]} is a plain WebSocket, but the settings "
                                  f"require TLS ({settings}): use wss://")
    options: dict[str, Any] = _credentials(settings.auth)
    tls = _tls_context(settings.tls)
    if tls is not None:
        options["tls"] = tls
    if settings.tls.first:
        options["tls_handshake_first"] = True
    errors: list[BaseException] = []

    async def on_error(e: Exception) -> None:
        if not connected:
            errors.append(e)
            return
        _log.warning("NATS connection event", None, "connect", server=shown, error=f"{type(e).__name__}: {e}")

    connected: list[Client] = []

    async def on_disconnect() -> None:
        if not connected:  # a first connect that failed (its error says why)
            return
        if connected[0].is_closed:  # closed by its owner, not lost
            _log.debug("NATS connection closed", None, "connect", server=shown)
            return
        _log.warning("NATS disconnected", None, "connect", server=shown)

    async def on_reconnect() -> None:
        _log.info("NATS reconnected", None, "connect", server=shown)

    _log.debug("connecting to NATS", None, "connect", server=shown, settings=str(settings))
    nc = _Client(settings.tls.required)
    try:
        # A few tries at first (a server that is not there fails the call within seconds; a
        # finite count, since nats-py retries a failing first connect for ever with 0), then,
        # once connected, reconnect for as long as it takes.
        options.update(
            servers=servers, name=name, connect_timeout=connect_timeout, max_reconnect_attempts=2,
            allow_reconnect=True, reconnect_time_wait=0.25, error_cb=on_error,
            disconnected_cb=on_disconnect, reconnected_cb=on_reconnect,
        )
        await nc.connect(**options)
    except Exception as e:  # nats-py raises errors of several families while connecting
        first = errors[0] if errors else e
        why = describe_failure(first)
        text = str(first).lower()
        refused_auth = isinstance(first, nats.errors.Error) and ("authoriz" in text or "authenticat" in text)
        if refused_auth:
            why = (f"the server refused the credentials ({settings.auth.described()})" if settings.auth.kind != "none"
                   else "the server wants credentials and none were given")
        elif settings.tls.required and not why.startswith("TLS"):
            why += " (TLS is required)"
        try:
            await nc.close()
        except Exception:  # noqa: BLE001 - what is left of a failed connect
            pass
        raise NatsBridgeError(
            "NATS_CONNECTION_FAILED",
            f"connecting to NATS at {shown} failed: {why} (the servers are {_origin(settings)}"
            f"{'' if refused_auth else f'; credentials: {settings.auth.described()}'}). "
            f"{_connect_hint(settings, why, refused_auth)}",
        ) from e
    nc.options["max_reconnect_attempts"] = -1
    connected.append(nc)
    return nc


@checked("subscriptions_registered")
async def subscriptions_registered(nc: Client, timeout: PositiveSeconds = 5.0) -> None:
    """Returns once the server has registered every subscription ``nc`` made before the call.

    ``await nc.flush()`` does not prove it: nats-py writes its PING straight to the socket,
    ahead of SUBs still waiting for the background flusher, so the PONG can come back before
    the server saw them (a request published right after is then lost). A message to a fresh
    inbox of this connection travels behind those SUBs, so its return proves they arrived,
    as the Rust runtime's ``transport::subscriptions_registered`` does."""
    probe = nc.new_inbox()
    sub = await nc.subscribe(probe, max_msgs=1)
    try:
        await nc.publish(probe, b"")
        await sub.next_msg(timeout=timeout)
    except Exception as e:
        raise NatsBridgeError("NATS_CONNECTION_FAILED", "the server did not confirm the subscriptions") from e


def broker_url_of(nc: Client) -> str | None:
    """The server a client is connected to, credentials removed."""
    u: urllib.parse.ParseResult | None = nc.connected_url
    return None if u is None else _shown_broker(u)


@functools.lru_cache(maxsize=64)
def _shown_broker(u: urllib.parse.ParseResult) -> str | None:
    """``u`` as an envelope's ``broker_url`` (formatted once per server URL, not per send)."""
    if not u.hostname:
        return None
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    scheme = u.scheme or "nats"
    return f"{scheme}://{host}:{u.port or 4222}"


@checked("publish_message")
async def publish_message(
    connection: Client | str | ConnectSettings,
    subject: str,
    text: str | bytes,
    correlation_id: str,
    *,
    headers: Mapping[str, str] | None = None,
    flush: bool = DEFAULT_FLUSH,
) -> None:
    """Publishes ``text`` (an envelope's JSON) on ``subject``, with ``Correlation-Id`` and any
    ``headers``. ``connection`` is a client, or a URL or :class:`ConnectSettings` to connect
    with for this call (then flushed and closed before returning, whatever ``flush`` says; a
    URL gets the credentials and TLS of the environment and the nats CLI's context)."""
    try:
        body = text.encode("utf-8") if isinstance(text, str) else text
    except UnicodeEncodeError as e:
        raise NatsBridgeError(ERROR_WRITER_RULE, "the text is not valid Unicode", correlation_id=correlation_id) from e
    own = not isinstance(connection, Client)
    nc = connection if isinstance(connection, Client) else await open_connection(settings_for(connection))
    try:
        all_headers = {HEADER_CORRELATION_ID: correlation_id, **(headers or {})}
        await publish_core(nc, subject, body, all_headers, flush or own, correlation_id)
    finally:
        if own:
            await nc.close()


async def publish_core(
    nc: Client, subject: str, body: bytes, headers: Mapping[str, str], flush: bool, correlation_id: str
) -> None:
    """Publishes on core NATS; the whole message (headers included) is checked against the
    server's ``max_payload`` first, since the server closes the connection otherwise."""
    total = len(body) + header_len(headers)
    if total > nc.max_payload:
        raise NatsBridgeError(
            ERROR_TOO_LARGE_TO_SEND, f"message of {total} bytes is over the server's max_payload {nc.max_payload}",
            correlation_id=correlation_id,
        )
    try:
        await nc.publish(subject, body, headers=dict(headers))
        if flush:
            await nc.flush(timeout=10)
    except nats.errors.MaxPayloadError as e:
        raise NatsBridgeError(ERROR_TOO_LARGE_TO_SEND, f"publishing to `{subject}`", correlation_id=correlation_id) from e
    except Exception as e:  # connection closed, bad subject, flush timeout, ...
        raise NatsBridgeError("PUBLISH_FAILED", f"publishing to `{subject}`",
                              correlation_id=correlation_id) from e
    _log.info("published", correlation_id, "publish", subject=subject, bytes=len(body))


async def publish_jetstream(
    js: nats.js.JetStreamContext, subject: str, body: bytes, headers: Mapping[str, str], correlation_id: str,
    timeout: float = 10.0,
) -> int:
    """Publishes through JetStream and waits for the ack; returns the stream sequence.
    A repeated ``Nats-Msg-Id`` inside the stream's window is acked as a duplicate."""
    try:
        ack = await js.publish(subject, body, timeout=timeout, headers=dict(headers))
    except Exception as e:
        raise NatsBridgeError("PUBLISH_FAILED", f"JetStream publish to `{subject}`",
                              correlation_id=correlation_id) from e
    _log.info("published to stream", correlation_id, "publish", subject=subject, bytes=len(body),
              stream=ack.stream, seq=ack.seq, duplicate=bool(ack.duplicate))
    return int(ack.seq)
