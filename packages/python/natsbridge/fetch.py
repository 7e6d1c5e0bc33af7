"""Downloading link payloads: :func:`fetch_with_backoff` and the URL helpers.

The profile's schedule (``FETCH_*`` in ``natsbridge_types.profile``: 100 ms base, doubling,
5 000 ms cap, 5 attempts) with full jitter; only transient failures are retried (connection
errors, timeouts, cut-off bodies, and the statuses of ``FETCH_RETRYABLE_STATUSES``: 404,
408, 429 and 5xx other than 501); ``Retry-After`` (seconds, capped) is honoured; one overall
deadline bounds everything. Redirects are refused, a body longer than expected is cut off, never
buffered, and the body is hashed while it streams in.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import http
import random
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import NamedTuple

import aiohttp

from natsbridge_types import ErrorCode
from natsbridge_types.profile import (
    ERROR_DEADLINE,
    ERROR_DOWNLOAD,
    ERROR_HOST_NOT_ALLOWED,
    ERROR_INTEGRITY,
    ERROR_PAYLOAD_TOO_LARGE,
    FETCH_BASE_DELAY_MS,
    FETCH_DEADLINE_MS,
    FETCH_MAX_ATTEMPTS,
    FETCH_MAX_DELAY_MS,
    FETCH_MAX_PRESIZE,
    FETCH_RETRY_AFTER_CAP_SECONDS,
    MAX_PAYLOAD_SIZE,
    is_retryable_status,
)

from . import _log
from .errors import NatsBridgeError
from .options import Count, PositiveCount, PositiveSeconds, Seconds, checked, checked_options

__all__ = ["FetchOptions", "Fetched", "describe_failure", "fetch_hashed", "fetch_with_backoff", "host_of", "redact",
           "status_text"]

MAX_PRESIZE = FETCH_MAX_PRESIZE
"""The most a download reserves before bytes arrive."""
CHUNK = 256 << 10
"""Bytes read from the socket at a time."""


@checked_options
@dataclass(frozen=True)
class FetchOptions:
    """Retry schedule and limits for downloads (seconds for times), the profile's ``FETCH_*``
    and ``MAX_PAYLOAD_SIZE`` by default."""

    max_attempts: PositiveCount = FETCH_MAX_ATTEMPTS
    base_delay: Seconds = FETCH_BASE_DELAY_MS / 1000
    max_delay: Seconds = FETCH_MAX_DELAY_MS / 1000
    deadline: PositiveSeconds = FETCH_DEADLINE_MS / 1000
    max_bytes: Count = MAX_PAYLOAD_SIZE
    connect_timeout: PositiveSeconds = 10.0
    read_timeout: PositiveSeconds = 60.0


def status_text(status: int) -> str:
    """``HTTP 404 Not Found``: a status with its reason phrase."""
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def describe_failure(error: BaseException) -> str:
    """Why an HTTP request (or a connection) failed, in words: ``connection refused``, ``the
    host name does not resolve (DNS)``, ``timed out``, ``TLS failed``, ... (the first cause in
    the chain that says, else the exception's type and text)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError) or (isinstance(e, OSError) and e.errno == errno.ECONNREFUSED):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "the host name does not resolve (DNS lookup failed)"
        if isinstance(e, (ssl.SSLError, aiohttp.ClientSSLError)):
            return f"TLS failed ({type(e).__name__})"
        if isinstance(e, (TimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            return "timed out"
        if isinstance(e, aiohttp.ServerDisconnectedError):
            return "the server closed the connection"
        if isinstance(e, ConnectionResetError):
            return "the connection was reset"
        if isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "the host is unreachable"
        os_error = getattr(e, "os_error", None)
        e = os_error if isinstance(os_error, BaseException) else (e.__cause__ or e.__context__)
    text = str(error)
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


class Fetched(NamedTuple):
    """A downloaded body and its SHA-256 (lowercase hex), hashed as it arrived."""

    data: bytearray
    sha256: str


def redact(url: str) -> str:
    """The URL without user info, its query replaced by ``REDACTED``: for logs and errors."""
    try:
        u = urllib.parse.urlsplit(url)
        host = u.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{u.port}" if u.port is not None else "")
        query = "REDACTED" if u.query else ""
        return urllib.parse.urlunsplit((u.scheme, netloc, u.path, query, ""))
    except ValueError:
        return "<unparseable url>"


def host_of(url: str) -> str | None:
    """``host:port`` of an http(s) URL (port defaulted from the scheme), else ``None``."""
    try:
        u = urllib.parse.urlsplit(url)
        port = u.port
    except ValueError:
        return None
    if u.scheme not in ("http", "https") or not u.hostname:
        return None
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    return f"{host}:{port or (443 if u.scheme == 'https' else 80)}"


def _download_hint(why: str) -> str:
    """What to try after a download failed for ``why``."""
    if why.startswith("HTTP 404"):
        return "The link may have expired or been downloaded once already (one-shot); ask the sender to send it again"
    if why.startswith("HTTP 5"):
        return "The file server failed; see its log"
    if why.startswith("HTTP"):
        return "The file server refused the download; check the link and the server's settings"
    return "Check that the file server is up and reachable from here"


def backoff_cap(attempt: int, options: FetchOptions) -> float:
    """Bound of the full-jitter delay after failed attempt ``attempt`` (0-based)."""
    return float(min(options.base_delay * (1 << min(attempt, 20)), options.max_delay))


def retryable_status(status: int) -> bool:
    """The profile's ``FETCH_RETRYABLE_STATUSES``: 404 (a link may be published before its
    blob is visible), 408, 429, 5xx except 501."""
    return is_retryable_status(status)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in delay-seconds form, capped at ``FETCH_RETRY_AFTER_CAP_SECONDS`` (an
    hour); an HTTP date is ignored."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        return None
    return float(min(int(text), FETCH_RETRY_AFTER_CAP_SECONDS))


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


async def _attempt(session: aiohttp.ClientSession, url: str, expected: int | None, options: FetchOptions) -> Fetched:
    try:
        async with session.get(url, allow_redirects=False) as resp:
            status = resp.status
            if 300 <= status < 400:
                raise NatsBridgeError(ERROR_HOST_NOT_ALLOWED, f"download answered HTTP {status}: redirects are not followed")
            if not 200 <= status < 300:
                reason = status_text(status)
                if retryable_status(status):
                    raise _Retry(reason, parse_retry_after(resp.headers.get("Retry-After")))
                raise NatsBridgeError(ERROR_DOWNLOAD, reason)
            limit = min(expected if expected is not None else options.max_bytes, options.max_bytes)
            too_long: ErrorCode = ERROR_INTEGRITY if expected is not None else ERROR_PAYLOAD_TOO_LARGE
            length = resp.content_length
            if length is not None and length > limit:
                raise NatsBridgeError(too_long, f"server announces {length} bytes, more than the {limit} expected")
            if length is not None and expected is not None and length != expected:
                raise NatsBridgeError(ERROR_INTEGRITY, f"server announces {length} bytes, the payload declares {expected}")
            capacity = min(expected if expected is not None else (length or 0), limit, MAX_PRESIZE)
            buf = bytearray(capacity)
            pos = 0
            hasher = hashlib.sha256()
            try:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    n = len(chunk)
                    if pos + n > limit:
                        raise NatsBridgeError(too_long, f"body is longer than the {limit} bytes expected")
                    hasher.update(chunk)
                    buf[pos : pos + n] = chunk
                    pos += n
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.TimeoutError) as e:
                raise _Retry(f"body cut off after {pos} bytes: {e}") from e
            del buf[pos:]
            if length is not None and length != pos:
                raise _Retry(f"body truncated: {pos} of {length} bytes")
            if expected is not None and expected != pos:
                raise NatsBridgeError(ERROR_INTEGRITY, f"body has {pos} bytes, the payload declares {expected}")
            return Fetched(buf, hasher.hexdigest())
    except (NatsBridgeError, _Retry):
        raise
    except aiohttp.InvalidURL as e:  # asking again will not make it a URL
        raise NatsBridgeError(ERROR_HOST_NOT_ALLOWED, f"not a URL aiohttp can fetch: {type(e).__name__}") from e
    except asyncio.TimeoutError as e:
        raise _Retry("timed out") from e
    except (aiohttp.ClientError, OSError, ValueError) as e:
        raise _Retry(describe_failure(e)) from e


async def fetch_hashed(
    url: str,
    *,
    expected_size: int | None = None,
    options: FetchOptions = FetchOptions(),
    correlation_id: str | None = None,
    session: aiohttp.ClientSession | None = None,
) -> Fetched:
    """:func:`fetch_with_backoff`, also returning the SHA-256 computed while streaming."""
    shown = redact(url)
    if expected_size is not None and expected_size > options.max_bytes:
        raise NatsBridgeError(
            ERROR_PAYLOAD_TOO_LARGE,
            f"declared size {expected_size} exceeds the download limit {options.max_bytes}",
            correlation_id=correlation_id,
        )
    own = session is None
    if session is None:
        session = new_session(options)
    attempts = max(options.max_attempts, 1)
    started = time.monotonic()
    try:
        async with asyncio.timeout(options.deadline):
            last = ""
            last_cause: BaseException | None = None
            for attempt in range(attempts):
                try:
                    fetched = await _attempt(session, url, expected_size, options)
                    _log.debug("downloaded", correlation_id, "download", url=shown, attempt=attempt, bytes=len(fetched.data))
                    return fetched
                except _Retry as r:
                    last, last_cause = r.reason, r.__cause__
                    if attempt + 1 == attempts:
                        break
                    delay = random.random() * backoff_cap(attempt, options)
                    if r.retry_after is not None:
                        delay = max(delay, r.retry_after)
                    if time.monotonic() - started + delay >= options.deadline:
                        raise NatsBridgeError(
                            ERROR_DEADLINE,
                            f"{r.reason}; the next attempt ({delay * 1000:.0f} ms away) would pass the {options.deadline} s deadline",
                        ) from r.__cause__
                    _log.warning(
                        "download failed, retrying", correlation_id, "download",
                        url=shown, attempt=attempt, delay_ms=round(delay * 1000), reason=r.reason,
                    )
                    await asyncio.sleep(delay)
            raise NatsBridgeError(
                ERROR_DOWNLOAD, f"downloading {shown} failed after {attempts} attempts: {last}. {_download_hint(last)}"
            ) from last_cause
    except TimeoutError as e:
        raise NatsBridgeError(
            ERROR_DEADLINE, f"download of {shown} did not finish within the {options.deadline} s deadline",
            correlation_id=correlation_id,
        ) from e
    except NatsBridgeError as e:
        raise e.with_correlation_id(correlation_id)
    finally:
        if own:
            await session.close()


@checked("fetch_with_backoff")
async def fetch_with_backoff(
    url: str,
    *,
    expected_size: Count | None = None,
    options: FetchOptions = FetchOptions(),
    correlation_id: str | None = None,
    session: aiohttp.ClientSession | None = None,
) -> bytearray:
    """Downloads ``url`` with retries (see the module doc). ``expected_size`` (the payload's
    declared ``size``) presizes the buffer, and a body of another length is an error.
    Raises :class:`NatsBridgeError`: ``DOWNLOAD_FAILED`` (retries spent, a status not retried),
    ``TIMEOUT`` (the deadline passed, or the next attempt would start after it),
    ``INTEGRITY_MISMATCH``, ``PAYLOAD_TOO_LARGE``, ``URL_NOT_ALLOWED`` (a redirect, never
    followed; what is not an http(s) URL)."""
    fetched = await fetch_hashed(
        url, expected_size=expected_size, options=options, correlation_id=correlation_id, session=session
    )
    return fetched.data


def new_session(options: FetchOptions = FetchOptions()) -> aiohttp.ClientSession:
    """An HTTP session with the runtime's timeouts (connect 10 s, read 60 s). Call inside a
    running event loop; close it when done."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=options.connect_timeout, sock_read=options.read_timeout)
    # Bytes as stored: `size` and `sha256` are of the body itself, never of a decompressed one.
    return aiohttp.ClientSession(timeout=timeout, auto_decompress=False, headers={"Accept-Encoding": "identity"})
