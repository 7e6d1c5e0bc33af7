"""Checks of codec.py beyond the conformance vectors, run under MicroPython by
codec.test.mjs. Each `case_*` function raises AssertionError on a failure."""

from natsbridge_mp import codec
from natsbridge_mp.codec import NatsBridgeError

CID = "0000c0de-0000-4000-8000-00000000c0de"


def _code(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except NatsBridgeError as e:
        assert e.code == code, (e.code, code, e.message)
        return e
    raise AssertionError("no NatsBridgeError " + code)


def case_strict_json():
    good = {'{"a":[1,-0.5e-3,true,false,null,"x"]}': {"a": [1, -0.0005, True, False, None, "x"]},
            ' \t\r\n[] ': [], '"\\u00e9\\ud83d\\ude00\\n\\/"': "\xe9\U0001F600\n/", "1E+2": 100.0, "1e-400": 0.0,
            '{"a":1,"a":2}': {"a": 2}}
    for text, value in good.items():
        assert codec.loads(text) == value, (text, codec.loads(text))
    for text in ("", "[1,]", "{\"a\":1,}", "01", "-", "1.", ".5", "+1", "[1 2]", '{"a" 1}', "{a:1}", "'a'", "NaN",
                 "Infinity", "-Infinity", "1e400", "-1e400", "9" * 400, '"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"',
                 '"a\x01"', '"\\x"', '"\\u12"', "tru", "nul", "[]]", "{}{}", "[" * 129 + "]" * 129, '"abc'):
        try:
            codec.loads(text)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % text)
    assert codec.loads("[" * 128 + "]" * 128) is not None


def case_strict_utf8():
    for raw in (b"", b"plain", "é✓😀".encode(), b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"):
        codec.check_utf8(raw)
        assert codec.utf8_text(raw) == str(raw, "utf-8")
    for raw in (b"\xff", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf0\x80\x80\xaf",
                b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\x80", b"\xc3", b"a\xe2\x82"):
        for fn in (codec.check_utf8, codec.utf8_text):
            try:
                fn(raw)
            except ValueError:
                continue
            raise AssertionError("accepted %r" % raw)
    # A 4-byte character across the 4 KiB slice boundary of check_utf8.
    for pad in range(4090, 4097):
        codec.check_utf8(b"a" * pad + "😀".encode() + b"z")
        try:
            codec.check_utf8(b"a" * pad + b"\xed\xa0\x80")
        except ValueError:
            continue
        raise AssertionError("surrogate at %d accepted" % pad)


def case_canonical_base64():
    assert codec.b64decode("SGVsbG8gV29ybGQ=") == b"Hello World"
    assert codec.b64decode("") == b""
    for text in ("SGVsbG8gV29ybGQ", "SGVsbG8gV29ybGR=", "SGVs bG8gV29ybGQ=", "SGVsbG8gV29ybGQ==", "SGVsbG8-V29ybGQ=",
                 "SGVsbG8_V29ybGQ=", "====", "SGVsbG8gV29ybGQ=\n", "SGVsbG8gV29ybGQ=SGVs", "é"):
        _code("DESERIALIZATION_ERROR", codec.b64decode, text)
    big = bytes(range(256)) * 40  # 10 240 bytes: several 3 KiB slices
    text = codec.b64encode(big)
    assert codec.b64decode(text) == big
    bad = text[:-8] + "@" + text[-7:]  # a foreign character in the last slice
    _code("DESERIALIZATION_ERROR", codec.b64decode, bad)


def case_round_trip_every_supported_type():
    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    items = [("t", "héllo ✓", "text"), ("d", {"k": [1, 2.5, None], "u": "ü"}, "dictionary"), ("r", rows, "jsontable"),
             ("i", b"\x89PNG", "image"), ("au", bytearray(b"RIFF"), "audio"), ("v", memoryview(b"\x00\x00"), "video"),
             ("b", b"", "binary")]
    env, text = codec.smartsend("s.t", items, correlation_id=CID, msg_id=CID, timestamp="2026-03-13T07:02:50.443Z")
    assert codec.validate(text) == [], codec.validate(text)
    assert env["timestamp"] == "2026-03-13T07:02:50.443Z" and env["msg_purpose"] == "chat"
    for p in env["payloads"]:
        assert p["transport"] == "direct" and p["encoding"] == "base64"
        assert p["metadata"]["sha256"] == codec.sha256_hex(codec.b64decode(p["data"]))
    r = codec.smartreceive(text.encode())
    got = r.tuples()
    assert got[0] == ("t", "héllo ✓", "text") and got[1][1] == {"k": [1, 2.5, None], "u": "ü"} and got[2][1] == rows
    assert [bytes(x[1]) for x in got[3:]] == [b"\x89PNG", b"RIFF", b"\x00\x00", b""]
    assert r.payloads[0].size == len("héllo ✓".encode())
    assert all(p["data"] is None for p in r.envelope["payloads"])  # released once decoded
    r = codec.smartreceive(text, keep_data=True)
    assert all(type(p["data"]) is str for p in r.envelope["payloads"])


def case_links_through_upload_and_download():
    store = {}

    def upload(name, data, cid):
        url = "http://files.local:8080/file/u/%d/%s" % (len(store), name)
        store[url] = bytes(data)
        return url

    def download(url, size, cid):
        return store[url]

    big = bytes(100_000)
    env, text = codec.smartsend("s", [("big", big, "binary"), ("small", bytes(99_999), "binary")], upload=upload)
    big_p, small_p = env["payloads"]
    assert (big_p["transport"], big_p["encoding"], big_p["size"]) == ("link", "none", 100_000), big_p
    assert big_p["data"].endswith("/big.bin") and small_p["transport"] == "direct"
    _code("URL_NOT_ALLOWED", codec.smartreceive, text, download=download)
    r = codec.smartreceive(text, allowed_hosts=("http://files.local:8080",), download=download)
    assert r.payloads[0].data == big and r.payloads[0].transport == "link"
    store[big_p["data"]] = bytes(99_999)
    _code("INTEGRITY_MISMATCH", codec.smartreceive, text, allowed_hosts=("files.local",), download=download)
    _code("DOWNLOAD_FAILED", codec.smartreceive, text, allowed_hosts=("*",))
    _code("UPLOAD_FAILED", codec.smartsend, "s", [("big", big, "binary")])


def case_max_payload_moves_the_largest_to_link():
    urls = []

    def upload(name, data, cid):
        urls.append(name)
        return "http://f/file/u/%d/%s" % (len(urls), name)

    items = [("a", bytes(500_000), "binary"), ("b", bytes(400_000), "binary"), ("c", b"x", "binary")]
    env, text = codec.smartsend("s", items, upload=upload, size_threshold=1 << 30)
    assert [p["transport"] for p in env["payloads"]] == ["link", "direct", "direct"], urls
    assert len(text) + 100 < codec.DEFAULT_MAX_PAYLOAD
    _code("PAYLOAD_TOO_LARGE", codec.smartsend, "s", items, size_threshold=1 << 30)
    _code("PAYLOAD_TOO_LARGE", codec.smartsend, "s", [("m", {"k": "v" * 100}, "dictionary")], max_payload=200)


def case_smartsend_errors():
    e = _code("INVALID_PAYLOAD_TYPE", codec.smartsend, "s", [("t", b"", "arrowtable")], correlation_id=CID)
    assert e.unsupported and e.correlation_id == CID
    e = _code("INVALID_PAYLOAD_TYPE", codec.smartsend, "s", [("t", b"", "table")])
    assert not e.unsupported
    _code("INVALID_ENVELOPE", codec.smartsend, "s", [], correlation_id="abc123...")
    _code("INVALID_ENVELOPE", codec.smartsend, "", [])
    _code("INVALID_ENVELOPE", codec.smartsend, "s", [], msg_purpose="gossip")  # a writer writes known values
    _code("INVALID_ENVELOPE", codec.smartsend, "s", [], sender_name="")
    _code("INVALID_ENVELOPE", codec.smartsend, "s", [], reply_to=None)
    _code("SERIALIZATION_ERROR", codec.smartsend, "s", [("t", b"bytes", "text")])
    _code("SERIALIZATION_ERROR", codec.smartsend, "s", [("t", "str", "binary")])
    _code("SERIALIZATION_ERROR", codec.smartsend, "s", [("t", [1, 2], "jsontable")])
    _code("SERIALIZATION_ERROR", codec.smartsend, "s", [("t", {"x": float("inf")}, "dictionary")])
    _code("SERIALIZATION_ERROR", codec.smartsend, "s", [("t", {1: "int key"}, "dictionary")])
    _code("SERIALIZATION_ERROR", codec.smartsend, "s", [("t", {"b": b"bytes"}, "dictionary")])
    _code("SERIALIZATION_ERROR", codec.smartsend, "s", [("t", "\ud800", "text")])
    _code("SERIALIZATION_ERROR", codec.smartsend, "s", [("t", "x")])


def case_publish_through_a_connection_object():
    # The codec's contract with a connection (nats.Client in practice): publish(subject, text, headers=...).
    published = []

    class Recorder:
        max_payload = 1 << 20

        def publish(self, subject, body, headers=None):
            published.append((subject, body, headers))

    env, text = codec.smartsend("s.t", [("m", "hi", "text")], connection=Recorder(), correlation_id=CID)
    assert published == [("s.t", text, {"Nats-Msg-Id": env["msg_id"], "Correlation-Id": CID})], published

    class Broken:
        def publish(self, subject, body, headers=None):
            raise OSError(104)

    _code("PUBLISH_FAILED", codec.smartsend, "s", [("m", "hi", "text")], connection=Broken())


def case_ids_time_and_hosts():
    u = codec.new_uuid()
    assert codec.matches(u, codec.S.UUID_STEPS) and u[14] == "4" and u[19] in "89ab", u
    assert codec.new_uuid() != u
    assert codec.matches(codec.now_timestamp(), codec.S.TIMESTAMP_STEPS)
    assert codec.host_of("http://Files.Local/x") == "files.local:80"
    assert codec.host_of("https://h") == "h:443"
    assert codec.host_of("http://a@evil:1@good:2/") == "good:2"
    assert codec.host_of("http://h:99999/") is None and codec.host_of("ftp://h/") is None
    assert codec.host_allowed("http://127.0.0.1:9/x", ("http://127.0.0.1:9",))
    assert not codec.host_allowed("http://127.0.0.1:10/x", ("127.0.0.1:9",))
    assert codec.host_allowed("http://127.0.0.1:10/x", ("127.0.0.1",))


CASES = sorted(name for name in globals() if name.startswith("case_"))
