"""``smartreceive``: check limits, parse and validate the envelope, fetch link payloads
(allowed hosts only), verify ``size`` and ``metadata.sha256``, decode every payload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from nats.aio.msg import Msg

from natsbridge_types import MsgEnvelopeV1, MsgPayloadV1
from natsbridge_types.profile import (
    ERROR_BAD_OPTION,
    ERROR_ENVELOPE_TOO_LARGE,
    ERROR_HOST_NOT_ALLOWED,
    ERROR_INTEGRITY,
    ERROR_NOT_JSON,
    ERROR_PAYLOAD_TOO_LARGE,
    ERROR_UNKNOWN_PAYLOAD_TYPE,
    ERROR_UNKNOWN_TRANSPORT,
    HEADER_CORRELATION_ID,
    MAX_ENVELOPE_BYTES,
    MAX_PAYLOADS,
)

from . import _log, config, strict_json
from .errors import NatsBridgeError
from .fetch import FetchOptions, fetch_hashed, host_of, new_session, redact
from .file_links import is_file_link, read_file_link
from .hosts import ANY_HOST, allowed_host
from .options import Count, checked, checked_options
from .payload import TableLimits, decode_payload, is_known_payload_type, num_rows
from .schema_check import loose_correlation_id, readable_envelope
from .wire import b64decode, encoded_len, sha256_hex

__all__ = ["ReceiveOptions", "Received", "ReceivedPayload", "smartreceive"]


def _default_hosts() -> tuple[str, ...]:
    url = config.fileserver_url()
    return (url,) if host_of(url) else ()


@checked_options
@dataclass(frozen=True)
class ReceiveOptions:
    """What a receiver accepts from the network.

    ``allowed_hosts``: the hosts links may be downloaded from, each an http(s) URL or origin
    (``http://files:8080``; ``*`` allows all; see :func:`natsbridge.allowed_host`), as a list
    (kept as a tuple; a plain string is an error); default ``FILESERVER_URL``'s. A bare
    ``files:8080`` is ``INVALID_ARGUMENT``.
    ``allowed_dirs``: directories ``file://`` links may point into (none by default; see
    :mod:`natsbridge.file_links`).
    Envelopes up to the profile's ``MAX_ENVELOPE_BYTES`` (64 MiB) with up to ``MAX_PAYLOADS``
    (10 000) payloads; ``metadata.sha256`` verified when present. An unknown option or a
    value of the wrong type is ``INVALID_ARGUMENT`` naming it.
    """

    allowed_hosts: Sequence[str] = field(default_factory=_default_hosts)
    allowed_dirs: Sequence[str] = ()
    fetch: FetchOptions = FetchOptions()
    max_envelope_bytes: Count = MAX_ENVELOPE_BYTES
    max_payloads: Count = MAX_PAYLOADS
    table_limits: TableLimits = TableLimits()
    verify_sha256: bool = True
    http: aiohttp.ClientSession | None = None
    """A session to download with (connection reuse); one per call otherwise."""
    hosts: frozenset[str] = field(init=False, repr=False, compare=False, default=frozenset())
    """``allowed_hosts`` as ``host:port`` (or ``*``): what a link's host is compared with."""

    def __post_init__(self) -> None:
        hosts = []
        for h in self.allowed_hosts:
            try:
                hosts.append(allowed_host(h))
            except NatsBridgeError as e:
                raise NatsBridgeError(ERROR_BAD_OPTION, f"ReceiveOptions: option `allowed_hosts`: {e.message}") from None
        object.__setattr__(self, "hosts", frozenset(hosts))

    @checked("ReceiveOptions.allow_host")
    def allow_host(self, url: str) -> ReceiveOptions:
        """These options, also allowing links to the host of ``url`` (an http(s) URL or origin,
        e.g. ``http://files:8080``, or ``*``; a bare ``files:8080`` is ``INVALID_ARGUMENT``)."""
        try:
            host = allowed_host(url)
        except NatsBridgeError as e:
            raise NatsBridgeError(ERROR_BAD_OPTION, f"ReceiveOptions.allow_host: {e.message}") from None
        if host in self.hosts:
            return self
        return replace(self, allowed_hosts=(*self.allowed_hosts, url))

    @checked("ReceiveOptions.allow_dir")
    def allow_dir(self, directory: str) -> ReceiveOptions:
        """These options, also allowing ``file://`` links into ``directory``."""
        if directory in self.allowed_dirs:
            return self
        return replace(self, allowed_dirs=(*self.allowed_dirs, directory))


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

    @checked("Received.payload")
    def payload(self, dataname: str) -> ReceivedPayload | None:
        """The first payload named ``dataname`` (``None`` when there is none)."""
        return next((p for p in self.payloads if p.dataname == dataname), None)

    def tuples(self) -> list[tuple[str, Any, str]]:
        """The payloads as the reference's ``(dataname, data, payload_type)`` triples."""
        return [p.as_tuple() for p in self.payloads]


@checked("smartreceive")
async def smartreceive(
    msg: Msg | bytes | bytearray | str,
    options: ReceiveOptions | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Received:
    """Decodes a NATS message (or envelope JSON received by other means) carrying a
    ``msg_envelope_v1``. Raises :class:`NatsBridgeError` with the correlation id (from the
    envelope, or the ``Correlation-Id`` header when the envelope is unreadable)."""
    opts = options or _default_options()
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
            ERROR_ENVELOPE_TOO_LARGE, f"envelope of {size} bytes exceeds the limit {opts.max_envelope_bytes}",
            correlation_id=cid_hint,
        )
    _log.debug("received", cid_hint, "receive", bytes=size)
    try:
        value: object = strict_json.loads(body)
    except strict_json.StrictJsonError as e:
        raise NatsBridgeError(ERROR_NOT_JSON, f"not strict JSON: {e}", correlation_id=cid_hint) from None
    # The payload count before any per-payload work (the schema check included).
    if isinstance(value, dict) and isinstance(value.get("payloads"), list) and len(value["payloads"]) > opts.max_payloads:
        raise NatsBridgeError(
            ERROR_ENVELOPE_TOO_LARGE, f"{len(value['payloads'])} payloads, more than the limit {opts.max_payloads}",
            correlation_id=loose_correlation_id(value) or cid_hint,
        )
    # The generated reader check (unknown enum values and fields accepted, types enforced),
    # skipped for envelopes the fast check already proved valid.
    envelope = readable_envelope(value, cid_hint)
    cid = envelope["correlation_id"]
    try:
        session = opts.http
        try:
            out = []
            for p in envelope["payloads"]:
                if session is None and p.get("transport") == "link" and not is_file_link(p["data"]):
                    session = new_session(opts.fetch)
                try:
                    if p["transport"] == "direct":  # no I/O: no coroutine per payload
                        out.append(_direct_payload(p, opts, cid))
                    else:
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


_defaults: tuple[str, ReceiveOptions] | None = None
"""The default options and the ``FILESERVER_URL`` they were made with."""


def _default_options() -> ReceiveOptions:
    """``ReceiveOptions()``, made again only when ``FILESERVER_URL`` (its allowed host) changed."""
    global _defaults
    url = config.fileserver_url()
    if _defaults is None or _defaults[0] != url:
        _defaults = (url, ReceiveOptions())
    return _defaults[1]


def host_allowed(url: str, allowed: frozenset[str]) -> bool:
    """Whether an http(s) link may be downloaded: its ``host:port`` is allowed (``allowed``
    as :attr:`ReceiveOptions.hosts` holds them), or everything is (``*``)."""
    with_port = host_of(url)
    if with_port is None:
        return False
    return ANY_HOST in allowed or with_port in allowed


def _declared_size(p: MsgPayloadV1, opts: ReceiveOptions) -> int:
    """The payload's ``size`` (an int >= 0, checked with the envelope), its type known and the size
    within the limit."""
    if not is_known_payload_type(p["payload_type"]):
        raise NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, f"unknown payload_type `{p['payload_type'][:100]}`")
    size = p["size"]
    if size > opts.fetch.max_bytes:
        raise NatsBridgeError(ERROR_PAYLOAD_TOO_LARGE, f"declared size {size} exceeds the limit {opts.fetch.max_bytes}")
    return size


def _direct_payload(p: MsgPayloadV1, opts: ReceiveOptions, cid: str) -> ReceivedPayload:
    size = _declared_size(p, opts)
    data = p["data"]
    if len(data) != encoded_len(size):
        raise NatsBridgeError(
            ERROR_INTEGRITY, f"`size` is {size} but `data` holds {len(data)} base64 characters"
        )
    raw = b64decode(data)
    if len(raw) != size:
        raise NatsBridgeError(ERROR_INTEGRITY, f"`size` is {size} but `data` decodes to {len(raw)} bytes")
    return _verified(p, raw, None, opts, cid)


async def _receive_payload(
    p: MsgPayloadV1, opts: ReceiveOptions, cid: str, session: aiohttp.ClientSession | None
) -> ReceivedPayload:
    size = _declared_size(p, opts)
    transport = p["transport"]
    data = p["data"]
    sha: str | None = None
    raw: bytes | bytearray
    if transport == "link" and is_file_link(data):
        raw = await read_file_link(data, size, opts.allowed_dirs)
    elif transport == "link":
        if not host_allowed(data, opts.hosts):
            host = host_of(data)
            allowed = ", ".join(sorted(opts.hosts)) or "none"
            try_ = (f"If you trust it, allow it: ReceiveOptions(allowed_hosts=[..., \"http://{host}\"]) "
                    f"(--allow-host http://{host})") if host else "Only http(s) links can be downloaded"
            raise NatsBridgeError(
                ERROR_HOST_NOT_ALLOWED,
                f"downloading {redact(data)}: links to {host or 'this URL'} are not allowed (allowed: {allowed}). "
                f"{try_}",
            )
        fetched = await fetch_hashed(data, expected_size=size, options=opts.fetch, correlation_id=cid, session=session)
        raw, sha = fetched.data, fetched.sha256
    else:
        raise NatsBridgeError(ERROR_UNKNOWN_TRANSPORT, f"unknown transport `{transport[:100]}`")
    return _verified(p, raw, sha, opts, cid)


def _verified(
    p: MsgPayloadV1, raw: bytes | bytearray, sha: str | None, opts: ReceiveOptions, cid: str
) -> ReceivedPayload:
    """The payload's bytes checked against ``metadata.sha256`` (``sha``: their digest, when the
    download computed it) and decoded."""
    declared = (p.get("metadata") or {}).get("sha256")
    if opts.verify_sha256 and isinstance(declared, str):
        if sha is None:
            sha = sha256_hex(raw)
        if sha != declared.lower():
            raise NatsBridgeError(
                ERROR_INTEGRITY, f"sha256 of the bytes is {sha}, the payload declares {declared[:100]}"
            )
    decoded = decode_payload(raw, p["payload_type"], opts.table_limits)
    _log.debug("decoded", cid, "deserialize", dataname=p["dataname"], transport=p["transport"], bytes=len(raw))
    return ReceivedPayload(p["dataname"], decoded, p["payload_type"], transport=p["transport"], raw=raw, _sha256=sha)
