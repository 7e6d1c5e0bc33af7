"""Links over plain HTTP/1.1 for MicroPython: downloading a payload (Content-Length, no
redirects, a size cap, retries with backoff) and the Plik one-shot upload.

Two halves, kept apart:
- pure parts, which run wherever MicroPython runs and are tested under it: building request
  heads (`request_head`), reading a response from any stream with readline/readinto (a
  socket, or a file holding the bytes a server sent: `read_response`), the retry schedule
  (`fetch_with_backoff`), Plik's bodies and answers;
- socket parts (`download`, `request`, `plik_upload`, `plik_oneshot_upload`), which need the
  `socket` module: compiled under MicroPython, not run here: no sockets in the WebAssembly port.

Errors are codec.NatsBridgeError: DOWNLOAD_FAILED, INTEGRITY_MISMATCH (a body of another
length than the payload's `size`), URL_NOT_ALLOWED (a redirect), UPLOAD_FAILED.
"""

from .codec import NatsBridgeError, dumps, loads, utf8_view

MAX_LINE = 8192
"""Longest status or header line read."""
MAX_HEADERS = 100
MAX_ANSWER = 64 * 1024
"""Largest JSON answer read from Plik."""
USER_AGENT = "natsbridge-micropython"


class Retry(Exception):
    """A transient failure: the download is tried again after a delay."""


# --- pure: URLs, requests, responses ------------------------------------------------------------


def split_url(url):
    """(host, port, path) of an http:// URL; DOWNLOAD_FAILED for anything else (no TLS here)."""
    if not url.startswith("http://"):
        raise NatsBridgeError("DOWNLOAD_FAILED", "only plain http:// URLs can be fetched here")
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
            raise NatsBridgeError("DOWNLOAD_FAILED", "bad port in URL")
        port = int(port)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not 0 < port < 65536:
        raise NatsBridgeError("DOWNLOAD_FAILED", "bad host in URL")
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


def retryable(status):
    """As the other runtimes: 404 (a link may be published before its blob is visible),
    408, 429 and 5xx other than 501."""
    return status in (404, 408, 429) or (500 <= status <= 599 and status != 501)


def read_exactly(stream, n):
    """n bytes read into one preallocated bytearray (no intermediate chunks kept); Retry
    when the stream ends first."""
    buf = bytearray(n)
    mv = memoryview(buf)
    pos = 0
    while pos < n:
        got = stream.readinto(mv[pos:])
        if not got:
            raise Retry("body cut off after %d of %d bytes" % (pos, n))
        pos += got
    return buf


def read_response(stream, expected):
    """The body of a GET answer for a payload of `expected` bytes, read from `stream`.
    2xx: the body, which must be `expected` bytes long (INTEGRITY_MISMATCH otherwise; a
    longer one is never buffered). 3xx: URL_NOT_ALLOWED (redirects are not followed).
    Retryable statuses and cut-off bodies: Retry. Anything else: DOWNLOAD_FAILED."""
    status, headers = read_head(stream)
    if 300 <= status < 400:
        raise NatsBridgeError("URL_NOT_ALLOWED", "download answered HTTP %d: redirects are not followed" % status)
    if not 200 <= status < 300:
        if retryable(status):
            raise Retry("HTTP %d" % status)
        raise NatsBridgeError("DOWNLOAD_FAILED", "HTTP %d" % status)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise NatsBridgeError("DOWNLOAD_FAILED", "chunked transfer encoding is not supported here")
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise NatsBridgeError("DOWNLOAD_FAILED", "bad Content-Length")
        if int(length) != expected:
            raise NatsBridgeError("INTEGRITY_MISMATCH", "server announces %s bytes, the payload declares %d" % (length, expected))
        return read_exactly(stream, expected)
    # No length: the body ends with the stream; one byte more than expected is an error.
    buf = bytearray(expected)
    mv = memoryview(buf)
    pos = 0
    while pos < expected:
        got = stream.readinto(mv[pos:])
        if not got:
            raise NatsBridgeError("INTEGRITY_MISMATCH", "body has %d bytes, the payload declares %d" % (pos, expected))
        pos += got
    if stream.readinto(bytearray(1)):
        raise NatsBridgeError("INTEGRITY_MISMATCH", "body is longer than the %d bytes the payload declares" % expected)
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


def fetch_with_backoff(attempt, attempts=5, base_ms=100, max_ms=5000, sleep_ms=None):
    """Calls `attempt()` until it returns, at most `attempts` times. After a Retry, waits a
    random time up to min(base_ms * 2**k, max_ms) (full jitter: 100, 200, 400, 800 ms caps
    by default). NatsBridgeError passes through; DOWNLOAD_FAILED after the last attempt."""
    sleep_ms = sleep_ms or _sleep_ms
    last = ""
    for k in range(max(attempts, 1)):
        try:
            return attempt()
        except Retry as r:
            last = str(r)
        except OSError as e:
            last = "connection failed: %r" % e
        if k + 1 < attempts:
            sleep_ms(int(_rand() * min(base_ms << k, max_ms)))
    raise NatsBridgeError("DOWNLOAD_FAILED", "failed after %d attempts: %s" % (attempts, last))


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
        raise NatsBridgeError("UPLOAD_FAILED", "%s: HTTP %d" % (what, status))
    try:
        value = loads(body)
    except ValueError:
        raise NatsBridgeError("UPLOAD_FAILED", "%s: the answer is not JSON" % what)
    if type(value) is not dict:
        raise NatsBridgeError("UPLOAD_FAILED", "%s: the answer is not a JSON object" % what)
    return value


def _safe(s):
    for c in s:
        if not (c.isalpha() or c.isdigit() or c in "._-"):
            raise NatsBridgeError("UPLOAD_FAILED", "unexpected character in a Plik id or name")
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
        raise NatsBridgeError("UPLOAD_FAILED", "answer longer than %d bytes" % MAX_ANSWER)
    return status, body


# --- sockets (compiled here, run on devices) -----------------------------------------------------


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


def download(url, size, correlation_id=None, attempts=5, timeout_s=10):
    """The codec's `download` function: GET `url` with retries; exactly `size` bytes or a
    NatsBridgeError."""
    host, port, path = split_url(url)
    head = request_head("GET", host, port, path)

    def attempt():
        s = _connect(host, port, timeout_s)
        try:
            _write_all(s, head)
            return read_response(s, size)
        finally:
            s.close()

    return fetch_with_backoff(attempt, attempts)


def request(method, url, headers=None, body_parts=(), timeout_s=10):
    """(status, body) of one small request whose body is written part by part."""
    host, port, path = split_url(url)
    total = sum(len(p) for p in body_parts)
    s = _connect(host, port, timeout_s)
    try:
        _write_all(s, request_head(method, host, port, path, headers, total))
        for p in body_parts:
            _write_all(s, p)
        return read_answer(s)
    finally:
        s.close()


def plik_upload(fileserver_url, file_name, data, correlation_id=None, one_shot=False, token=None):
    """Uploads `data` to a Plik-compatible server; returns the download URL.
    UPLOAD_FAILED on any failure."""
    base = fileserver_url.rstrip("/")
    auth = {"X-PlikToken": token} if token else {}
    try:
        body = plik_create_body(one_shot)
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(auth)
        created = json_answer(*request("POST", base + "/upload", hdrs, (body,)), what="POST /upload")
        upload_id, upload_token = created.get("id"), created.get("uploadToken")
        if type(upload_id) is not str or type(upload_token) is not str:
            raise NatsBridgeError("UPLOAD_FAILED", "POST /upload: no `id` or `uploadToken` in the answer")
        boundary = "natsbridge" + upload_id[:16]
        pre, post = multipart_parts(boundary, file_name)
        hdrs = {"Content-Type": "multipart/form-data; boundary=" + boundary, "X-UploadToken": upload_token}
        hdrs.update(auth)
        view = utf8_view(data) if type(data) is str else data
        file = json_answer(*request("POST", "%s/file/%s" % (base, _safe(upload_id)), hdrs, (pre, view, post)),
                           what="POST /file")
        if type(file.get("id")) is not str:
            raise NatsBridgeError("UPLOAD_FAILED", "POST /file: no `id` in the answer")
        return plik_url(base, upload_id, file["id"], file_name)
    except NatsBridgeError as e:
        e.correlation_id = correlation_id
        raise
    except (OSError, ValueError, Retry) as e:
        raise NatsBridgeError("UPLOAD_FAILED", "uploading to %s: %r" % (base, e), correlation_id)


def plik_oneshot_upload(fileserver_url):
    """The codec's `upload` function for a Plik server, one-shot (deleted after its first
    download): smartsend(..., upload=plik_oneshot_upload("http://host:8080"))."""
    def upload(file_name, data, correlation_id):
        return plik_upload(fileserver_url, file_name, data, correlation_id, one_shot=True)
    return upload
