"""Typed operations: the runtime under the packages ``natsbridge codegen`` generates from a
team's AsyncAPI document (the Python twin of the Rust runtime's ``natsbridge::typed``).

A generated package describes each message with a :class:`MessageCodec` (its ``dataname``,
its ``payload_type``, how its value and declared headers become one envelope payload and
NATS headers, and back) and each operation as a call of one of the functions here:

- :func:`publish` (core NATS), :func:`request` (wait for the typed reply),
  :func:`publish_to_stream` (JetStream, acknowledged);
- :func:`subscribe`: a :class:`Subscription`, an async iterator of :class:`Incoming`
  messages or, for a message that does not decode, the :class:`NatsBridgeError` saying why
  (with its correlation id and dataname); a bad message never ends the subscription;
- :func:`reply` / :func:`reply_error` answer an :class:`Incoming` request;
- :func:`replay`: a :class:`Replay` pull consumer of a stream, yielding :class:`Stored`
  messages to :meth:`Stored.ack` (``Delivered``, its former name, is a deprecated alias kept
  for one release: :class:`natsbridge.Delivered` is the untyped envelope a consumer hands
  over, which a :class:`Stored` wraps).

Everything travels as an ordinary ``msg_envelope_v1`` carrying one payload named after the
message, so typed code and plain ``smartsend`` / ``smartreceive`` interoperate both ways. A
message's AsyncAPI ``correlationId`` is the envelope's ``correlation_id``, read from its payload
or carried in a header as its ``location`` says (see :class:`Encoded`).
Receiving checks, in order: the envelope (``smartreceive``), the payload named
``codec.name`` with ``codec.payload_type`` (missing: ``INVALID_PAYLOAD_TYPE``), then the
value and headers (schema or header violations: ``DESERIALIZATION_ERROR``). Channel
parameters go through :func:`token`: one NATS subject token or ``INVALID_ARGUMENT``
(:func:`token_of` for a parameter restricted to an enum). Several messages on one channel or
operation share one :class:`UnionCodec` of :class:`Variant` values, dispatched by message name.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import TracebackType
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, cast, runtime_checkable

import nats.errors
import nats.js
import pyarrow as pa
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from natsbridge_types import ErrorResponseV1, MsgEnvelopeV1
from natsbridge_types.profile import (
    CONSUMER_ACK_WAIT_SECONDS,
    CONSUMER_BATCH,
    CONSUMER_MAX_ACK_PENDING,
    CONSUMER_MAX_BYTES,
    CONSUMER_MAX_DELIVER,
    CONSUMER_NAK_DELAY_MS,
    ERROR_BAD_BYTES,
    ERROR_BAD_OPTION,
    ERROR_DEADLINE,
    ERROR_NOT_ENVELOPE,
    ERROR_UNKNOWN_PAYLOAD_TYPE,
    ERROR_WRITER_RULE,
)

from .errors import NatsBridgeError
from .jetstream import Delivered as EnvelopeDelivered
from .jetstream import EnvelopeConsumer, StreamSent
from .jetstream import publish_to_stream as _publish_to_stream
from .options import Count, PositiveCount, PositiveSeconds, Seconds, bad_argument, check_value, checked, checked_options, shown
from .receive import ReceiveOptions, Received, ReceivedPayload, smartreceive
from .request import smartreply, smartreply_error, smartrequest
from .send import PayloadInput, SendOptions, Sent, send_with
from .start import START_ALL, StartValue, parse_start
from .transport import Client, subscriptions_registered
from .wire import checked_uuid

__all__ = [
    "Bridge",
    "ConsumerOptions",
    "Correlation",
    "correlate",
    "Delivered",
    "Encoded",
    "Incoming",
    "JsonCodec",
    "MessageCodec",
    "Replay",
    "Stored",
    "Subscription",
    "bytes_payload",
    "header_text",
    "json_payload",
    "optional_header",
    "parse_bool",
    "parse_float",
    "parse_int",
    "parse_str",
    "parse_uint",
    "payload_of",
    "publish",
    "publish_to_stream",
    "replay",
    "reply",
    "reply_error",
    "request",
    "required_header",
    "subscribe",
    "table_payload",
    "text_payload",
    "token",
    "token_of",
    "UnionCodec",
    "Variant",
]

M = TypeVar("M")
R = TypeVar("R")
T = TypeVar("T")
N = TypeVar("N", bound=str)
V = TypeVar("V", bound="Variant[Any, Any]")


@checked_options
@dataclass(frozen=True)
class Bridge:
    """A connection and the options every typed operation on it uses.

    ``send`` supplies the envelope fields and blob-store settings of every send (its
    ``connection``, ``msg_purpose`` and ``reply_to`` are set by each operation; its
    ``headers`` are sent beside each message's declared ones); ``receive`` what a receiver
    accepts; ``timeout`` how long :func:`request` waits for a reply, in seconds. Change one
    with :func:`dataclasses.replace`.
    """

    client: Client
    send: SendOptions = field(default_factory=SendOptions)
    receive: ReceiveOptions = field(default_factory=ReceiveOptions)
    timeout: PositiveSeconds = 10.0

    @property
    def jetstream(self) -> nats.js.JetStreamContext:
        """The connection's JetStream context."""
        return self.client.jetstream()


class Encoded(NamedTuple):
    """A message as it travels: one ``(dataname, data, payload_type)`` payload and the NATS
    headers it declares (values as text), and what its AsyncAPI ``correlationId`` says (a
    generated codec sets at most one of the two):

    - ``correlation_id``: the message's own correlation id (``location:
      $message.payload#/…``, read from its value). A typed send uses it as the envelope's
      ``correlation_id`` unless the caller passes one (the ``correlation_id`` argument), which
      wins; it must be a UUID like that argument (the same error when not).
    - ``correlation_header``: a NATS header that carries the envelope's correlation id
      (``location: $message.header#/Name``). A typed send sets it to the id the envelope
      carries (the caller's, else the message's own, else a new UUID), over a declared header
      of the same name; :func:`reply` sets it to the request's.
    """

    payload: PayloadInput
    headers: dict[str, str]
    correlation_id: str | None = None
    correlation_header: str | None = None


@runtime_checkable
class MessageCodec(Protocol[M]):
    """How one message of a spec travels. ``encode`` and ``decode`` raise
    :class:`NatsBridgeError` (``SERIALIZATION_ERROR`` / ``INVALID_PAYLOAD_TYPE`` /
    ``DESERIALIZATION_ERROR``); the operations add the correlation id and dataname."""

    @property
    def name(self) -> str:
        """The payload's ``dataname`` (the message's ``name``)."""
        ...

    @property
    def payload_type(self) -> str:
        """The payload's ``payload_type``."""
        ...

    def encode(self, message: M) -> Encoded: ...

    def decode(self, received: Received) -> M: ...


@dataclass(frozen=True)
class Incoming(Generic[M]):
    """A received message, decoded: the typed ``message`` and the envelope it came in."""

    message: M
    received: Received

    @property
    def correlation_id(self) -> str:
        return self.received.correlation_id

    @property
    def envelope(self) -> MsgEnvelopeV1:
        return self.received.envelope

    @property
    def headers(self) -> Mapping[str, str]:
        """The NATS headers the message came with (empty when none)."""
        return self.received.headers or {}


# --- values on the wire ------------------------------------------------------------------

_FORBIDDEN_TOKEN = re.compile(r"[.*>\s\x00-\x1f\x7f]")


def token(param: str, value: str, wildcard_ok: bool = False) -> str:
    """``value`` when it can stand for the channel parameter ``param`` in a subject: one
    NATS token (non-empty; no ``.``, ``*``, ``>``, whitespace or control characters). With
    ``wildcard_ok`` (receiving) ``*`` alone is allowed too, matching every value. Otherwise
    ``INVALID_ARGUMENT``."""
    if wildcard_ok and value == "*":
        return value
    if not isinstance(value, str) or not value or _FORBIDDEN_TOKEN.search(value):
        raise NatsBridgeError(
            ERROR_BAD_OPTION,
            f"channel parameter `{param}` must be one NATS subject token (non-empty, no `.`, `*`, `>` or "
            f"whitespace), got {value!r:.100}",
        )
    return value


def _names(names: Sequence[str]) -> str:
    """`` `a`, `b` ``: names as error messages list them."""
    return ", ".join(f"`{n}`" for n in names) or "none"


def _is_strings(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)) and all(
        isinstance(v, str) for v in value)


def token_of(param: str, value: str, allowed: Sequence[str], wildcard_ok: bool = False) -> str:
    """:func:`token`, for a channel parameter whose schema is an enum: ``value`` when it is one
    NATS subject token (the same checks and error as :func:`token`) and one of ``allowed``
    (with ``wildcard_ok``, ``*`` alone passes too). Otherwise ``INVALID_ARGUMENT``, naming the
    allowed values."""
    check_value("token_of", "param", param, lambda v: isinstance(v, str), "a str", kind="argument")
    check_value("token_of", "allowed", allowed, _is_strings, "a list of str", kind="argument")
    check_value("token_of", "wildcard_ok", wildcard_ok, lambda v: isinstance(v, bool), "a bool", kind="argument")
    token(param, value, wildcard_ok)
    if wildcard_ok and value == "*":
        return value
    if value not in allowed:
        raise NatsBridgeError(ERROR_BAD_OPTION, f"parameter `{param}`: `{value}` is not one of {_names(allowed)}")
    return value


def header_text(value: str | int | float | bool) -> str:
    """A declared header's value as sent: integers and numbers in decimal, booleans ``true`` /
    ``false``, text as is (``SERIALIZATION_ERROR`` for a line break or a non-finite number)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NatsBridgeError(ERROR_WRITER_RULE, f"header value {value} is not a finite number")
        return repr(value)
    if "\r" in value or "\n" in value:
        raise NatsBridgeError(ERROR_WRITER_RULE, "a header value cannot hold a line break")
    return value


_INT = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def parse_str(text: str) -> str:
    """A text header: as is."""
    return text


def parse_int(text: str) -> int:
    """A decimal integer header (``ValueError`` otherwise)."""
    text = text.strip()
    if not _INT.fullmatch(text):
        raise ValueError("not a decimal integer")
    return int(text)


def parse_uint(text: str) -> int:
    """A decimal integer header of 0 or more (``ValueError`` otherwise)."""
    value = parse_int(text)
    if value < 0:
        raise ValueError("negative")
    return value


def parse_float(text: str) -> float:
    """A decimal number header (``ValueError`` otherwise)."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError("not a decimal number")
    return float(text)


def parse_bool(text: str) -> bool:
    """``true`` or ``false`` (``ValueError`` otherwise)."""
    text = text.strip()
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError("not `true` or `false`")


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    if name in headers:
        return headers[name]
    lower = name.lower()  # header names are case-insensitive for some clients
    return next((v for k, v in headers.items() if k.lower() == lower), None)


def optional_header(headers: Mapping[str, str] | None, name: str, parse: Callable[[str], T]) -> T | None:
    """The header ``name`` parsed by ``parse``, ``None`` when absent; ``DESERIALIZATION_ERROR``
    when it does not parse."""
    text = _header(headers, name)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as e:
        raise NatsBridgeError(ERROR_BAD_BYTES, f"header `{name}`: {e} ({text[:100]!r})") from None


def required_header(headers: Mapping[str, str] | None, name: str, parse: Callable[[str], T]) -> T:
    """The header ``name`` parsed by ``parse``; ``DESERIALIZATION_ERROR`` when it is missing or
    does not parse."""
    value = optional_header(headers, name, parse)
    if value is None:
        raise NatsBridgeError(ERROR_BAD_BYTES, f"required header `{name}` is missing")
    return value


def payload_of(received: Received, name: str, payload_type: str) -> ReceivedPayload:
    """The payload named ``name`` with ``payload_type``; ``INVALID_PAYLOAD_TYPE`` when the
    envelope has none."""
    p = received.payload(name)
    if p is None:
        raise NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, f"the envelope has no payload `{name}` ({payload_type})",
                              dataname=name)
    if p.payload_type != payload_type:
        raise NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE,
                              f"payload `{name}` is {p.payload_type[:100]}, expected {payload_type}", dataname=name)
    return p


def json_payload(received: Received, name: str, payload_type: str = "dictionary") -> object:
    """The JSON value of the payload ``name`` (not yet checked against a schema)."""
    data: object = payload_of(received, name, payload_type).data
    return data


def table_payload(received: Received, name: str) -> pa.Table:
    """The Arrow table of the ``arrowtable`` payload ``name``."""
    data = payload_of(received, name, "arrowtable").data
    if not isinstance(data, pa.Table):
        raise NatsBridgeError(ERROR_BAD_BYTES, f"payload `{name}` is not an Arrow table", dataname=name)
    return data


def text_payload(received: Received, name: str) -> str:
    """The text of the ``text`` payload ``name``."""
    data = payload_of(received, name, "text").data
    if not isinstance(data, str):
        raise NatsBridgeError(ERROR_BAD_BYTES, f"payload `{name}` is not text", dataname=name)
    return data


def bytes_payload(received: Received, name: str, payload_type: str) -> bytes:
    """The bytes of the ``binary`` / ``audio`` / ``image`` / ``video`` payload ``name``."""
    data = payload_of(received, name, payload_type).data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise NatsBridgeError(ERROR_BAD_BYTES, f"payload `{name}` is not bytes", dataname=name)
    return bytes(data)


class Issue(Protocol):
    """One schema violation (a generated package's ``ValidationIssue``)."""

    @property
    def path(self) -> str: ...

    @property
    def message(self) -> str: ...


class Validator(Protocol):
    """A generated ``validate_x`` function."""

    def __call__(self, value: object, *, reader: bool = ...) -> Sequence[Issue]: ...


def _issues_text(issues: Sequence[Issue]) -> str:
    return "; ".join(f"{i.path or '/'} {i.message}" for i in issues[:3])[:500]


@checked_options
@dataclass(frozen=True)
class Correlation:
    """Where a message declares its correlation id (AsyncAPI ``correlationId.location``):
    ``Correlation(header="Name")`` for ``$message.header#/Name``,
    ``Correlation(payload=("a", "b"))`` for ``$message.payload#/a/b``."""

    header: str | None = None
    payload: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if (self.header is None) == (self.payload is None) or self.header == "" or self.payload == ():
            raise NatsBridgeError(ERROR_BAD_OPTION,
                                  "Correlation: give exactly one of header=\"Name\" or payload=(\"path\", ...)")


@checked("correlate")
def correlate(encoded: Encoded, correlation: Correlation | None, value: object) -> Encoded:
    """``encoded`` with the message's declared correlation (what generated codecs call): a
    header location sets ``correlation_header``; a payload location sets ``correlation_id``
    to the text at that path of ``value`` (nothing when it holds no text there)."""
    if correlation is None:
        return encoded
    if correlation.header is not None:
        return encoded._replace(correlation_header=correlation.header)
    at: object = value
    for key in correlation.payload or ():
        at = at.get(key) if isinstance(at, dict) else None
    return encoded._replace(correlation_id=at) if isinstance(at, str) else encoded


class JsonCodec(Generic[M]):
    """A message whose value is a JSON document of a schema type (a ``TypedDict``), sent as
    is and checked with the generated validator both ways: as a writer before sending
    (``SERIALIZATION_ERROR``), as a reader on receipt (``DESERIALIZATION_ERROR``; enum values
    a newer writer added are accepted). ``correlation``: where the message declares its
    correlation id."""

    def __init__(self, name: str, payload_type: str, type_name: str, validate: Validator,
                 correlation: Correlation | None = None) -> None:
        self.name = name
        self.payload_type = payload_type
        self.type_name = type_name
        self._validate = validate
        self._correlation = correlation

    def encode(self, message: M) -> Encoded:
        issues = self._validate(message, reader=False)
        if issues:
            raise NatsBridgeError(ERROR_WRITER_RULE, f"not a valid {self.type_name}: {_issues_text(issues)}",
                                  dataname=self.name)
        return correlate(Encoded((self.name, message, self.payload_type), {}), self._correlation, message)

    def decode(self, received: Received) -> M:
        value = json_payload(received, self.name, self.payload_type)
        issues = self._validate(value, reader=True)
        if issues:
            raise NatsBridgeError(ERROR_BAD_BYTES, f"not a valid {self.type_name}: {_issues_text(issues)}",
                                  dataname=self.name)
        return cast(M, value)


@dataclass(frozen=True)
class Variant(Generic[N, T]):
    """One of several messages: which (its ``dataname``) and its value."""

    name: N
    value: T


def _is_codec(value: object) -> bool:
    return isinstance(value, MessageCodec) and isinstance(value.name, str) and isinstance(value.payload_type, str)


class UnionCodec(Generic[V]):
    """Several messages on one channel or operation: a :class:`MessageCodec` of
    ``Variant[Literal["a"], A] | Variant[Literal["b"], B] | ...`` made of the variants' own
    codecs and dispatched by message name (the payload's ``dataname``), so one subscription
    hands each message its own type::

        StreetlightMessage: TypeAlias = Variant[Literal["lightMeasured"], LightMeasured] | Variant[Literal["turnOn"], TurnOn]
        STREETLIGHT_MESSAGE_CODEC: Final[MessageCodec[StreetlightMessage]] = UnionCodec(LIGHT_MEASURED_CODEC, TURN_ON_CODEC)

    Under mypy a value is built through its variant's alias (``TurnOnVariant: TypeAlias =
    Variant[Literal["turnOn"], TurnOn]``, then ``TurnOnVariant("turnOn", {...})``): a bare
    ``Variant("turnOn", ...)`` where the union is expected is inferred ``Variant[str, ...]``.

    :attr:`name` is the variants' names joined with `` | `` and :attr:`payload_type` their
    common payload type, else the first variant's: both are used only in messages (each
    variant travels as its own codec writes it). :meth:`encode` hands the value to the codec
    named ``message.name`` (not a :class:`Variant`, or a name that is no variant's:
    ``SERIALIZATION_ERROR``); :meth:`decode` uses the first codec, in the order given, whose
    name is the ``dataname`` of one of the envelope's payloads (none: ``INVALID_PAYLOAD_TYPE``).
    A variant's own errors pass unchanged. ``INVALID_ARGUMENT`` for no codecs, something that
    is not a codec, or two codecs of the same name."""

    @checked("UnionCodec")
    def __init__(self, *codecs: MessageCodec[Any]) -> None:
        if not codecs:
            raise bad_argument("UnionCodec", "give at least one message codec, got none")
        for i, c in enumerate(codecs):
            check_value("UnionCodec", f"codecs[{i}]", c, _is_codec,
                        "a message codec (name, payload_type, encode, decode)", kind="argument")
        names = [c.name for c in codecs]
        duplicate = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if duplicate is not None:
            raise bad_argument("UnionCodec", f"two codecs are named `{duplicate}` (codecs: {_names(names)}); each "
                               "message of a union needs its own name")
        self._codecs: tuple[MessageCodec[Any], ...] = codecs
        self._by_name: dict[str, MessageCodec[Any]] = dict(zip(names, codecs))
        self._names = names
        self._name = " | ".join(names)
        # Their common payload type, else the first variant's: the first's either way.
        self._payload_type = codecs[0].payload_type

    @property
    def name(self) -> str:
        """The variants' names joined with `` | `` (used only in messages)."""
        return self._name

    @property
    def payload_type(self) -> str:
        """The variants' common payload type, else the first variant's (used only in messages)."""
        return self._payload_type

    def encode(self, message: V) -> Encoded:
        if not isinstance(message, Variant) or not isinstance(message.name, str):
            raise NatsBridgeError(ERROR_WRITER_RULE, f"a message of `{self._name}` must be a Variant(name, value) with "
                                  f"`name` one of {_names(self._names)}, not {shown(message)}")
        codec = self._by_name.get(message.name)
        if codec is None:
            raise NatsBridgeError(ERROR_WRITER_RULE,
                                  f"message `{message.name[:100]}` is not one of {_names(self._names)}")
        return codec.encode(message.value)

    @checked("UnionCodec.decode")
    def decode(self, received: Received) -> V:
        present = {p.dataname for p in received.payloads}
        for codec in self._codecs:
            if codec.name in present:
                return cast(V, Variant(codec.name, codec.decode(received)))
        found = ", ".join(f"`{p.dataname[:100]}` ({p.payload_type[:100]})" for p in received.payloads) or "none"
        raise NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE,
                              f"the envelope has none of the payloads {_names(self._names)} (payloads: {found})",
                              dataname=self._name, correlation_id=received.correlation_id)


def _encode(codec: MessageCodec[M], message: M) -> Encoded:
    try:
        return codec.encode(message)
    except NatsBridgeError as e:
        raise e.with_dataname(codec.name)
    except Exception as e:
        raise NatsBridgeError(ERROR_WRITER_RULE, f"encoding `{codec.name}`", dataname=codec.name) from e


def _decode(codec: MessageCodec[M], received: Received) -> Incoming[M]:
    try:
        return Incoming(codec.decode(received), received)
    except NatsBridgeError as e:
        raise e.with_dataname(codec.name).with_correlation_id(received.correlation_id)
    except Exception as e:  # a codec's own failure is still this message's problem, not the subscriber's
        raise NatsBridgeError(ERROR_BAD_BYTES, f"decoding `{codec.name}`", dataname=codec.name,
                              correlation_id=received.correlation_id) from e


def _encode_correlated(codec: MessageCodec[M], message: M, correlation_id: str | None) -> tuple[Encoded, str]:
    """``message`` encoded, and the envelope's correlation id: the caller's ``correlation_id``
    when given, else the message's own, else a new one; checked as the caller's argument is
    (the same error for either)."""
    cid = checked_uuid(correlation_id, "correlation_id")
    try:
        encoded = _encode(codec, message)
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)
    if correlation_id is None and encoded.correlation_id is not None:
        cid = checked_uuid(encoded.correlation_id, "correlation_id")
    return encoded, cid


def _send_options(bridge: Bridge, purpose: str, encoded: Encoded, cid: str) -> SendOptions:
    """The bridge's send options with the message's headers, and ``cid`` in its correlation
    header when it has one (over any header of that name, whatever its case)."""
    merged = {**(bridge.send.headers or {}), **encoded.headers}
    header = encoded.correlation_header
    if header is not None:
        merged = {k: v for k, v in merged.items() if k.lower() != header.lower()}
        merged[header] = cid
    return replace(bridge.send, connection=bridge.client, msg_purpose=purpose, headers=merged or None)


def _kwargs(options: SendOptions, *drop: str) -> dict[str, Any]:
    """The options as ``smartsend`` keyword arguments, without ``drop``."""
    return {f.name: getattr(options, f.name) for f in fields(options) if f.name not in drop}


# --- operations ------------------------------------------------------------------------


@checked("publish")
async def publish(
    bridge: Bridge, subject: str, codec: MessageCodec[M], message: M, *, purpose: str = "event",
    correlation_id: str | None = None,
) -> Sent:
    """Publishes ``message`` on ``subject`` (core NATS) as one envelope."""
    encoded, cid = _encode_correlated(codec, message, correlation_id)
    try:
        return await send_with(subject, [encoded.payload], cid, _send_options(bridge, purpose, encoded, cid))
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)


@checked("request")
async def request(
    bridge: Bridge, subject: str, codec: MessageCodec[M], message: M, reply_codec: MessageCodec[R], *,
    purpose: str = "command", correlation_id: str | None = None, timeout: PositiveSeconds | None = None,
) -> Incoming[R]:
    """Sends ``message`` as a request and returns the typed reply (``TIMEOUT`` after
    ``timeout`` seconds, default the bridge's; a responder's ``error_response_v1`` is raised
    as a remote :class:`NatsBridgeError`)."""
    encoded, cid = _encode_correlated(codec, message, correlation_id)
    try:
        options = _kwargs(_send_options(bridge, purpose, encoded, cid), "connection", "reply_to", "flush")
        received = await smartrequest(
            bridge.client, subject, [encoded.payload], timeout=bridge.timeout if timeout is None else timeout,
            receive_options=bridge.receive, correlation_id=cid, **options,
        )
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)
    return _decode(reply_codec, received)


class Subscription(Generic[M]):
    """Messages on a subject, decoded. ``async for item in sub`` yields an :class:`Incoming`
    for each good message and the :class:`NatsBridgeError` for each bad one (it has the
    correlation id and dataname when they could be read; a bad request is also answered
    with it as an ``error_response_v1``), and ends only when unsubscribed. Use it as an async context manager to unsubscribe on exit."""

    def __init__(self, bridge: Bridge, codec: MessageCodec[M], sub: NatsSubscription) -> None:
        self._bridge = bridge
        self._codec = codec
        self._sub = sub
        self._messages = sub.messages

    @property
    def subject(self) -> str:
        return self._sub.subject

    async def _handle(self, msg: Msg) -> Incoming[M]:
        received = await smartreceive(msg, self._bridge.receive)
        try:
            return _decode(self._codec, received)
        except NatsBridgeError as e:
            # A request that does not fit the spec is answered with its error, so the
            # requester does not wait for its timeout (best effort: the error is raised
            # to the application either way).
            if received.envelope.get("reply_to"):
                try:
                    await smartreply_error(self._bridge.client, received.envelope, e)
                except NatsBridgeError:
                    pass
            raise

    def __aiter__(self) -> AsyncIterator[Incoming[M] | NatsBridgeError]:
        return self

    async def __anext__(self) -> Incoming[M] | NatsBridgeError:
        msg = await self._messages.__anext__()
        try:
            return await self._handle(msg)
        except NatsBridgeError as e:
            return e

    @checked("Subscription.next")
    async def next(self, timeout: Seconds | None = None) -> Incoming[M]:
        """The next message, raising the error of a bad one (the call after goes on with the
        next message); ``TIMEOUT`` when none comes within ``timeout`` seconds."""
        try:
            msg = await self._sub.next_msg(timeout=timeout)
        except nats.errors.TimeoutError as e:
            raise NatsBridgeError(ERROR_DEADLINE, f"no message on `{self.subject}` within {timeout} s") from e
        except Exception as e:
            raise NatsBridgeError("NATS_CONNECTION_FAILED", f"subscription to `{self.subject}` closed") from e
        return await self._handle(msg)

    async def unsubscribe(self) -> None:
        """Stops the subscription (iteration ends)."""
        try:
            await self._sub.unsubscribe()
        except Exception:  # already gone, or the connection is closed
            pass

    async def __aenter__(self) -> Subscription[M]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.unsubscribe()


@checked("subscribe")
async def subscribe(
    bridge: Bridge, subject: str, codec: MessageCodec[M], *, queue: str | None = None
) -> Subscription[M]:
    """Subscribes to ``subject`` (in the queue group ``queue`` when given); returns once the
    server has registered the subscription."""
    try:
        sub = await bridge.client.subscribe(subject, queue=queue or "")
    except Exception as e:
        raise NatsBridgeError("NATS_CONNECTION_FAILED", f"subscribing to `{subject}`") from e
    await subscriptions_registered(bridge.client)
    return Subscription(bridge, codec, sub)


@checked("reply")
async def reply(
    bridge: Bridge, to: Incoming[Any], codec: MessageCodec[R], message: R, *, purpose: str = "event"
) -> Sent:
    """Answers the request ``to`` with ``message``: on its ``reply_to``, with its correlation
    id and ``reply_to_msg_id`` = its ``msg_id`` (and that id in the message's correlation
    header, when it has one; a correlation id of its own is not used)."""
    cid = to.correlation_id
    try:
        encoded = _encode(codec, message)
        # The receiver fields name the requester (smartreply's defaults), unless the bridge sets them.
        drop = ["connection", "reply_to_msg_id"] + [k for k in ("receiver_name", "receiver_id")
                                                    if not getattr(bridge.send, k)]
        options = _kwargs(_send_options(bridge, purpose, encoded, cid), *drop)
        return await smartreply(bridge.client, to.envelope, [encoded.payload], **options)
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)


@checked("reply_error")
async def reply_error(bridge: Bridge, to: Incoming[Any], error: BaseException) -> ErrorResponseV1:
    """Answers the request ``to`` with an ``error_response_v1`` (see
    :func:`natsbridge.error_response`: an :class:`~natsbridge.ApplicationError` as
    ``APPLICATION_ERROR``, another :class:`NatsBridgeError` with its code, anything else as
    ``HANDLER_FAILED``): the requester's :func:`request` raises it as a remote error."""
    return await smartreply_error(bridge.client, to.envelope, error)


@checked("publish_to_stream")
async def publish_to_stream(
    bridge: Bridge, subject: str, codec: MessageCodec[M], message: M, *, purpose: str = "event",
    correlation_id: str | None = None, msg_id: str | None = None,
) -> StreamSent:
    """Publishes ``message`` into the JetStream stream that captures ``subject`` and waits for
    the ack (``msg_id`` to retry without duplicating)."""
    encoded, cid = _encode_correlated(codec, message, correlation_id)
    try:
        options = _kwargs(_send_options(bridge, purpose, encoded, cid), "jetstream", "publish", "one_shot")
        if msg_id is not None:
            options["msg_id"] = msg_id
        return await _publish_to_stream(bridge.jetstream, subject, [encoded.payload], correlation_id=cid, **options)
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)


@checked_options
@dataclass(frozen=True)
class ConsumerOptions:
    """How :func:`replay` consumes a stream (see :class:`natsbridge.EnvelopeConsumer`):
    ``start`` is where the replay begins (:func:`natsbridge.parse_start`'s forms: ``all``,
    ``new``, ``"5m"``, an RFC 3339 time, a sequence, an aware ``datetime``, a
    ``timedelta``; checked here); a ``durable_name`` keeps the position across restarts;
    ``limit``: hand over at most this many messages, pulling no more (``None``: no end).
    The pull and redelivery settings default to the profile's ``CONSUMER_*`` (rule 18)."""

    start: StartValue = START_ALL
    durable_name: str | None = None
    max_messages: PositiveCount = CONSUMER_BATCH
    max_bytes: PositiveCount = CONSUMER_MAX_BYTES
    ack_wait: PositiveSeconds = float(CONSUMER_ACK_WAIT_SECONDS)
    max_ack_pending: PositiveCount = CONSUMER_MAX_ACK_PENDING
    nak_delay: Seconds = CONSUMER_NAK_DELAY_MS / 1000
    max_deliver: Count = CONSUMER_MAX_DELIVER
    pull_expires: PositiveSeconds = 5.0
    limit: Count | None = None

    def __post_init__(self) -> None:
        try:
            parse_start(self.start)
        except NatsBridgeError as e:
            raise NatsBridgeError(ERROR_BAD_OPTION, f"ConsumerOptions: option `start`: {e.message}") from None


@dataclass(frozen=True)
class Stored(Generic[M]):
    """A message replayed from a stream, decoded (``natsbridge::typed::Stored`` in Rust);
    :meth:`ack` it when done. ``delivered`` is the untyped :class:`natsbridge.Delivered`
    envelope it came in."""

    message: M
    delivered: EnvelopeDelivered

    @property
    def received(self) -> Received:
        return self.delivered.received

    @property
    def correlation_id(self) -> str:
        return self.delivered.received.correlation_id

    @property
    def stream_sequence(self) -> int:
        return self.delivered.stream_sequence

    @property
    def published(self) -> datetime.datetime:
        return self.delivered.published

    async def ack(self) -> None:
        """Acknowledges the message without waiting for the server (at least once; see
        :meth:`natsbridge.Delivered.ack`)."""
        await self.delivered.ack()

    async def ack_confirmed(self) -> None:
        """Acknowledges the message and waits for the server to have recorded it (see
        :meth:`natsbridge.Delivered.ack_confirmed`)."""
        await self.delivered.ack_confirmed()


Delivered = Stored
"""Deprecated alias of :class:`Stored`, its former name (which clashed with the untyped
:class:`natsbridge.Delivered`); kept for one release, then removed."""


class Replay(Generic[M]):
    """A pull consumer of one message type on a stream. :meth:`next` returns the next
    message or raises the error of a bad one (terminated on the server, so it is not
    redelivered; the call after goes on). ``async for`` yields :class:`Stored` messages and
    the errors of bad ones, waiting for new messages for ever; it raises only when the
    connection fails. Close it (or use ``async with``) to delete an ephemeral consumer."""

    def __init__(self, bridge: Bridge, stream: str, codec: MessageCodec[M], consumer: EnvelopeConsumer) -> None:
        self.stream = stream
        self._bridge = bridge
        self._codec = codec
        self._consumer = consumer

    async def open(self) -> None:
        """Creates the consumer now (``next`` otherwise does it on first use)."""
        await self._consumer.open()

    async def next(self, timeout: float | None = None) -> Stored[M]:
        delivered = await self._consumer.next(timeout)
        try:
            incoming = _decode(self._codec, delivered.received)
        except NatsBridgeError:
            try:
                await delivered.message.term()
            except Exception:  # the connection is gone: it is redelivered and fails again
                pass
            raise
        return Stored(incoming.message, delivered)

    def __aiter__(self) -> AsyncIterator[Stored[M] | NatsBridgeError]:
        return self

    async def __anext__(self) -> Stored[M] | NatsBridgeError:
        try:
            return await self.next()
        except NatsBridgeError as e:
            if e.code == "NATS_CONNECTION_FAILED":
                raise
            return e

    async def close(self) -> None:
        await self._consumer.close()

    async def __aenter__(self) -> Replay[M]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


@checked("replay")
def replay(
    bridge: Bridge, stream: str, codec: MessageCodec[M], *, filter_subject: str | None = None,
    options: ConsumerOptions | None = None,
) -> Replay[M]:
    """A :class:`Replay` of the messages of ``stream`` (those on ``filter_subject`` when
    given); nothing is created on the server until :meth:`Replay.open` or the first
    :meth:`Replay.next`."""
    o = options or ConsumerOptions()
    consumer = EnvelopeConsumer(
        bridge.jetstream, stream, start=o.start, durable_name=o.durable_name, filter_subject=filter_subject,
        max_messages=o.max_messages, max_bytes=o.max_bytes, ack_wait=o.ack_wait, max_ack_pending=o.max_ack_pending,
        nak_delay=o.nak_delay, max_deliver=o.max_deliver, pull_expires=o.pull_expires,
        receive_options=bridge.receive, limit=o.limit,
    )
    return Replay(bridge, stream, codec, consumer)
