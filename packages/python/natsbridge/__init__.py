"""NATSBridge for Python: one envelope format (``msg_envelope_v1``) and one call on each side.

``smartsend`` packs ``(dataname, data, payload_type)`` triples into an envelope and publishes
it; small payloads travel inline as base64 ("direct"), large ones are uploaded to a
Plik-compatible file server and only the URL travels ("link"). ``smartreceive`` turns a
received message back into typed data, downloading links only from allowed hosts and
verifying every payload's size and sha256. Every failure is a :class:`NatsBridgeError`
carrying a wire error code and the correlation id; a caller's mistake (an unknown option, a
value of the wrong type, a replay start or an allowed host outside its form) is one too, with
the code ``INVALID_ARGUMENT``, raised before anything is sent.

Connecting: :func:`connect` (or ``smartsend`` without a connection) takes TLS, a token, a user
and password, an NKey seed or a ``.creds`` file, from its arguments, the environment
(``NATS_URL``, ``NATS_TOKEN``, ``NATS_CREDS``, ...) or the nats CLI's context in use, by one
rule (:func:`resolve_connect_settings` → :class:`ConnectSettings`, which never prints a secret).

Request/reply: :func:`smartrequest` and :func:`smartreply`, or :func:`serve` (a responder loop
answering every request with what its handler returns, and with an ``error_response_v1`` for
what it raises: an :class:`ApplicationError` with the application's own code, any other
exception as ``HANDLER_FAILED``). JetStream: :func:`ensure_stream`, :func:`publish_to_stream`,
:class:`EnvelopeConsumer` (``start=`` in :func:`parse_start`'s grammar: ``all``, ``new``,
``"5m"``, an RFC 3339 time, a sequence).

The wire types and validators come from the generated ``natsbridge_types`` package.
:mod:`natsbridge.typed` (:class:`Bridge`, :class:`MessageCodec`, :class:`Incoming`, ...) is
the runtime of the typed packages ``natsbridge codegen`` writes from a team's AsyncAPI document.
"""

from __future__ import annotations

from ._log import CorrelationFilter
from .config import DEFAULT_FILESERVER_URL, DEFAULT_NATS_URL, DEFAULT_SIZE_THRESHOLD
from .errors import ApplicationError, NatsBridgeError, report
from .fetch import FetchOptions, fetch_with_backoff
from .hosts import allowed_host
from .jetstream import Delivered, EnvelopeConsumer, StreamSent, ensure_stream, publish_to_stream
from .payload import TableLimits, encode_table
from .plik import PlikUpload, plik_oneshot_upload, plik_upload
from .receive import ReceiveOptions, Received, ReceivedPayload, smartreceive
from .request import decode_reply, error_response, smartreply, smartreply_error, smartrequest
from .send import SendOptions, Sent, smartsend
from .serve import Handler, Server, serve
from .settings import ConnectAuth, ConnectSettings, ConnectTls, resolve_connect_settings
from .start import Start, StartValue, parse_start
from .transport import connect, publish_message, subscriptions_registered
from . import typed
from .typed import Bridge, Incoming, MessageCodec, Replay, Subscription
from .wire import HEADER_CORRELATION_ID, HEADER_MSG_ID

__version__ = "0.1.0"

__all__ = [
    "subscriptions_registered",
    "ApplicationError",
    "Bridge",
    "ConnectAuth",
    "ConnectSettings",
    "ConnectTls",
    "CorrelationFilter",
    "DEFAULT_FILESERVER_URL",
    "DEFAULT_NATS_URL",
    "DEFAULT_SIZE_THRESHOLD",
    "Delivered",
    "EnvelopeConsumer",
    "FetchOptions",
    "HEADER_CORRELATION_ID",
    "Handler",
    "HEADER_MSG_ID",
    "Incoming",
    "MessageCodec",
    "NatsBridgeError",
    "PlikUpload",
    "ReceiveOptions",
    "Received",
    "ReceivedPayload",
    "Replay",
    "SendOptions",
    "Sent",
    "Server",
    "Start",
    "StartValue",
    "StreamSent",
    "Subscription",
    "TableLimits",
    "allowed_host",
    "connect",
    "decode_reply",
    "encode_table",
    "ensure_stream",
    "error_response",
    "fetch_with_backoff",
    "parse_start",
    "plik_oneshot_upload",
    "plik_upload",
    "publish_message",
    "publish_to_stream",
    "report",
    "resolve_connect_settings",
    "serve",
    "smartreceive",
    "smartreply",
    "smartreply_error",
    "smartrequest",
    "smartsend",
    "typed",
]
