"""NATS transport: connecting (``NATS_CONNECTION_FAILED``), which connection a call uses,
the ``broker_url`` an envelope names (credentials removed), and publishing with typed
errors (:func:`publish_message`, and the JetStream publish with its ack)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

import nats
import nats.errors
import nats.js
import nats.js.errors
from nats.aio.client import Client

from natsbridge_types.profile import DEFAULT_FLUSH, ERROR_TOO_LARGE_TO_SEND, ERROR_WRITER_RULE, HEADER_CORRELATION_ID

from . import _log, config
from .config import Setting
from .errors import NatsBridgeError
from .fetch import describe_failure, redact
from .options import PositiveSeconds, checked
from .wire import header_len

__all__ = ["Client", "broker_url_of", "connect", "open_connection", "publish_message", "subscriptions_registered"]


@checked("connect")
async def connect(url: str, *, name: str = "natsbridge-python", connect_timeout: PositiveSeconds = 5.0) -> Client:
    """Connects to ``url`` (a comma-separated list is allowed); ``NATS_CONNECTION_FAILED``
    when no server answers, saying why (refused, DNS, timed out) and what to try. Reconnects by
    itself after that."""
    return await open_connection(config.nats_setting(url, "url"), name=name, connect_timeout=connect_timeout)


def _connect_hint(setting: Setting, why: str) -> str:
    if why.startswith("authorization") or "auth" in why.lower():
        return "Check the credentials the URL or the server's configuration needs"
    if setting.source == "default":
        return f"Start a NATS server (`nats-server -js`) or set {setting.variable}"
    if setting.source == "environment":
        return f"Start the NATS server at {shown_url(setting.value)} or change {setting.variable}"
    return f"Start the NATS server at {shown_url(setting.value)} or pass another URL"


async def open_connection(setting: Setting, *, name: str = "natsbridge-python", connect_timeout: float = 5.0) -> Client:
    """:func:`connect` to the URL of ``setting``, whose origin (argument, environment
    variable, default) an error names."""
    url = setting.value
    servers = [u.strip() for u in url.split(",") if u.strip()]
    shown = shown_url(url)
    errors: list[BaseException] = []

    async def on_error(e: Exception) -> None:
        if not connected:
            errors.append(e)
            return
        _log.warning("NATS connection event", None, "connect", server=shown, error=f"{type(e).__name__}: {e}")

    connected: list[Client] = []

    async def on_disconnect() -> None:
        if connected and connected[0].is_closed:  # closed by its owner, not lost
            _log.debug("NATS connection closed", None, "connect", server=shown)
            return
        _log.warning("NATS disconnected", None, "connect", server=shown)

    async def on_reconnect() -> None:
        _log.info("NATS reconnected", None, "connect", server=shown)

    try:
        # A few tries at first (a server that is not there fails the call within seconds),
        # then, once connected, reconnect for as long as it takes.
        nc: Client = await nats.connect(
            servers=servers, name=name, connect_timeout=connect_timeout, max_reconnect_attempts=2,
            allow_reconnect=True, reconnect_time_wait=0.25, error_cb=on_error,
            disconnected_cb=on_disconnect, reconnected_cb=on_reconnect,
        )
    except Exception as e:  # nats-py raises errors of several families while connecting
        first = errors[0] if errors else e
        why = describe_failure(first)
        if isinstance(first, nats.errors.Error) and "authorization" in str(first).lower():
            why = "the server refused the credentials (authorization violation)"
        raise NatsBridgeError(
            "NATS_CONNECTION_FAILED",
            f"connecting to NATS at {shown} failed: {why} (the NATS URL is {setting.origin()}). "
            f"{_connect_hint(setting, why)}",
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


def shown_url(url: str) -> str:
    """A broker URL as an envelope may show it: no user info, ``nats://`` added when missing."""
    return ",".join(redact(u if "://" in u else f"nats://{u}") for u in (p.strip() for p in url.split(",")) if u)


def broker_url_of(nc: Client) -> str | None:
    """The server a client is connected to, credentials removed."""
    u: urllib.parse.ParseResult | None = nc.connected_url
    if u is None or not u.hostname:
        return None
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    scheme = u.scheme or "nats"
    return f"{scheme}://{host}:{u.port or 4222}"


@checked("publish_message")
async def publish_message(
    connection: Client | str,
    subject: str,
    text: str | bytes,
    correlation_id: str,
    *,
    headers: Mapping[str, str] | None = None,
    flush: bool = DEFAULT_FLUSH,
) -> None:
    """Publishes ``text`` (an envelope's JSON) on ``subject``, with ``Correlation-Id`` and any
    ``headers``. ``connection`` is a client, or a URL to connect to for this call (then
    flushed and closed before returning, whatever ``flush`` says)."""
    try:
        body = text.encode("utf-8") if isinstance(text, str) else text
    except UnicodeEncodeError as e:
        raise NatsBridgeError(ERROR_WRITER_RULE, "the text is not valid Unicode", correlation_id=correlation_id) from e
    own = isinstance(connection, str)
    nc = await open_connection(config.nats_setting(connection)) if isinstance(connection, str) else connection
    try:
        all_headers = {HEADER_CORRELATION_ID: correlation_id, **(headers or {})}
        await publish_core(nc, subject, body, all_headers, flush or own, correlation_id)
    finally:
        if isinstance(connection, str):
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
