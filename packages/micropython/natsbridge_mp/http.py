"""Links over plain HTTP/1.1 for MicroPython: downloading a payload (Content-Length, no
redirects, a size cap, retries with backoff: `fetch`, `download`) and the Plik upload
(`plik_upload`, `plik_uploader`).

Two halves, kept apart:
- pure parts, which run wherever MicroPython runs and are tested under it: building request
  heads (`request_head`), reading a response from any stream with readline/readinto (a
  socket, or a file holding the bytes a server sent: `read_response`), the retry schedule
  (`fetch_with_backoff`), Plik's bodies and answers;
- the exchange: `fetch`, `download`, `request` and the Plik functions send their request and
  read the answer through an `exchange(host, port, parts, cap, timeout_s)` function, which
  writes the request's byte strings `parts` to host:port and returns a stream to read the
  answer from (at most `cap` bytes are read; the caller closes it). The default,
  `socket_exchange`, uses MicroPython's `socket` (a device; the unix port); a host that
  carries the bytes for a port without sockets passes its own (the conformance testee
  under the WebAssembly port does).

The schedule, the statuses retried, Retry-After's cap, the deadline, the size limit and the
most reserved ahead of the bytes are the runtime profile's (schema_v1: FETCH_*,
is_retryable_status, MAX_PAYLOAD_SIZE).

Errors are codec.NatsBridgeError with the profile's codes: DOWNLOAD_FAILED (retries spent, a
status not retried), TIMEOUT (ERROR_DEADLINE: the deadline passed, or the next attempt would
start after it), INTEGRITY_MISMATCH (a complete body of another length than the payload's
`size`, not retried), PAYLOAD_TOO_LARGE (a body over `max_bytes` when no size is declared),
URL_NOT_ALLOWED (a redirect, never followed, as in the other runtimes), UPLOAD_FAILED.
"""

from . import schema_v1 as S
from .codec import NatsBridgeError, dumps, loads, utf8_view

MAX_LINE = 8192
"""Longest status or header line read."""
MAX_HEADERS = 100
MAX_ANSWER = 64 * 1024
"""Largest JSON answer read from Plik."""
HEAD_ALLOWANCE = 64 * 1024
"""Bytes of response head an exchange may carry beside the body it is asked for."""
READ_CHUNK = 4096
"""Bytes read at a time from a body of unknown length."""
USER_AGENT = "natsbridge-micropython"


class Retry(Exception):
    """A transient failure: the download is tried again after a delay (at least
    `retry_after_ms` when the server said so with Retry-After)."""

    def __init__(self, reason, retry_after_ms=None):
        super().__init__(reason)
        self.retry_after_ms = retry_after_ms


# --- pure: URLs, requests, responses ------------------------------------------------------------


def split_url(url):
    """(host, port, path) of an http:// URL; DOWNLOAD_FAILED for anything else (no TLS here)."""
    if not url.startswith("http://"):
        raise NatsBridgeError(S.ERROR_DOWNLOAD, "only plain http:// URLs can be fetched here")
    rest = url[7:]
    k = rest.find("/")
    authority, path = (rest, "/") if k < 0 else (rest[:k], rest[k:])
    k = path.find("#")
    if k >= 0:
        path = path[:k]
    authority = authority[authority.rfind("@") + 1:]
    host, port = authority, 80
    k = authority.rfind(":")
    if k >= 0 and "]" not in authority[k:]:
        host, port = authority[:k], authority[k + 1:]
        if not port.isdigit():
            raise NatsBridgeError(S.ERROR_DOWNLOAD, "bad port in URL")
        port = int(port)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not 0 < port < 65536:
        raise NatsBridgeError(S.ERROR_DOWNLOAD, "bad host in URL")
    return host, port, path


def request_head(method, host, port, path, headers=None, body_len=None):
    """The request line and headers of an HTTP/1.1 request (Connection: close, identity)."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % (host if port == 80 else "%s:%d" % (host, port)),
             "User-Agent: " + USER_AGENT, "Accept-Encoding: identity", "Connection: close"]
    if body_len is not None:
        lines.append("Content-Length: %d" % body_len)
    for k, v in (headers or {}).items():
        if "\r" in k + v or "\n" in k + v:
            raise ValueError("CR or LF in a header")
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_head(stream):
    """(status, headers) of a response from `stream`: header names lowercased; a repeated
    header keeps its last value. Reads line by line, so the body stays in the stream."""
    line = stream.readline(MAX_LINE)
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise Retry("not an HTTP/1.x response")
    status = int(parts[1])
    headers = {}
    while True:
        line = stream.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise Retry("response head cut off")
        line = line.rstrip(b"\r\n")
        if not line:
            return status, headers
        k = line.find(b":")
        if k <= 0 or len(headers) >= MAX_HEADERS:
            raise Retry("malformed response head")
        try:
            headers[str(line[:k].strip(), "utf-8").lower()] = str(line[k + 1:].strip(), "utf-8")
        except (UnicodeError, ValueError):
            raise Retry("response header is not UTF-8")


def retry_after_ms(value):
    """A Retry-After header in delay-seconds form, in ms, capped at the profile's
    FETCH_RETRY_AFTER_CAP_SECONDS; None for an HTTP date or anything else."""
    if value is None:
        return None
    value = value.strip()
    if not value or not value.isdigit() or any(ord(c) > 0x7F for c in value):
        return None
    return min(int(value), S.FETCH_RETRY_AFTER_CAP_SECONDS) * 1000


def read_exactly(stream, n):
    """n bytes read into one bytearray, reserved at most FETCH_MAX_PRESIZE ahead of the
    bytes that arrived (no intermediate chunks kept); Retry when the stream ends first."""
    buf = bytearray(min(n, S.FETCH_MAX_PRESIZE))
    pos = 0
    while pos < n:
        if pos == len(buf):
            buf.extend(bytearray(min(n - pos, S.FETCH_MAX_PRESIZE)))
        got = stream.readinto(memoryview(buf)[pos:])
        if not got:
            raise Retry("body cut off after %d of %d bytes" % (pos, n))
        pos += got
    return buf


def read_to_end(stream, limit):
    """The bytes of `stream` up to its end, PAYLOAD_TOO_LARGE as soon as they pass `limit`
    (a body whose length nobody declared)."""
    buf = bytearray()
    chunk = bytearray(READ_CHUNK)
    while True:
        got = stream.readinto(chunk)
        if not got:
            return buf
        if len(buf) + got > limit:
            raise NatsBridgeError(S.ERROR_PAYLOAD_TOO_LARGE, "the body is longer than the %d bytes allowed" % limit)
        buf.extend(memoryview(chunk)[:got])


def read_response(stream, expected, max_bytes=S.MAX_PAYLOAD_SIZE):
    """The body of a GET answer read from `stream`, for a payload of `expected` bytes (None:
    no size declared, at most `max_bytes`).
    2xx: the body. With `expected`, a complete body of another length is INTEGRITY_MISMATCH
    (a longer one is never buffered); without, one over `max_bytes` is PAYLOAD_TOO_LARGE
    (refused from its Content-Length before it is read). 3xx: URL_NOT_ALLOWED (redirects are
    not followed). Retryable statuses and bodies cut off before their Content-Length: Retry.
    Anything else: DOWNLOAD_FAILED."""
    status, headers = read_head(stream)
    if 300 <= status < 400:
        raise NatsBridgeError(S.ERROR_HOST_NOT_ALLOWED, "download answered HTTP %d: redirects are not followed" % status)
    if not 200 <= status < 300:
        if S.is_retryable_status(status):
            raise Retry("HTTP %d" % status, retry_after_ms(headers.get("retry-after")))
        raise NatsBridgeError(S.ERROR_DOWNLOAD, "HTTP %d" % status)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise NatsBridgeError(S.ERROR_DOWNLOAD, "chunked transfer encoding is not supported here")
    length = headers.get("content-length")
    if length is not None and not length.isdigit():
        raise NatsBridgeError(S.ERROR_DOWNLOAD, "bad Content-Length")
    if expected is None:
        if length is None:
            return read_to_end(stream, max_bytes)
        if int(length) > max_bytes:
            raise NatsBridgeError(S.ERROR_PAYLOAD_TOO_LARGE, "server announces %s bytes, over the %d allowed" % (length, max_bytes))
        return read_exactly(stream, int(length))
    if length is not None:
        if int(length) != expected:
            raise NatsBridgeError(S.ERROR_INTEGRITY, "server announces %s bytes, the payload declares %d" % (length, expected))
        return read_exactly(stream, expected)
    # No length: the body ends with the stream; one byte more than expected is an error.
    try:
        buf = read_exactly(stream, expected)
    except Retry:
        raise NatsBridgeError(S.ERROR_INTEGRITY, "the body is shorter than the %d bytes the payload declares" % expected)
    if stream.readinto(bytearray(1)):
        raise NatsBridgeError(S.ERROR_INTEGRITY, "body is longer than the %d bytes the payload declares" % expected)
    return buf


def _rand():
    try:
        import random
        return random.getrandbits(16) / 65536
    except (ImportError, AttributeError):
        return 0.5


def _sleep_ms(ms):
    import time
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def _now_ms():
    import time
    if hasattr(time, "ticks_ms"):
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def _elapsed_ms(since, now):
    import time
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(now, since)
    return now - since


def backoff_cap_ms(k, base_ms, max_ms):
    """The bound of the delay after the (k+1)-th attempt: base_ms doubled k times, at most
    max_ms (the doubling stops after twenty steps: no big integers)."""
    return min(base_ms << min(k, 20), max_ms)


def fetch_with_backoff(attempt, attempts=S.FETCH_MAX_ATTEMPTS, base_ms=S.FETCH_BASE_DELAY_MS,
                       max_ms=S.FETCH_MAX_DELAY_MS, sleep_ms=None, deadline_ms=S.FETCH_DEADLINE_MS, now_ms=None):
    """Calls `attempt()` until it returns, at most `attempts` times (the profile's
    schedule). After a Retry or an OSError, waits a random time up to
    min(base_ms * 2**k, max_ms) (full jitter: 100, 200, 400, 800 ms caps by default), or the
    server's Retry-After when longer. NatsBridgeError passes through (not retried);
    DOWNLOAD_FAILED after the last attempt; TIMEOUT (ERROR_DEADLINE) when the next attempt
    would start `deadline_ms` or more after the first (an attempt that ran past the deadline
    ends so too: `fetch` also bounds each attempt's socket by the time left)."""
    sleep_ms = sleep_ms or _sleep_ms
    now_ms = now_ms or _now_ms
    started = now_ms()
    last = ""
    attempts = max(attempts, 1)
    for k in range(attempts):
        wait = None
        try:
            return attempt()
        except Retry as r:
            last = str(r)
            wait = r.retry_after_ms
        except OSError as e:
            last = "connection failed: %r" % e
        if k + 1 == attempts:
            break
        delay = int(_rand() * backoff_cap_ms(k, base_ms, max_ms))
        if wait is not None and wait > delay:
            delay = wait
        if _elapsed_ms(started, now_ms()) + delay >= deadline_ms:
            raise NatsBridgeError(S.ERROR_DEADLINE, "%s; the next attempt (%d ms away) would pass the %d ms deadline" % (
                last, delay, deadline_ms))
        sleep_ms(delay)
    raise NatsBridgeError(S.ERROR_DOWNLOAD, "failed after %d attempts: %s" % (attempts, last))


# --- pure: Plik ----------------------------------------------------------------------------------


def plik_create_body(one_shot=True):
    """Body of `POST /upload`."""
    return dumps({"oneShot": bool(one_shot)}).encode()


def multipart_parts(boundary, file_name, content_type="application/octet-stream"):
    """(preamble, epilogue) that wrap a file's bytes in a multipart/form-data body with one
    `file` field: the bytes themselves are written between them, never copied into a body."""
    if '"' in file_name or "\r" in file_name or "\n" in file_name:
        raise ValueError("bad file name")
    pre = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n'
           % (boundary, file_name, content_type)).encode()
    return pre, ("\r\n--%s--\r\n" % boundary).encode()


def json_answer(status, body, what):
    """A Plik answer's JSON object; UPLOAD_FAILED for an error status or a body that is not one."""
    if not 200 <= status < 300:
        raise NatsBridgeError(S.ERROR_UPLOAD, "%s: HTTP %d" % (what, status))
    try:
        value = loads(body)
    except ValueError:
        raise NatsBridgeError(S.ERROR_UPLOAD, "%s: the answer is not JSON" % what)
    if type(value) is not dict:
        raise NatsBridgeError(S.ERROR_UPLOAD, "%s: the answer is not a JSON object" % what)
    return value


def _safe(s):
    for c in s:
        if not (c.isalpha() or c.isdigit() or c in "._-"):
            raise NatsBridgeError(S.ERROR_UPLOAD, "unexpected character in a Plik id or name")
    return s


def plik_url(base, upload_id, file_id, file_name):
    """Where Plik serves an uploaded file."""
    return "%s/file/%s/%s/%s" % (base.rstrip("/"), _safe(upload_id), _safe(file_id), _safe(file_name))


def read_answer(stream):
    """(status, body) of a small answer (at most MAX_ANSWER bytes)."""
    status, headers = read_head(stream)
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) <= MAX_ANSWER:
        return status, bytes(read_exactly(stream, int(length)))
    body = stream.read(MAX_ANSWER + 1) or b""
    if len(body) > MAX_ANSWER:
        raise NatsBridgeError(S.ERROR_UPLOAD, "answer longer than %d bytes" % MAX_ANSWER)
    return status, body


# --- the exchange: sockets on a device, or a host's --------------------------------------------


def _connect(host, port, timeout_s):
    import socket
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    s = socket.socket()
    try:
        s.settimeout(timeout_s)
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def _write_all(s, data):
    mv = memoryview(data)
    while len(mv):
        n = s.write(mv)
        if n is None:
            n = 0
        mv = mv[n:]


def socket_exchange(host, port, parts, cap, timeout_s):
    """The default exchange: a socket to host:port (each operation bounded by `timeout_s`)
    with `parts` written to it, returned to read the answer from. `cap` is for exchanges
    that buffer the answer; a socket is read as the caller reads it."""
    s = _connect(host, port, timeout_s)
    try:
        for p in parts:
            _write_all(s, p)
    except BaseException:
        s.close()
        raise
    return s


def fetch(url, expected_size=None, max_bytes=S.MAX_PAYLOAD_SIZE, attempts=S.FETCH_MAX_ATTEMPTS,
          base_ms=S.FETCH_BASE_DELAY_MS, max_ms=S.FETCH_MAX_DELAY_MS, deadline_ms=S.FETCH_DEADLINE_MS,
          timeout_s=10, exchange=None):
    """GET `url` with fetch_with_backoff's schedule: the body (a bytearray). `expected_size`
    is the payload's declared size (None: not known, at most `max_bytes`); one over
    `max_bytes` is PAYLOAD_TOO_LARGE before anything is requested. Each attempt's exchange
    gets at most `timeout_s`, and no more than the time left before the deadline."""
    host, port, path = split_url(url)
    if expected_size is not None and expected_size > max_bytes:
        raise NatsBridgeError(S.ERROR_PAYLOAD_TOO_LARGE, "declared size %d exceeds the download limit %d" % (
            expected_size, max_bytes))
    head = request_head("GET", host, port, path)
    exchange = exchange or socket_exchange
    cap = (max_bytes if expected_size is None else expected_size) + HEAD_ALLOWANCE
    started = _now_ms()

    def attempt():
        left_ms = deadline_ms - _elapsed_ms(started, _now_ms())
        if left_ms <= 0:
            raise NatsBridgeError(S.ERROR_DEADLINE, "the %d ms deadline passed" % deadline_ms)
        stream = exchange(host, port, (head,), cap, min(timeout_s, left_ms / 1000))
        try:
            return read_response(stream, expected_size, max_bytes)
        finally:
            stream.close()

    return fetch_with_backoff(attempt, attempts, base_ms, max_ms, deadline_ms=deadline_ms)


def download(url, size, correlation_id=None, attempts=S.FETCH_MAX_ATTEMPTS, timeout_s=10, exchange=None):
    """The codec's `download` function: GET `url` with retries; exactly `size` bytes or a
    NatsBridgeError (with the correlation id). A port without sockets passes its
    `exchange` (e.g. `lambda u, n, c: http.download(u, n, c, exchange=mine)`)."""
    try:
        return fetch(url, size, attempts=attempts, timeout_s=timeout_s, exchange=exchange)
    except NatsBridgeError as e:
        e.correlation_id = correlation_id
        raise


def request(method, url, headers=None, body_parts=(), timeout_s=10, exchange=None):
    """(status, body) of one small request whose body is written part by part."""
    host, port, path = split_url(url)
    total = sum(len(p) for p in body_parts)
    parts = (request_head(method, host, port, path, headers, total),) + tuple(body_parts)
    stream = (exchange or socket_exchange)(host, port, parts, MAX_ANSWER + HEAD_ALLOWANCE, timeout_s)
    try:
        return read_answer(stream)
    finally:
        stream.close()


def plik_upload(fileserver_url, file_name, data, correlation_id=None, one_shot=False, token=None, exchange=None):
    """Uploads `data` to a Plik-compatible server; returns the download URL.
    UPLOAD_FAILED on any failure."""
    base = fileserver_url.rstrip("/")
    auth = {"X-PlikToken": token} if token else {}
    try:
        body = plik_create_body(one_shot)
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(auth)
        created = json_answer(*request("POST", base + "/upload", hdrs, (body,), exchange=exchange), what="POST /upload")
        upload_id, upload_token = created.get("id"), created.get("uploadToken")
        if type(upload_id) is not str or type(upload_token) is not str:
            raise NatsBridgeError(S.ERROR_UPLOAD, "POST /upload: no `id` or `uploadToken` in the answer")
        boundary = "natsbridge" + upload_id[:16]
        pre, post = multipart_parts(boundary, file_name)
        hdrs = {"Content-Type": "multipart/form-data; boundary=" + boundary, "X-UploadToken": upload_token}
        hdrs.update(auth)
        view = utf8_view(data) if type(data) is str else data
        file = json_answer(*request("POST", "%s/file/%s" % (base, _safe(upload_id)), hdrs, (pre, view, post),
                                    exchange=exchange), what="POST /file")
        if type(file.get("id")) is not str:
            raise NatsBridgeError(S.ERROR_UPLOAD, "POST /file: no `id` in the answer")
        return plik_url(base, upload_id, file["id"], file_name)
    except NatsBridgeError as e:
        e.correlation_id = correlation_id
        raise
    except (OSError, ValueError, Retry) as e:
        raise NatsBridgeError(S.ERROR_UPLOAD, "uploading to %s: %r" % (base, e), correlation_id)


def plik_uploader(fileserver_url, one_shot=False, token=None, exchange=None):
    """The codec's `upload` function for a Plik server: smartsend(..., upload=
    plik_uploader("http://host:8080")). `one_shot`: Plik deletes the file after its first
    download (one receiver only)."""
    def upload(file_name, data, correlation_id):
        return plik_upload(fileserver_url, file_name, data, correlation_id, one_shot=one_shot, token=token,
                           exchange=exchange)
    return upload


def plik_oneshot_upload(fileserver_url, exchange=None):
    """plik_uploader, one-shot (the file is deleted after its first download)."""
    return plik_uploader(fileserver_url, one_shot=True, exchange=exchange)
