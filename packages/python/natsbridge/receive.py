"""``smartreceive``: check limits, parse and validate the envelope, fetch link payloads
(allowed hosts only), verify ``size`` and ``metadata.sha256``, decode every payload."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import aiohttp
from nats.aio.msg import Msg

from natsbridge_types import SCHEMA, MsgEnvelopeV1, MsgPayloadV1, validate_msg_envelope_v1

from . import _log, config
from .errors import NatsBridgeError
from .fetch import FetchOptions, fetch_hashed, host_of, new_session, redact
from .payload import TableLimits, decode_payload, is_known_payload_type, num_rows
from .wire import HEADER_CORRELATION_ID, b64decode, encoded_len, sha256_hex

__all__ = ["ReceiveOptions", "Received", "ReceivedPayload", "smartreceive"]


def _default_hosts() -> tuple[str, ...]:
    host = host_of(config.fileserver_url())
    return (host,) if host else ()


@dataclass(frozen=True)
class ReceiveOptions:
    """What a receiver accepts from the network.

    ``allowed_hosts``: ``host:port`` or bare ``host`` entries (``*`` allows all); default the
    host of ``FILESERVER_URL``. Envelopes up to 64 MiB with up to 10 000 payloads;
    ``metadata.sha256`` verified when present.
    """

    allowed_hosts: tuple[str, ...] = field(default_factory=_default_hosts)
    fetch: FetchOptions = FetchOptions()
    max_envelope_bytes: int = 64 << 20
    max_payloads: int = 10_000
    table_limits: TableLimits = TableLimits()
    verify_sha256: bool = True
    http: aiohttp.ClientSession | None = None
    """A session to download with (connection reuse); one per call otherwise."""

    def allow_host(self, url_or_host: str) -> ReceiveOptions:
        """These options, also allowing links to the host of ``url_or_host`` (a URL, or a
        bare ``host[:port]``)."""
        host = host_of(url_or_host) or url_or_host
        if host in self.allowed_hosts:
            return self
        return replace(self, allowed_hosts=(*self.allowed_hosts, host))


@dataclass
class ReceivedPayload:
    """One decoded payload: ``(dataname, data, payload_type)`` plus how it travelled and
    the bytes as carried (for tables, the columns point into them)."""

    dataname: str
    data: Any
    payload_type: str
    transport: str
    raw: bytes | bytearray
    _sha256: str | None = None

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of :attr:`raw`."""
        if self._sha256 is None:
            self._sha256 = sha256_hex(self.raw)
        return self._sha256

    @property
    def num_rows(self) -> int | None:
        """Rows of an arrowtable or jsontable, ``None`` for other types."""
        return num_rows(self.data, self.payload_type)

    def as_tuple(self) -> tuple[str, Any, str]:
        return (self.dataname, self.data, self.payload_type)


@dataclass
class Received:
    """A received envelope and its decoded payloads (in envelope order)."""

    envelope: MsgEnvelopeV1
    payloads: list[ReceivedPayload]
    headers: dict[str, str] | None = None

    @property
    def correlation_id(self) -> str:
        return self.envelope["correlation_id"]

    def payload(self, dataname: str) -> ReceivedPayload | None:
        """The first payload named ``dataname``."""
        return next((p for p in self.payloads if p.dataname == dataname), None)

    def tuples(self) -> list[tuple[str, Any, str]]:
        """The payloads as the reference's ``(dataname, data, payload_type)`` triples."""
        return [p.as_tuple() for p in self.payloads]


_DEFS = SCHEMA["definitions"]
_UUID = re.compile(_DEFS["Uuid"]["pattern"])
_TIMESTAMP = re.compile(_DEFS["Timestamp"]["pattern"])
_ENVELOPE_STRINGS = ("sender_id", "receiver_name", "receiver_id", "reply_to", "reply_to_msg_id")
_PAYLOAD_STRINGS = ("dataname", "payload_type", "transport", "encoding", "data")


def _plainly_valid(value: object) -> bool:
    """A fast, conservative reader check of the v1 schema (patterns taken from it): ``True``
    only for an envelope the schema accepts; anything else goes to the generated validator
    (which also words the error). Keeps jsonschema off the hot path of small messages."""
    if not isinstance(value, dict):
        return False
    get = value.get
    for key in ("correlation_id", "msg_id"):
        v = get(key)
        if not isinstance(v, str) or not _UUID.search(v):
            return False
    ts = get("timestamp")
    if not isinstance(ts, str) or not _TIMESTAMP.search(ts):
        return False
    for key in ("send_to", "sender_name"):
        v = get(key)
        if not isinstance(v, str) or not v:
            return False
    if not isinstance(get("msg_purpose"), str):
        return False
    if not all(isinstance(get(k), str) for k in _ENVELOPE_STRINGS):
        return False
    if "broker_url" in value and not isinstance(value["broker_url"], str):
        return False
    if "metadata" in value and not isinstance(value["metadata"], dict):
        return False
    payloads = get("payloads")
    if not isinstance(payloads, list):
        return False
    for p in payloads:
        if not isinstance(p, dict):
            return False
        pid = p.get("id")
        if not isinstance(pid, str) or not _UUID.search(pid):
            return False
        if not all(isinstance(p.get(k), str) for k in _PAYLOAD_STRINGS):
            return False
        size = p.get("size")
        if type(size) is not int or size < 0:
            return False
        if "metadata" in p and not isinstance(p["metadata"], dict):
            return False
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loose_correlation_id(value: object) -> str | None:
    if isinstance(value, dict):
        cid = value.get("correlation_id")
        if isinstance(cid, str):
            return cid[:100]
    return None


async def smartreceive(
    msg: Msg | bytes | bytearray | str,
    options: ReceiveOptions | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Received:
    """Decodes a NATS message (or envelope JSON received by other means) carrying a
    ``msg_envelope_v1``. Raises :class:`NatsBridgeError` with the correlation id (from the
    envelope, or the ``Correlation-Id`` header when the envelope is unreadable)."""
    opts = options or ReceiveOptions()
    if isinstance(msg, Msg):
        body: bytes | bytearray | str = msg.data
        hdrs = dict(msg.headers) if msg.headers else None
    else:
        body = msg
        hdrs = dict(headers) if headers else None
    cid_hint = hdrs.get(HEADER_CORRELATION_ID) if hdrs else None
    size = len(body)
    if isinstance(body, str) and size * 4 > opts.max_envelope_bytes:  # the limit is in UTF-8 bytes
        size = len(body.encode("utf-8", "surrogatepass"))
    if size > opts.max_envelope_bytes:
        raise NatsBridgeError(
            "PAYLOAD_TOO_LARGE", f"envelope of {size} bytes exceeds the limit {opts.max_envelope_bytes}",
            correlation_id=cid_hint,
        )
    _log.debug("received", cid_hint, "receive", bytes=size)
    try:
        value: object = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise NatsBridgeError("INVALID_ENVELOPE", "not JSON", correlation_id=cid_hint) from e
    # The payload count before any per-payload work (the schema check included).
    if isinstance(value, dict) and isinstance(value.get("payloads"), list) and len(value["payloads"]) > opts.max_payloads:
        raise NatsBridgeError(
            "PAYLOAD_TOO_LARGE", f"{len(value['payloads'])} payloads, more than the limit {opts.max_payloads}",
            correlation_id=_loose_correlation_id(value) or cid_hint,
        )
    # The generated reader check (unknown enum values and fields accepted, types enforced),
    # skipped for envelopes the fast check already proved valid.
    issues = [] if _plainly_valid(value) else validate_msg_envelope_v1(value, reader=True)
    if issues or not isinstance(value, dict):
        detail = "; ".join(f"{i.path or '/'} {i.message}" for i in issues[:3])[:500]
        raise NatsBridgeError(
            "INVALID_ENVELOPE", f"not a valid msg_envelope_v1: {detail}",
            correlation_id=_loose_correlation_id(value) or cid_hint,
        )
    envelope = cast(MsgEnvelopeV1, value)
    cid = envelope["correlation_id"]
    try:
        session = opts.http
        try:
            out = []
            for p in envelope["payloads"]:
                if session is None and p.get("transport") == "link":
                    session = new_session(opts.fetch)
                try:
                    out.append(await _receive_payload(p, opts, cid, session))
                except NatsBridgeError as e:
                    raise e.with_dataname(p.get("dataname"))
        finally:
            if session is not None and opts.http is None:
                await session.close()
        _log.info("received", cid, "receive", subject=envelope.get("send_to"), payloads=len(out))
        return Received(envelope, out, hdrs)
    except NatsBridgeError as e:
        raise e.with_correlation_id(cid)


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Whether an http(s) link may be downloaded: its ``host:port`` or bare host is allowed,
    or everything is (``*``)."""
    with_port = host_of(url)
    if with_port is None:
        return False
    host = with_port.rsplit(":", 1)[0]
    return any(a == "*" or a == with_port or a == host for a in allowed)


async def _receive_payload(
    p: MsgPayloadV1, opts: ReceiveOptions, cid: str, session: aiohttp.ClientSession | None
) -> ReceivedPayload:
    if not is_known_payload_type(p["payload_type"]):
        raise NatsBridgeError("INVALID_PAYLOAD_TYPE", f"unknown payload_type `{p['payload_type'][:100]}`")
    declared_size: object = p["size"]
    # The schema's `integer` admits 11.0 (JSON has one number type); it means 11.
    if isinstance(declared_size, float) and declared_size.is_integer():
        declared_size = int(declared_size)
    if not isinstance(declared_size, int) or isinstance(declared_size, bool) or declared_size < 0:
        raise NatsBridgeError("INVALID_ENVELOPE", "`size` must be a non-negative integer")
    size = declared_size
    if size > opts.fetch.max_bytes:
        raise NatsBridgeError("PAYLOAD_TOO_LARGE", f"declared size {size} exceeds the limit {opts.fetch.max_bytes}")
    transport = p["transport"]
    data = p["data"]
    sha: str | None = None
    raw: bytes | bytearray
    if transport == "direct":
        if len(data) != encoded_len(size):
            raise NatsBridgeError(
                "INTEGRITY_MISMATCH", f"`size` is {size} but `data` holds {len(data)} base64 characters"
            )
        raw = b64decode(data)
        if len(raw) != size:
            raise NatsBridgeError("INTEGRITY_MISMATCH", f"`size` is {size} but `data` decodes to {len(raw)} bytes")
    elif transport == "link":
        if not host_allowed(data, opts.allowed_hosts):
            raise NatsBridgeError(
                "URL_NOT_ALLOWED",
                f"links to {host_of(data) or redact(data)} are not allowed (allowed: {', '.join(opts.allowed_hosts)})",
            )
        fetched = await fetch_hashed(data, expected_size=size, options=opts.fetch, correlation_id=cid, session=session)
        raw, sha = fetched.data, fetched.sha256
    else:
        raise NatsBridgeError("INVALID_TRANSPORT", f"unknown transport `{transport[:100]}`")
    declared = (p.get("metadata") or {}).get("sha256")
    if opts.verify_sha256 and isinstance(declared, str):
        if sha is None:
            sha = sha256_hex(raw)
        if sha != declared.lower():
            raise NatsBridgeError(
                "INTEGRITY_MISMATCH", f"sha256 of the bytes is {sha}, the payload declares {declared[:100]}"
            )
    decoded = decode_payload(raw, p["payload_type"], opts.table_limits)
    _log.debug("decoded", cid, "deserialize", dataname=p["dataname"], transport=transport, bytes=len(raw))
    return ReceivedPayload(p["dataname"], decoded, p["payload_type"], transport, raw, sha)
