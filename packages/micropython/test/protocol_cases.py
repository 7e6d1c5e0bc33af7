"""Checks of the pure protocol code of nats.py and http.py, run under MicroPython by
protocol.test.mjs: real parsing code on real byte strings (what a NATS server and an HTTP
server send), no sockets. Each `case_*` function raises AssertionError on a failure."""

import io

from natsbridge_mp import http, nats
from natsbridge_mp import schema_v1 as S
from natsbridge_mp.codec import NatsBridgeError, loads

INFO = b'INFO {"server_id":"S1","version":"2.11.0","proto":1,"headers":true,"max_payload":2097152}\r\n'


def _raises(kind, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except kind as e:
        return e
    raise AssertionError("%s not raised" % kind.__name__)


def _code(code, fn, *args, **kwargs):
    e = _raises(NatsBridgeError, fn, *args, **kwargs)
    assert e.code == code, (e.code, code, e.message)
    return e


# --- nats.Parser ---------------------------------------------------------------------------------


def case_nats_frames():
    p = nats.Parser()
    p.feed(INFO + b"PING\r\nPONG\r\n+OK\r\n-ERR 'Authorization Violation'\r\n")
    frames = p.frames()
    assert [f[0] for f in frames] == ["INFO", "PING", "PONG", "+OK", "-ERR"], frames
    assert frames[0][1]["max_payload"] == 2 * S.DEFAULT_MAX_PAYLOAD
    assert frames[4][1] == "Authorization Violation"
    assert p.next() is None


def case_nats_msg():
    p = nats.Parser()
    p.feed(b"MSG updates 7 11\r\nhello world\r\nMSG req 8 _INBOX.abc 2\r\nhi\r\nMSG e 9 0\r\n\r\n")
    (k1, m1), (k2, m2), (k3, m3) = p.frames()
    assert (k1, m1.subject, m1.sid, m1.reply, m1.data, m1.headers) == ("MSG", "updates", 7, "", b"hello world", None)
    assert (m2.subject, m2.sid, m2.reply, m2.data) == ("req", 8, "_INBOX.abc", b"hi")
    assert (m3.data, m3.sid) == (b"", 9)


def case_nats_payload_with_crlf_inside():
    p = nats.Parser()
    p.feed(b"MSG s 1 6\r\na\r\nb\r\n\r\n")
    kind, m = p.next()
    assert m.data == b"a\r\nb\r\n", m.data


def case_nats_hmsg():
    hdr = b"NATS/1.0\r\nNats-Msg-Id: 0000beef-0000-4000-8000-00000000beef\r\nCorrelation-Id: c1\r\n\r\n"
    body = b'{"x":1}'
    p = nats.Parser()
    p.feed(b"HMSG env.v1 3 reply.to %d %d\r\n" % (len(hdr), len(hdr) + len(body)) + hdr + body + b"\r\n")
    kind, m = p.next()
    assert kind == "MSG" and m.subject == "env.v1" and m.sid == 3 and m.reply == "reply.to"
    assert m.headers == {S.HEADER_MSG_ID: "0000beef-0000-4000-8000-00000000beef", S.HEADER_CORRELATION_ID: "c1"}, m.headers
    assert m.data == body and m.status == ""
    # A no-responders status, headers only.
    status = b"NATS/1.0 503\r\n\r\n"
    p.feed(b"HMSG _INBOX.x 4 %d %d\r\n" % (len(status), len(status)) + status + b"\r\n")
    kind, m = p.next()
    assert m.status == "503" and m.data == b"" and m.headers == {}


def case_nats_frame_split_across_two_reads():
    stream = INFO + b"MSG big.subject 5 26\r\nabcdefghijklmnopqrstuvwxyz\r\nPING\r\n"
    for cut in range(1, len(stream)):
        p = nats.Parser()
        p.feed(stream[:cut])
        got = p.frames()
        p.feed(stream[cut:])
        got += p.frames()
        assert [f[0] for f in got] == ["INFO", "MSG", "PING"], (cut, got)
        assert got[1][1].data == b"abcdefghijklmnopqrstuvwxyz"


def case_nats_byte_by_byte_and_compaction():
    hdr = b"NATS/1.0\r\nK: v\r\n\r\n"
    stream = b"msg a 1 3\r\nxyz\r\n" + b"HMSG b 2 %d %d\r\n" % (len(hdr), len(hdr) + 2) + hdr + b"ok\r\n" + b"ping\r\n"
    p = nats.Parser()
    got = []
    for i in range(len(stream)):
        p.feed(stream[i:i + 1])
        got += p.frames()
    assert [f[0] for f in got] == ["MSG", "MSG", "PING"], got
    assert got[0][1].data == b"xyz" and got[1][1].data == b"ok" and got[1][1].headers == {"K": "v"}
    assert len(p.buf) - p.pos == 0


def case_nats_hostile_input():
    for bad in (b"MSG s 1 -5\r\n", b"MSG s 1 x\r\n", b"MSG s\r\n", b"HMSG s 1 10 5\r\n", b"WHAT\r\n",
                b"INFO nope\r\n", b"MSG s 1 3\r\nabcd\r\n", b"\r\n"):
        p = nats.Parser()
        p.feed(bad)
        _raises(nats.ProtocolError, p.next)
    p = nats.Parser(max_payload=10)
    p.feed(b"MSG s 1 11\r\n")
    _raises(nats.ProtocolError, p.next)  # refused before the bytes arrive
    p = nats.Parser(max_control=16)
    p.feed(b"MSG " + b"s" * 20)
    _raises(nats.ProtocolError, p.next)  # no CRLF yet, already too long
    p = nats.Parser()
    hdr = b"HTTP/1.0\r\n\r\n"
    p.feed(b"HMSG s 1 %d %d\r\n" % (len(hdr), len(hdr)) + hdr + b"\r\n")
    _raises(nats.ProtocolError, p.next)


def case_nats_commands():
    assert nats.pub_command("a.b", 5) == b"PUB a.b 5\r\n"
    assert nats.pub_command("a.b", 5, "r.1") == b"PUB a.b r.1 5\r\n"
    block = nats.header_block({S.HEADER_MSG_ID: "m1"})
    assert block == b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n"
    assert nats.hpub_command("a", len(block), 7) == b"HPUB a %d %d\r\n" % (len(block), len(block) + 7)
    assert nats.sub_command("x.>", 3) == b"SUB x.> 3\r\n"
    assert nats.sub_command("x", 4, "q") == b"SUB x q 4\r\n"
    assert nats.unsub_command(3) == b"UNSUB 3\r\n" and nats.unsub_command(3, 1) == b"UNSUB 3 1\r\n"
    c = nats.connect_command("dev-1", user="u", password="p")
    assert c.startswith(b"CONNECT ") and c.endswith(b"\r\n")
    opts = loads(c[8:-2])
    assert opts["headers"] is True and opts["verbose"] is False and opts["user"] == "u" and opts["name"] == "dev-1"
    for bad in ("a b", "", "a\r\nPUB x 1"):
        _raises(ValueError, nats.pub_command, bad, 1)
    _raises(ValueError, nats.header_block, {"K": "v\r\nInjected: 1"})


# --- http: responses, retries, Plik ------------------------------------------------------------


def _resp(head, body=b""):
    return io.BytesIO(head.replace(b"\n", b"\r\n") + b"\r\n" + body)


def case_http_read_response():
    body = b"x" * 300
    got = http.read_response(_resp(b"HTTP/1.1 200 OK\nContent-Length: 300\nContent-Type: application/octet-stream\n", body), 300)
    assert bytes(got) == body and type(got) is bytearray
    # Without Content-Length: read to the end.
    assert bytes(http.read_response(_resp(b"HTTP/1.0 200 OK\n", b"abc"), 3)) == b"abc"
    _code(S.ERROR_INTEGRITY, http.read_response, _resp(b"HTTP/1.0 200 OK\n", b"abcd"), 3)
    _code(S.ERROR_INTEGRITY, http.read_response, _resp(b"HTTP/1.0 200 OK\n", b"ab"), 3)
    # A length other than `size` is refused before the body is read.
    _code(S.ERROR_INTEGRITY, http.read_response, _resp(b"HTTP/1.1 200 OK\nContent-Length: 300000\n"), 300010)
    _raises(http.Retry, http.read_response, _resp(b"HTTP/1.1 200 OK\nContent-Length: 10\n", b"short"), 10)
    for status in (b"404 Not Found", b"408 Timeout", b"429 Slow Down", b"500 Oops", b"503 Busy"):
        _raises(http.Retry, http.read_response, _resp(b"HTTP/1.1 " + status + b"\nContent-Length: 0\n"), 1)
    for status in (b"400 Bad", b"403 Forbidden", b"410 Gone", b"501 No"):
        _code(S.ERROR_DOWNLOAD, http.read_response, _resp(b"HTTP/1.1 " + status + b"\n"), 1)
    _code(S.ERROR_HOST_NOT_ALLOWED, http.read_response, _resp(b"HTTP/1.1 302 Found\nLocation: http://evil/\n"), 1)
    _code(S.ERROR_DOWNLOAD, http.read_response, _resp(b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n", b"3\r\nabc\r\n0\r\n\r\n"), 3)
    _raises(http.Retry, http.read_response, io.BytesIO(b"SSH-2.0-OpenSSH\r\n"), 1)
    _raises(http.Retry, http.read_response, io.BytesIO(b"HTTP/1.1 200 OK\r\nContent-Le"), 1)


def case_http_requests_and_urls():
    assert http.split_url("http://127.0.0.1:8080/file/a/b/c.bin") == ("127.0.0.1", 8080, "/file/a/b/c.bin")
    assert http.split_url("http://files.local/x?y=1#frag") == ("files.local", 80, "/x?y=1")
    assert http.split_url("http://[::1]:9/") == ("::1", 9, "/")
    for bad in ("https://h/x", "ftp://h/", "http://h:x/", "http://:80/"):
        _code(S.ERROR_DOWNLOAD, http.split_url, bad)
    head = http.request_head("GET", "h", 8080, "/f")
    assert head.startswith(b"GET /f HTTP/1.1\r\nHost: h:8080\r\n") and head.endswith(b"\r\n\r\n")
    assert b"Connection: close\r\n" in head and b"Accept-Encoding: identity\r\n" in head
    assert b"Content-Length: 5\r\n" in http.request_head("POST", "h", 80, "/u", {"X-UploadToken": "t"}, 5)
    _raises(ValueError, http.request_head, "GET", "h", 80, "/", {"X": "a\r\nB: c"})


def case_http_backoff():
    slept = []
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise http.Retry("HTTP 503")
        return b"done"

    assert http.fetch_with_backoff(flaky, sleep_ms=slept.append) == b"done"
    assert len(calls) == 3 and len(slept) == 2 and 0 <= slept[0] <= 100 and 0 <= slept[1] <= 200, slept
    slept[:] = []

    def down():
        raise OSError(111)

    e = _raises(NatsBridgeError, http.fetch_with_backoff, down, 5, 100, 300, slept.append)
    assert e.code == S.ERROR_DOWNLOAD and "5 attempts" in e.message
    assert len(slept) == 4 and max(slept) <= 300, slept

    def refused():
        raise NatsBridgeError(S.ERROR_HOST_NOT_ALLOWED, "redirect")

    _code(S.ERROR_HOST_NOT_ALLOWED, http.fetch_with_backoff, refused)  # not retried


def case_http_retry_after_and_deadline():
    # Retry-After (delay-seconds) rides on the Retry, capped by the profile; an HTTP date is ignored.
    r = _raises(http.Retry, http.read_response, _resp(b"HTTP/1.1 503 Busy\nRetry-After: 2\nContent-Length: 0\n"), 1)
    assert r.retry_after_ms == 2000, r.retry_after_ms
    cap = S.FETCH_RETRY_AFTER_CAP_SECONDS
    r = _raises(http.Retry, http.read_response, _resp(b"HTTP/1.1 429 Slow\nRetry-After: %d\n" % (cap * 10)), 1)
    assert r.retry_after_ms == cap * 1000, r.retry_after_ms
    r = _raises(http.Retry, http.read_response, _resp(b"HTTP/1.1 503 Busy\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\n"), 1)
    assert r.retry_after_ms is None
    assert http.retry_after_ms("-1") is None and http.retry_after_ms("") is None and http.retry_after_ms(" 7 ") == 7000
    # The longer of the jittered delay and Retry-After is waited.
    slept = []
    calls = []

    def busy_then_done():
        calls.append(1)
        if len(calls) == 1:
            raise http.Retry("HTTP 503", 1500)
        return b"ok"

    assert http.fetch_with_backoff(busy_then_done, sleep_ms=slept.append) == b"ok"
    assert slept == [1500], slept
    # The deadline: no attempt starts after it (a fake clock that the sleeps advance).
    clock = [0]

    def sleep(ms):
        slept.append(ms)
        clock[0] += ms

    def always_busy():
        clock[0] += 100  # each attempt takes 100 ms
        raise http.Retry("HTTP 503", 4000)

    slept[:] = []
    e = _raises(NatsBridgeError, http.fetch_with_backoff, always_busy, 5, 100, S.FETCH_MAX_DELAY_MS, sleep, 9000, lambda: clock[0])
    assert e.code == S.ERROR_DEADLINE and "deadline" in e.message, e.message
    assert slept == [4000, 4000], slept  # a third wait would end at 12 300 ms, past 9 000
    # The profile's schedule is the default: 5 attempts.
    calls[:] = []

    def down():
        calls.append(1)
        raise OSError(111)

    _raises(NatsBridgeError, lambda: http.fetch_with_backoff(down, sleep_ms=lambda ms: None))
    assert len(calls) == S.FETCH_MAX_ATTEMPTS == 5


def case_http_read_response_without_a_declared_size():
    # No expected size: the body as the server sends it, at most max_bytes.
    got = http.read_response(_resp(b"HTTP/1.1 200 OK\nContent-Length: 11\n", b"hello, link"), None, 11)
    assert bytes(got) == b"hello, link"
    assert bytes(http.read_response(_resp(b"HTTP/1.0 200 OK\n", b"x" * 10000), None, 10000)) == b"x" * 10000
    # Over max_bytes: refused from Content-Length before reading, or as the bytes pass it.
    _code(S.ERROR_PAYLOAD_TOO_LARGE, http.read_response, _resp(b"HTTP/1.1 200 OK\nContent-Length: 11\n", b"hello, link"), None, 3)
    _code(S.ERROR_PAYLOAD_TOO_LARGE, http.read_response, _resp(b"HTTP/1.0 200 OK\n", b"x" * 10001), None, 10000)
    # Cut off before its Content-Length: retried.
    _raises(http.Retry, http.read_response, _resp(b"HTTP/1.1 200 OK\nContent-Length: 900\n", b"x" * 100), None)
    # With a declared size, a complete body of another length is an integrity failure.
    _code(S.ERROR_INTEGRITY, http.read_response, _resp(b"HTTP/1.1 200 OK\nContent-Length: 11\n", b"hello, link"), 16)
    _code(S.ERROR_INTEGRITY, http.read_response, _resp(b"HTTP/1.1 200 OK\nContent-Length: 11\n", b"hello, link"), 3)
    _code(S.ERROR_HOST_NOT_ALLOWED, http.read_response, _resp(b"HTTP/1.1 301 Moved\nLocation: /x\n"), None)


class Script:
    """An exchange answering the n-th request with the n-th scripted response (the last one
    repeats), recording the requests: http.fetch and http.plik_upload run on it as on a socket."""

    def __init__(self, *responses):
        self.responses = responses
        self.requests = []

    def __call__(self, host, port, parts, cap, timeout_s):
        assert timeout_s > 0 and cap > 0, (timeout_s, cap)
        self.requests.append((host, port, b"".join(bytes(p) for p in parts)))
        answer = self.responses[min(len(self.requests), len(self.responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return io.BytesIO(answer)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello, link"


def case_http_fetch_over_an_exchange():
    busy = b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
    script = Script(busy, OSError(104), OK)
    body = http.fetch("http://files.local:8080/file/a/b/c.txt", base_ms=1, max_ms=2, exchange=script)
    assert bytes(body) == b"hello, link" and len(script.requests) == 3
    host, port, request = script.requests[0]
    assert (host, port) == ("files.local", 8080) and request.startswith(b"GET /file/a/b/c.txt HTTP/1.1\r\n"), request
    # The declared size: another length is INTEGRITY_MISMATCH at once; over max_bytes, nothing is asked.
    script = Script(OK)
    _code(S.ERROR_INTEGRITY, http.fetch, "http://h/x", 16, exchange=script)
    assert len(script.requests) == 1
    _code(S.ERROR_PAYLOAD_TOO_LARGE, http.fetch, "http://h/x", 16, 15, exchange=script)
    assert len(script.requests) == 1
    _code(S.ERROR_PAYLOAD_TOO_LARGE, http.fetch, "http://h/x", None, 3, exchange=script)
    # Statuses not retried, redirects, attempts spent.
    for answer, code in ((b"HTTP/1.1 501 No\r\n\r\n", S.ERROR_DOWNLOAD), (b"HTTP/1.1 302 Found\r\nLocation: /y\r\n\r\n", S.ERROR_HOST_NOT_ALLOWED)):
        script = Script(answer, OK)
        _code(code, http.fetch, "http://h/x", exchange=script)
        assert len(script.requests) == 1
    script = Script(busy)
    _code(S.ERROR_DOWNLOAD, http.fetch, "http://h/x", attempts=3, base_ms=1, max_ms=1, exchange=script)
    assert len(script.requests) == 3
    # The deadline: TIMEOUT, with attempts to spare.
    script = Script(b"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\n\r\n")
    _code(S.ERROR_DEADLINE, http.fetch, "http://h/x", attempts=100, deadline_ms=500, exchange=script)
    assert len(script.requests) == 1  # the second would start 1 s later, past 500 ms
    # download: the codec's function, exactly `size` bytes, the correlation id on its errors.
    assert bytes(http.download("http://h/x", 11, "c1", exchange=Script(OK))) == b"hello, link"
    e = _raises(NatsBridgeError, http.download, "http://h/x", 12, "c1", exchange=Script(OK))
    assert e.code == S.ERROR_INTEGRITY and e.correlation_id == "c1"


def case_plik_upload_over_an_exchange():
    created = b'{"id":"up1","uploadToken":"tok"}'
    stored = b'{"id":"f9","fileName":"big.bin"}'
    script = Script(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(created) + created,
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(stored) + stored)
    upload = http.plik_uploader("http://files.local:8080/", exchange=script)
    url = upload("big.bin", memoryview(b"\x00\x01payload"), "c1")
    assert url == "http://files.local:8080/file/up1/f9/big.bin", url
    (_, _, first), (_, _, second) = script.requests
    assert first.startswith(b"POST /upload HTTP/1.1\r\n") and loads(first.split(b"\r\n\r\n", 1)[1]) == {"oneShot": False}
    head, body = second.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /file/up1 HTTP/1.1\r\n") and b"X-UploadToken: tok\r\n" in head
    assert b"Content-Length: %d\r\n" % len(body) in head
    assert b'filename="big.bin"' in body and b"\r\n\r\n\x00\x01payload\r\n--" in body
    # One-shot, and failures: UPLOAD_FAILED with the correlation id.
    script = Script(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(created) + created,
                    b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
    e = _raises(NatsBridgeError, http.plik_oneshot_upload("http://h", exchange=script), "a.bin", b"x", "c2")
    assert e.code == S.ERROR_UPLOAD and e.correlation_id == "c2"
    assert loads(script.requests[0][2].split(b"\r\n\r\n", 1)[1]) == {"oneShot": True}
    e = _raises(NatsBridgeError, http.plik_uploader("http://h", exchange=Script(OSError(111))), "a.bin", b"x", "c3")
    assert e.code == S.ERROR_UPLOAD and e.correlation_id == "c3"


def case_http_presize_is_bounded():
    # A download reserves at most FETCH_MAX_PRESIZE ahead of the bytes that arrived (here made
    # 4 bytes, so that a 10-byte body grows the buffer twice).
    saved = S.FETCH_MAX_PRESIZE
    S.FETCH_MAX_PRESIZE = 4
    try:
        got = http.read_response(_resp(b"HTTP/1.1 200 OK\nContent-Length: 10\n", b"0123456789"), 10)
        assert bytes(got) == b"0123456789"
        _raises(http.Retry, http.read_response, _resp(b"HTTP/1.1 200 OK\nContent-Length: 10\n", b"012345"), 10)
    finally:
        S.FETCH_MAX_PRESIZE = saved


def case_plik():
    assert loads(http.plik_create_body()) == {"oneShot": True}
    pre, post = http.multipart_parts("B0UND", "data.bin")
    assert pre == b'--B0UND\r\nContent-Disposition: form-data; name="file"; filename="data.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    assert post == b"\r\n--B0UND--\r\n"
    status, body = http.read_answer(_resp(b'HTTP/1.1 200 OK\nContent-Length: 37\n', b'{"id":"up1","uploadToken":"tok-xyz"}\n'))
    created = http.json_answer(status, body, "POST /upload")
    assert created["id"] == "up1" and created["uploadToken"] == "tok-xyz"
    _code(S.ERROR_UPLOAD, http.json_answer, 500, b"{}", "POST /upload")
    _code(S.ERROR_UPLOAD, http.json_answer, 200, b"<html>", "POST /upload")
    _code(S.ERROR_UPLOAD, http.json_answer, 200, b"[1]", "POST /upload")
    assert http.plik_url("http://h:8080/", "up1", "f9", "data.bin") == "http://h:8080/file/up1/f9/data.bin"
    _code(S.ERROR_UPLOAD, http.plik_url, "http://h", "../x", "f", "n")


CASES = sorted(name for name in globals() if name.startswith("case_"))
