"""``smartsend``: serialize every payload, choose direct or link per payload so that the
whole message fits the server's ``max_payload``, upload the links, publish the envelope."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import aiohttp
import nats.js

from natsbridge_types import MsgEnvelopeV1, MsgPayloadV1
from natsbridge_types.profile import (
    DEFAULT_FLUSH,
    ERROR_BAD_OPTION,
    DEFAULT_MAX_PAYLOAD,
    DEFAULT_MSG_PURPOSE,
    ERROR_TOO_LARGE_TO_SEND,
    ERROR_WRITER_RULE,
    LINK_URL_ALLOWANCE,
)

from . import _log, config, strict_json
from .errors import NatsBridgeError
from .fetch import new_session, redact
from .options import Count, PositiveCount, PositiveSeconds, checked, checked_options, shown
from .payload import encode_payload, extension
from .plik import upload
from .schema_check import check_writable_envelope
from .settings import ConnectSettings, shown_seeds, shown_servers
from .transport import Client, broker_url_of, open_connection, publish_core, publish_jetstream, settings_for
from .wire import b64encode, build_headers, checked_uuid, encoded_len, file_name, header_len, new_uuid, now_timestamp, sha256_hex

__all__ = ["DEFAULT_MAX_PAYLOAD", "LINK_URL_ALLOWANCE", "SEND_OPTION_NAMES", "SendOptions", "Sent", "send_with",
           "smartsend"]

PayloadInput = tuple[str, Any, str]
"""``(dataname, data, payload_type)``"""


class Sent(NamedTuple):
    """What :func:`smartsend` sent: the envelope and its JSON text (the published bytes);
    ``correlation_id`` and ``msg_id`` are the envelope's."""

    envelope: MsgEnvelopeV1
    json: str

    @property
    def correlation_id(self) -> str:
        return self.envelope["correlation_id"]

    @property
    def msg_id(self) -> str:
        return self.envelope["msg_id"]


@dataclass
class _Prepared:
    dataname: str
    payload_type: str
    raw: bytes | bytearray | memoryview
    link: bool
    id: str = field(default_factory=new_uuid)
    sha256: str = ""


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""Compact JSON, made once (``json.dumps`` with options builds an encoder per call)."""


def _dumps(value: Any, strict: bool = False) -> str:
    """The envelope's JSON; ``strict``: checked as a strict reader would read it (no NaN,
    nesting within the profile's ``JSON_MAX_DEPTH``, integers a double holds);
    ``SERIALIZATION_ERROR`` otherwise."""
    try:
        text = _ENCODER.encode(value)
        if strict:
            strict_json.check_written(text)
        return text
    except (TypeError, ValueError, RecursionError) as e:
        raise NatsBridgeError(ERROR_WRITER_RULE, f"serializing the envelope: {str(e)[:200]}") from e


def _utf8_len(text: str) -> int:
    """Bytes of ``text`` as UTF-8; ``SERIALIZATION_ERROR`` for text that has none (a lone
    surrogate, e.g. from a decoded ``"\\ud800"``), which no receiver could parse."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as e:
        raise NatsBridgeError(ERROR_WRITER_RULE, "the envelope holds text that is not valid Unicode") from e


def _wire_payload(p: _Prepared, data: str) -> MsgPayloadV1:
    return {
        "id": p.id,
        "dataname": p.dataname,
        "payload_type": p.payload_type,
        "transport": "link" if p.link else "direct",
        "encoding": "none" if p.link else "base64",
        "size": len(p.raw),
        "data": data,
        "metadata": {"sha256": p.sha256},
    }


_WRITABLE: dict[tuple[str, ...], None] = {}
"""The caller's fields of envelopes already checked as writable (at most :data:`_WRITABLE_KEPT`)."""
_WRITABLE_KEPT = 256


def _check_writable(envelope: MsgEnvelopeV1, prepared: list[_Prepared]) -> None:
    """:func:`check_writable_envelope`, run once per combination of the fields a caller
    chooses (subject, purpose, names, ids of sender and receiver, reply fields, each payload's
    dataname and type). Every other field is this module's own and valid by construction:
    ``correlation_id`` and ``msg_id`` are fresh UUIDs or passed :func:`checked_uuid` (the
    schema's pattern), the payload ids fresh UUIDs, the timestamp :func:`now_timestamp`'s,
    ``transport``/``encoding``/``size`` and both ``metadata`` objects set here."""
    key = (envelope["send_to"], envelope["msg_purpose"], envelope["sender_name"], envelope["sender_id"],
           envelope["receiver_name"], envelope["receiver_id"], envelope["reply_to"], envelope["reply_to_msg_id"],
           *(p.dataname for p in prepared), *(p.payload_type for p in prepared))
    cacheable = all(type(k) is str for k in key)  # a str subclass or any other type: checked every time
    if cacheable and key in _WRITABLE:
        return
    check_writable_envelope(envelope)
    if cacheable:
        if len(_WRITABLE) >= _WRITABLE_KEPT:
            _WRITABLE.clear()
        _WRITABLE[key] = None


def fit_max_payload(envelope: MsgEnvelopeV1, prepared: list[_Prepared], header_bytes: int, max_payload: int) -> None:
    """Moves the largest direct payloads to link until the whole message fits
    ``max_payload``: the envelope's JSON (a link's URL counted as
    :data:`LINK_URL_ALLOWANCE`), every direct payload's base64, and the headers.
    ``PAYLOAD_TOO_LARGE`` only when even all links do not fit."""
    first = True
    while True:
        envelope["payloads"] = [_wire_payload(p, "") for p in prepared]
        # Every field but the payloads' data (base64 or URLs, strings that change neither the
        # depth nor the numbers): checked as a strict reader reads it, once.
        skeleton = _utf8_len(_dumps(envelope, strict=first))
        first = False
        inline = sum(encoded_len(len(p.raw)) for p in prepared if not p.link)
        links = sum(LINK_URL_ALLOWANCE for p in prepared if p.link)
        total = skeleton + inline + links + header_bytes
        if total <= max_payload:
            return
        direct = [p for p in prepared if not p.link]
        if not direct:
            raise NatsBridgeError(
                ERROR_TOO_LARGE_TO_SEND, f"the envelope alone is {total} bytes, over the server's max_payload {max_payload}"
            )
        largest = max(direct, key=lambda p: len(p.raw))
        _log.debug("moving payload to link to fit max_payload", envelope["correlation_id"], "serialize",
                   dataname=largest.dataname, total=total, max_payload=max_payload)
        largest.link = True


@checked("smartsend")
async def smartsend(
    subject: str,
    payloads: Iterable[PayloadInput],
    *,
    connection: Client | str | ConnectSettings | None = None,
    fileserver_url: str | None = None,
    fileserver_token: str | None = None,
    size_threshold: Count | None = None,
    correlation_id: str | None = None,
    msg_id: str | None = None,
    msg_purpose: str = DEFAULT_MSG_PURPOSE,
    sender_name: str = "natsbridge-python",
    sender_id: str | None = None,
    receiver_name: str = "",
    receiver_id: str = "",
    reply_to: str = "",
    reply_to_msg_id: str = "",
    metadata: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    publish: bool = True,
    flush: bool = DEFAULT_FLUSH,
    max_payload: PositiveCount | None = None,
    link_ttl: PositiveSeconds | None = None,
    one_shot: bool = False,
    jetstream: nats.js.JetStreamContext | None = None,
    http: aiohttp.ClientSession | None = None,
) -> Sent:
    """Packs ``payloads`` (``(dataname, data, payload_type)`` triples) into one
    ``msg_envelope_v1`` and publishes it on ``subject``.

    Payloads whose serialized size reaches ``size_threshold`` (default ``SIZE_THRESHOLD`` or
    500 000) are uploaded to the Plik-compatible server at ``fileserver_url`` (default
    ``FILESERVER_URL``) and travel as links; if the direct ones would still overflow the
    server's ``max_payload`` (base64 grows data by 4/3, headers count too), the largest
    are moved to link until the message fits. ``connection`` is a client (reused), or a URL
    or :class:`ConnectSettings` connected to for this call; without one, the settings of the
    environment and the nats CLI's context (``NATS_URL``, ``NATS_TOKEN``, ``NATS_CREDS``, ...,
    see :func:`natsbridge.resolve_connect_settings`); a URL gets their credentials and TLS
    too. ``fileserver_token`` (default ``FILESERVER_TOKEN``) is the token a file server
    started with one asks of uploads. With ``publish=False`` nothing is
    published (links are still uploaded). ``flush`` (default false, the profile's
    ``DEFAULT_FLUSH``) waits for the server to have read the message on a connection the
    caller gave; a connection opened for this call is always flushed and closed before
    returning. Returns :class:`Sent` ``(envelope, json)``.

    Before anything is uploaded or published the envelope is checked as a v1 writer must
    write it (closed enums, UUID ids, non-empty ``subject`` and ``sender_name``):
    ``SERIALIZATION_ERROR`` naming the field. An unknown keyword or a value of the wrong type
    is ``INVALID_ARGUMENT`` naming it. Raises :class:`NatsBridgeError` carrying the
    correlation id; :class:`Sent` has ``.correlation_id`` and ``.msg_id``.
    """
    cid = checked_uuid(correlation_id, "correlation_id")
    try:
        return await _send(  # smartsend's own arguments, checked by @checked
            subject, list(payloads), cid, None, connection, fileserver_url, fileserver_token, size_threshold, msg_id,
            msg_purpose, sender_name, sender_id, receiver_name, receiver_id, reply_to, reply_to_msg_id, metadata,
            headers, publish, flush, max_payload, link_ttl, one_shot, jetstream, http,
        )
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)


@checked_options
@dataclass(frozen=True)
class SendOptions:
    """:func:`smartsend`'s keyword arguments but ``correlation_id``, as one value (used by
    the JetStream and request helpers; see :func:`smartsend` for each)."""

    connection: Client | str | ConnectSettings | None = None
    fileserver_url: str | None = None
    fileserver_token: str | None = None
    size_threshold: Count | None = None
    msg_id: str | None = None
    msg_purpose: str = DEFAULT_MSG_PURPOSE
    sender_name: str = "natsbridge-python"
    sender_id: str | None = None
    receiver_name: str = ""
    receiver_id: str = ""
    reply_to: str = ""
    reply_to_msg_id: str = ""
    metadata: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    publish: bool = True
    flush: bool = DEFAULT_FLUSH
    max_payload: PositiveCount | None = None
    link_ttl: PositiveSeconds | None = None
    one_shot: bool = False
    jetstream: nats.js.JetStreamContext | None = None
    http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        """The options, a URL's user info and query removed and the file server token hidden."""
        shown: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "connection" and isinstance(value, str):
                text = repr(shown_seeds(value))
            elif f.name == "fileserver_url" and isinstance(value, str):
                text = repr(redact(value))
            elif f.name == "fileserver_token" and value is not None:
                text = "<set>"
            else:
                text = repr(value)
            shown.append(f"{f.name}={text}")
        return f"SendOptions({', '.join(shown)})"


def _unpublished_broker(connection: str | ConnectSettings | None) -> str:
    """The ``broker_url`` of an envelope not published: the seeds it would go to, as shown
    (without user info, a query redacted), comma-joined: those of ``connection``, else those
    the environment and the nats CLI's context give. Settings that cannot be resolved (a
    broken context) do not fail a send that connects to nothing: ``NATS_URL``'s seeds or the
    default's are named then, never none."""
    if isinstance(connection, ConnectSettings):
        return shown_servers(connection.servers)
    if connection is not None and shown_seeds(connection):
        return shown_seeds(connection)
    try:
        return shown_servers(settings_for(None).servers)
    except NatsBridgeError:
        return shown_seeds(config.nats_url())


SEND_OPTION_NAMES: frozenset[str] = frozenset({*(f.name for f in fields(SendOptions)), "correlation_id"})
"""Every keyword :func:`smartsend` takes (what the calls that forward ``**send_options`` accept)."""


async def send_with(
    subject: str, payloads: list[PayloadInput], cid: str, o: SendOptions, sequence_out: list[int] | None = None
) -> Sent:
    """:func:`smartsend` with its options as one value; ``sequence_out`` receives the stream
    sequence of a JetStream publish."""
    return await _send(
        subject, payloads, cid, sequence_out, o.connection, o.fileserver_url, o.fileserver_token, o.size_threshold,
        o.msg_id, o.msg_purpose, o.sender_name, o.sender_id, o.receiver_name, o.receiver_id, o.reply_to,
        o.reply_to_msg_id, o.metadata, o.headers, o.publish, o.flush, o.max_payload, o.link_ttl, o.one_shot,
        o.jetstream, o.http,
    )


async def _send(
    subject: str, payloads: list[PayloadInput], cid: str, sequence_out: list[int] | None,
    connection: Client | str | ConnectSettings | None, fileserver_url: str | None, fileserver_token: str | None,
    size_threshold: int | None, msg_id: str | None, msg_purpose: str, sender_name: str, sender_id: str | None,
    receiver_name: str, receiver_id: str, reply_to: str, reply_to_msg_id: str, metadata: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None, publish: bool, flush: bool, max_payload: int | None, link_ttl: float | None,
    one_shot: bool, jetstream: nats.js.JetStreamContext | None, http: aiohttp.ClientSession | None,
) -> Sent:
    """:func:`send_with`'s work, the options as arguments (in :class:`SendOptions`' order): the
    hot path builds no options value."""
    if not isinstance(subject, str):
        raise NatsBridgeError(ERROR_WRITER_RULE, f"the subject must be a str, not {type(subject).__name__}")
    threshold = config.size_threshold() if size_threshold is None else size_threshold

    # 1. Serialize.
    prepared: list[_Prepared] = []
    for i, item in enumerate(payloads):
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise NatsBridgeError(ERROR_BAD_OPTION, f"payload {i} must be a (dataname, data, payload_type) triple, "
                                  f"not {shown(item)}")
        dataname, data, payload_type = item
        if not isinstance(dataname, str):
            raise NatsBridgeError(ERROR_BAD_OPTION, f"payload {i}: the dataname must be a str, not {shown(dataname)}")
        if not isinstance(payload_type, str):
            raise NatsBridgeError(ERROR_BAD_OPTION, f"payload {i} (`{dataname[:60]}`): the payload_type must be a "
                                  f"str, not {shown(payload_type)}", dataname=dataname)
        try:
            raw = encode_payload(data, payload_type)
        except NatsBridgeError as e:
            raise e.with_dataname(dataname)
        link = len(raw) >= threshold
        _log.debug("serialized", cid, "serialize", dataname=dataname, bytes=len(raw), link=link)
        prepared.append(_Prepared(dataname, payload_type, raw, link, sha256=sha256_hex(raw)))

    # 2. The envelope, checked as a v1 writer must write it, before anything is uploaded or published.
    mid = checked_uuid(msg_id, "msg_id")
    wire_headers = build_headers(mid, cid, headers)
    envelope: MsgEnvelopeV1 = {
        "correlation_id": cid,
        "msg_id": mid,
        "timestamp": now_timestamp(),
        "send_to": subject,
        "msg_purpose": msg_purpose,
        "sender_name": sender_name,
        "sender_id": config.sender_id() if sender_id is None else sender_id,
        "receiver_name": receiver_name,
        "receiver_id": receiver_id,
        "reply_to": reply_to,
        "reply_to_msg_id": reply_to_msg_id,
        "metadata": dict(metadata or {}),
        "payloads": [_wire_payload(p, "") for p in prepared],
    }
    _check_writable(envelope, prepared)

    # 3. Connect (to learn max_payload) when publishing.
    nc: Client | None = None
    own_nc = False
    if publish:
        if jetstream is not None:
            nc = jetstream._nc
        elif isinstance(connection, Client):
            nc = connection
        else:
            nc = await open_connection(settings_for(connection))
            own_nc = True
    try:
        if nc is not None:
            broker_url: str | None = broker_url_of(nc)
            budget = nc.max_payload if nc.max_payload > 0 else DEFAULT_MAX_PAYLOAD
        else:
            broker_url = broker_url_of(connection) if isinstance(connection, Client) else _unpublished_broker(connection)
            budget = max_payload or DEFAULT_MAX_PAYLOAD
        if broker_url is not None:
            envelope["broker_url"] = broker_url

        # 4. Fit the budget. Every payload direct (the usual case): the envelope is serialized
        # once, data inlined, and kept when it fits; the strict check is needed only for the
        # caller's `metadata` (every other field is a string, a small integer, or a fixed
        # nesting; the payloads' data are base64 strings).
        header_bytes = header_len(wire_headers)
        if not any(p.link for p in prepared):
            for p, w in zip(prepared, envelope["payloads"]):
                w["data"] = b64encode(p.raw)
            text = _dumps(envelope, strict=bool(envelope["metadata"]))
            try:
                body = text.encode("utf-8")
            except UnicodeEncodeError as e:
                raise NatsBridgeError(ERROR_WRITER_RULE, "the envelope holds text that is not valid Unicode") from e
            if len(body) + header_bytes <= budget:
                return await _publish(nc, jetstream, subject, body, wire_headers, flush or own_nc, cid, sequence_out,
                                      Sent(envelope, text))
        fit_max_payload(envelope, prepared, header_bytes, budget)

        # 5. Upload links, inline the rest.
        wire: list[MsgPayloadV1] = []
        session = http
        try:
            for p in prepared:
                if p.link:
                    if session is None:
                        session = new_session()
                    name = f"{file_name(p.dataname)}.{extension(p.payload_type)}"
                    try:
                        uploaded = await upload(
                            config.fileserver_setting(fileserver_url), name, p.raw,
                            what=f"uploading payload `{p.dataname[:100]}` ({len(p.raw)} bytes)", one_shot=one_shot,
                            ttl=link_ttl, token=fileserver_token, correlation_id=cid, session=session,
                        )
                    except NatsBridgeError as e:
                        raise e.with_dataname(p.dataname)
                    wire.append(_wire_payload(p, uploaded.url))
                else:
                    wire.append(_wire_payload(p, b64encode(p.raw)))
        finally:
            if session is not None and http is None:
                await session.close()
        envelope["payloads"] = wire
        text = _dumps(envelope)

        # 6. Publish.
        body = text.encode("utf-8") if nc is not None else b""
        return await _publish(nc, jetstream, subject, body, wire_headers, flush or own_nc, cid, sequence_out,
                              Sent(envelope, text))
    finally:
        if own_nc and nc is not None:
            await nc.close()


async def _publish(
    nc: Client | None, jetstream: nats.js.JetStreamContext | None, subject: str, body: bytes,
    headers: dict[str, str], flush: bool, cid: str, sequence_out: list[int] | None, sent: Sent,
) -> Sent:
    """Publishes ``body`` (nothing when ``nc`` is ``None``: not publishing) and returns ``sent``."""
    if nc is not None:
        if jetstream is not None:
            seq = await publish_jetstream(jetstream, subject, body, headers, cid)
            if sequence_out is not None:
                sequence_out.append(seq)
        else:
            await publish_core(nc, subject, body, headers, flush, cid)
    return sent
