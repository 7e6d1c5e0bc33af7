"""Checks of codec.py beyond the conformance vectors, run under MicroPython by
codec.test.mjs. Each `case_*` function raises AssertionError on a failure."""

from natsbridge_mp import codec
from natsbridge_mp import schema_v1 as S
from natsbridge_mp.codec import NatsBridgeError

CID = "0000c0de-0000-4000-8000-00000000c0de"


def _code(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except NatsBridgeError as e:
        assert e.code == code, (e.code, code, e.message)
        return e
    raise AssertionError("no NatsBridgeError " + code)


def _not_json(text):
    try:
        codec.loads(text)
    except ValueError:
        return
    raise AssertionError("accepted %r" % text)


def case_strict_json():
    good = {'{"a":[1,-0.5e-3,true,false,null,"x"]}': {"a": [1, -0.0005, True, False, None, "x"]},
            ' \t\r\n[] ': [], '"\\u00e9\\ud83d\\ude00\\n\\/"': "\xe9\U0001F600\n/", "1E+2": 100.0, "1e-400": 0.0,
            '"a\\u0000b"': "a\x00b", '[{"a":1},{"a":2}]': [{"a": 1}, {"a": 2}], '{"a":{"a":{"a":1}}}': {"a": {"a": {"a": 1}}},
            '{"\\ud83d\\ude00":1,"\\ud83d\\ude01":2}': {"\U0001F600": 1, "\U0001F601": 2}}
    for text, value in good.items():
        assert codec.loads(text) == value, (text, codec.loads(text))
    for text in ("", "[1,]", "{\"a\":1,}", "01", "-01", "-", "--1", "1.", ".5", "+1", "[1 2]", '{"a" 1}', "{a:1}", "'a'", "NaN",
                 "Infinity", "-Infinity", "1e400", "-1e400", "9" * 400, '"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"',
                 '"a\x01"', '"\\x"', '"\\u12"', "tru", "nul", "[]]", "{}{}", '"abc', "\ufeff{}", "\ufeff[1]"):
        _not_json(text)
    # `-0` is read as the float -0.0, as serde_json and JavaScript read it (MicroPython's json says 0).
    for text in ("-0", "[-0]", '{"a":-0}'):
        v = codec.loads(text)
        x = v if type(v) is float else v[0] if type(v) is list else v["a"]
        assert type(x) is float and x == 0 and str(x) == "-0.0", (text, v)
    v = codec.loads("[-0.5,-0e1,0,-1,-9,-10]")
    assert v == [-0.5, 0.0, 0, -1, -9, -10] and [type(x) for x in v] == [float, float, int, int, int, int], v


def case_strict_json_duplicate_keys_at_any_depth():
    # Compared after unescaping: "a" and "\u0061" are one name; surrogate pairs too.
    for text in ('{"a":1,"a":2}', '{"a":1,"\\u0061":2}', '{"x":[{"k":1,"k":1}]}', '[1,{"a":{"b":{},"b":[]}}]',
                 '{"\\ud83d\\ude00":1,"\\ud83d\\ude00":2}', '{"a":1,"b":2,"a":3}',
                 '{"payloads":[{"size":1},{"size":1,"size":2}]}'):
        _not_json(text)
    # The same name in sibling or nested objects is no duplicate.
    assert codec.loads('{"a":{"a":1},"b":{"a":2}}') == {"a": {"a": 1}, "b": {"a": 2}}


def case_strict_json_depth_from_the_profile():
    d = S.JSON_MAX_DEPTH
    assert d == 64
    assert codec.loads("[" * d + "]" * d) is not None  # the outermost value is depth 1
    assert codec.loads('{"a":' * d + "1" + "}" * d) is not None
    assert codec.loads("[" * (d - 1) + "[1]" + "]" * (d - 1)) is not None
    for text in ("[" * (d + 1) + "]" * (d + 1), '{"a":' * (d + 1) + "1" + "}" * (d + 1), "[" * (d + 1)):
        _not_json(text)
    assert codec.loads("[[1]]", max_depth=2) == [[1]]
    try:
        codec.loads("[[[1]]]", max_depth=2)
        raise AssertionError("depth 3 accepted with max_depth 2")
    except ValueError:
        pass
    # A writer writes no deeper than readers accept.
    deep = 1
    for _ in range(d + 1):
        deep = [deep]
    _code(S.ERROR_WRITER_RULE, codec.dumps, deep)
    assert codec.loads(codec.dumps(deep[0])) == deep[0]


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


TS = "2026-03-13T07:02:50.443Z"


def _envelope(items, **kw):
    """(envelope, text) of a valid envelope with fixed ids and time."""
    return codec.smartsend("s.t", items, correlation_id=CID, msg_id=CID, timestamp=TS, sender_id="", **kw)


def _as(payload_type, raw, dataname="p"):
    """Envelope text carrying bytes `raw` as `payload_type` whatever they are (written as
    binary, then relabelled: the sha256 covers the bytes only)."""
    _, text = _envelope([(dataname, raw, "binary")])
    return text.replace('"payload_type":"binary"', '"payload_type":"%s"' % payload_type)


def _refused(code, body, **kw):
    e = _code(code, codec.smartreceive, body, **kw)
    return e


def case_reader_rules_for_envelopes():
    _, text = _envelope([("m", "hi", "text")])
    assert codec.smartreceive(text).tuples() == [("m", "hi", "text")]
    raw = text.encode()
    # Rule 8: strict UTF-8, no BOM.
    _refused(S.ERROR_NOT_JSON, b"\xef\xbb\xbf" + raw)
    _refused(S.ERROR_NOT_JSON, "\ufeff" + text)
    for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"):
        _refused(S.ERROR_NOT_JSON, raw.replace(b'"receiver_name":""', b'"receiver_name":"' + bad + b'"'))
    # Rule 8: duplicate member names, at any depth.
    _refused(S.ERROR_NOT_JSON, text.replace('"msg_purpose":"chat"', '"msg_purpose":"chat","msg_purpose":"event"'))
    _refused(S.ERROR_NOT_JSON, text.replace('"size":2', '"size":2,"size":2'))
    _refused(S.ERROR_NOT_JSON, text.replace('"metadata":{}', '"metadata":{"k":1,"\\u006b":1}'))
    # Rule 8: finite numbers, no lone surrogate; `\u0000` accepted and kept.
    _refused(S.ERROR_NOT_JSON, text.replace('"metadata":{}', '"metadata":{"k":1e400}'))
    _refused(S.ERROR_NOT_JSON, text.replace('"dataname":"m"', '"dataname":"m\\ud800"'))
    r = codec.smartreceive(text.replace('"dataname":"m"', '"dataname":"m\\u0000x"'))
    assert r.payloads[0].dataname == "m\x00x"
    # Rule 8: depth, the envelope being depth 1 and its metadata 2.
    d = S.JSON_MAX_DEPTH
    ok = text.replace('"metadata":{}', '"metadata":{"a":' + "[" * (d - 2) + "]" * (d - 2) + "}")
    assert codec.smartreceive(ok).payloads[0].data == "hi"
    _refused(S.ERROR_NOT_JSON, text.replace('"metadata":{}', '"metadata":{"a":' + "[" * (d - 1) + "]" * (d - 1) + "}"))
    # Rule 9: `size` written as an integer; the schema validator still counts 2.0 as one.
    for written in ("2.0", "2e0", "2E0", "0.2e1", "20e-1"):
        bad = text.replace('"size":2', '"size":' + written)
        e = _refused(S.ERROR_NOT_ENVELOPE, bad)
        assert e.correlation_id == CID and "size" in e.message, e.message
        assert codec.validate(bad) == []
    _, empty = _envelope([("e", "", "text")])
    assert codec.smartreceive(empty).tuples() == [("e", "", "text")]
    _refused(S.ERROR_NOT_ENVELOPE, empty.replace('"size":0', '"size":-0'))
    _refused(S.ERROR_NOT_ENVELOPE, empty.replace('"size":0', '"size":-0.0'))
    # Rule 10: a UUID or timestamp followed by a newline is no UUID or timestamp.
    _refused(S.ERROR_NOT_ENVELOPE, text.replace('"correlation_id":"%s"' % CID, '"correlation_id":"%s\\n"' % CID))
    _refused(S.ERROR_NOT_ENVELOPE, text.replace('"timestamp":"%s"' % TS, '"timestamp":"%s\\n"' % TS))
    _refused(S.ERROR_NOT_ENVELOPE, text.replace('"msg_id":"%s"' % CID, '"msg_id":"%s\\n"' % CID))


def case_reader_rules_for_json_payloads():
    d = S.JSON_MAX_DEPTH
    # Depth counted from the payload's own root; no integer rule inside payloads.
    assert codec.smartreceive(_as("dictionary", ("[" * d + "]" * d).encode())).payloads[0].data is not None
    assert codec.smartreceive(_as("dictionary", b'{"n":-0,"f":5.0}')).payloads[0].data == {"n": -0.0, "f": 5.0}
    assert codec.smartreceive(_as("dictionary", b'{"z":"\\u0000"}')).payloads[0].data == {"z": "\x00"}
    for raw in (("[" * (d + 1) + "]" * (d + 1)).encode(), b'{"a":1,"a":2}', b'[{"a":{"b":1,"b":1}}]', b"\xef\xbb\xbf{}",
                b'{"a":"\xff"}', b'{"a":1e400}', b'"\\udc00"', b"{} x"):
        e = _refused(S.ERROR_BAD_BYTES, _as("dictionary", raw, "bad"))
        assert e.dataname == "bad" and e.correlation_id == CID, (e.dataname, e.correlation_id)
    _refused(S.ERROR_BAD_BYTES, _as("jsontable", b'[{"a":1,"a":1}]'))
    _refused(S.ERROR_BAD_BYTES, _as("jsontable", b"[1,2]"))
    # Rule 11: one bad payload fails the whole envelope, named by its dataname.
    _, text = _envelope([("good", "fine", "text"), ("bad", b'{"k":1,"k":2}', "binary")])
    text = text.replace('"payload_type":"binary"', '"payload_type":"dictionary"')
    e = _refused(S.ERROR_BAD_BYTES, text)
    assert e.dataname == "bad" and e.correlation_id == CID


def case_a_ninth_payload_type():
    # A type v1 does not know: refused both ways, not as `unsupported`.
    e = _code(S.ERROR_UNKNOWN_PAYLOAD_TYPE, codec.smartsend, "s", [("x", b"{}", "parquet")])
    assert not e.unsupported
    e = _refused(S.ERROR_UNKNOWN_PAYLOAD_TYPE, _as("parquet", b"{}"))
    assert not e.unsupported
    # A type a newer schema_v1 lists but whose bytes this codec does not know: never sent as raw
    # bytes, never read as JSON, and not declared in the testee's payload types.
    saved = S.PAYLOAD_TYPE
    S.PAYLOAD_TYPE = S.ENUMS["payload_type"] = saved + ("parquet",)
    try:
        published = []

        class Recorder:
            max_payload = S.DEFAULT_MAX_PAYLOAD

            def publish(self, subject, body, headers=None):
                published.append(body)

        e = _code(S.ERROR_UNKNOWN_PAYLOAD_TYPE, codec.smartsend, "s", [("x", b"{}", "parquet")], connection=Recorder())
        assert e.unsupported and published == []
        e = _refused(S.ERROR_UNKNOWN_PAYLOAD_TYPE, _as("parquet", b"{}"))
        assert e.unsupported and e.dataname == "p"
        assert "parquet" not in codec.supported_payload_types()
        # Once its kind is known (S.PAYLOAD_SERIALIZATION), it is handled as that kind.
        S.PAYLOAD_SERIALIZATION["parquet"] = "bytes"
        env, text = codec.smartsend("s", [("x", b"{}", "parquet")])
        assert codec.smartreceive(text).tuples() == [("x", b"{}", "parquet")]
        assert "parquet" in codec.supported_payload_types()
    finally:
        S.PAYLOAD_TYPE = S.ENUMS["payload_type"] = saved
        S.PAYLOAD_SERIALIZATION.pop("parquet", None)
    assert codec.supported_payload_types() == [t for t in S.PAYLOAD_TYPE if t != "arrowtable"]
    # The kinds come from the profile's PAYLOAD_SERIALIZATION only: a v1 type missing there is
    # refused both ways, never guessed (here `image`, taken out for the test).
    _, text = _envelope([("i", b"\x89PNG", "image")])
    kind = S.PAYLOAD_SERIALIZATION.pop("image")
    try:
        e = _code(S.ERROR_UNKNOWN_PAYLOAD_TYPE, codec.smartsend, "s", [("i", b"\x89PNG", "image")])
        assert e.unsupported
        e = _refused(S.ERROR_UNKNOWN_PAYLOAD_TYPE, text)
        assert e.unsupported and e.dataname == "i"
        assert "image" not in codec.supported_payload_types()
    finally:
        S.PAYLOAD_SERIALIZATION["image"] = kind
    assert codec.smartreceive(text).tuples() == [("i", b"\x89PNG", "image")]


def case_canonical_base64():
    assert codec.b64decode("SGVsbG8gV29ybGQ=") == b"Hello World"
    assert codec.b64decode("") == b""
    for text in ("SGVsbG8gV29ybGQ", "SGVsbG8gV29ybGR=", "SGVs bG8gV29ybGQ=", "SGVsbG8gV29ybGQ==", "SGVsbG8-V29ybGQ=",
                 "SGVsbG8_V29ybGQ=", "====", "SGVsbG8gV29ybGQ=\n", "SGVsbG8gV29ybGQ=SGVs", "é"):
        _code(S.ERROR_BAD_BYTES, codec.b64decode, text)
    big = bytes(range(256)) * 40  # 10 240 bytes: several slices (codec._B64_SLICE)
    text = codec.b64encode(big)
    assert codec.b64decode(text) == big
    bad = text[:-8] + "@" + text[-7:]  # a foreign character in the last slice
    _code(S.ERROR_BAD_BYTES, codec.b64decode, bad)


def case_round_trip_every_supported_type():
    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    items = [("t", "héllo ✓", "text"), ("d", {"k": [1, 2.5, None], "u": "ü"}, "dictionary"), ("r", rows, "jsontable"),
             ("i", b"\x89PNG", "image"), ("au", bytearray(b"RIFF"), "audio"), ("v", memoryview(b"\x00\x00"), "video"),
             ("b", b"", "binary")]
    env, text = codec.smartsend("s.t", items, correlation_id=CID, msg_id=CID, timestamp="2026-03-13T07:02:50.443Z")
    assert codec.validate(text) == [], codec.validate(text)
    assert env["timestamp"] == "2026-03-13T07:02:50.443Z" and env["msg_purpose"] == S.DEFAULT_MSG_PURPOSE
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

    threshold = S.DEVICE_SIZE_THRESHOLD  # the default
    big = bytes(threshold)
    env, text = codec.smartsend("s", [("big", big, "binary"), ("small", bytes(threshold - 1), "binary")], upload=upload)
    big_p, small_p = env["payloads"]
    assert (big_p["transport"], big_p["encoding"], big_p["size"]) == ("link", "none", threshold), big_p
    assert big_p["data"].endswith("/big.bin") and small_p["transport"] == "direct"
    _code(S.ERROR_HOST_NOT_ALLOWED, codec.smartreceive, text, download=download)
    r = codec.smartreceive(text, allowed_hosts=("http://files.local:8080",), download=download)
    assert r.payloads[0].data == big and r.payloads[0].transport == "link"
    store[big_p["data"]] = bytes(threshold - 1)
    _code(S.ERROR_INTEGRITY, codec.smartreceive, text, allowed_hosts=("http://files.local:8080",), download=download)
    _code(S.ERROR_BAD_OPTION, codec.smartreceive, text, allowed_hosts=("files.local:8080",), download=download)
    _code(S.ERROR_DOWNLOAD, codec.smartreceive, text, allowed_hosts=("*",))
    _code(S.ERROR_UPLOAD, codec.smartsend, "s", [("big", big, "binary")])


def case_max_payload_moves_the_largest_to_link():
    urls = []

    def upload(name, data, cid):
        urls.append(name)
        return "http://f/file/u/%d/%s" % (len(urls), name)

    items = [("a", bytes(600_000), "binary"), ("b", bytes(400_000), "binary"), ("c", b"x", "binary")]
    never = 1 << 40
    env, text = codec.smartsend("s", items, upload=upload, size_threshold=never)
    assert [p["transport"] for p in env["payloads"]] == ["link", "direct", "direct"], urls
    assert len(text) + 100 < S.DEFAULT_MAX_PAYLOAD
    _code(S.ERROR_TOO_LARGE_TO_SEND, codec.smartsend, "s", items, size_threshold=never)
    _code(S.ERROR_TOO_LARGE_TO_SEND, codec.smartsend, "s", [("m", {"k": "v" * 100}, "dictionary")], max_payload=200)


def case_smartsend_errors():
    e = _code(S.ERROR_UNKNOWN_PAYLOAD_TYPE, codec.smartsend, "s", [("t", b"", "arrowtable")], correlation_id=CID)
    assert e.unsupported and e.correlation_id == CID
    e = _code(S.ERROR_UNKNOWN_PAYLOAD_TYPE, codec.smartsend, "s", [("t", b"", "table")])
    assert not e.unsupported
    # Rule 12: the writer's checks, SERIALIZATION_ERROR naming the field.
    for kwargs, field in (({"correlation_id": "abc123..."}, "correlation_id"), ({"msg_id": CID + "\n"}, "msg_id"),
                          ({"msg_purpose": "request"}, "msg_purpose"), ({"msg_purpose": "gossip"}, "msg_purpose"),
                          ({"sender_name": ""}, "sender_name"), ({"reply_to": None}, "reply_to"),
                          ({"timestamp": "2026-03-13 07:02:50Z"}, "timestamp"), ({"timestamp": TS + "\n"}, "timestamp")):
        e = _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [], **kwargs)
        assert field in e.message, (field, e.message)
    e = _code(S.ERROR_WRITER_RULE, codec.smartsend, "", [])
    assert "send_to" in e.message, e.message
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("t", b"bytes", "text")])
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("t", "str", "binary")])
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("t", [1, 2], "jsontable")])
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("t", {"x": float("inf")}, "dictionary")])
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("t", {1: "int key"}, "dictionary")])
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("t", {"b": b"bytes"}, "dictionary")])
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("t", "\ud800", "text")])
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("t", "x")])
    # Nothing is uploaded when the envelope breaks a writer rule.
    uploads = []
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [("big", bytes(10), "binary")], size_threshold=1,
          upload=lambda *a: uploads.append(a), msg_purpose="request")
    assert uploads == []
    # Metadata counts in the envelope's depth: the envelope is 1, its metadata 2.
    d = S.JSON_MAX_DEPTH
    nest = lambda k: [] if k == 1 else [nest(k - 1)]
    _, text = codec.smartsend("s", [], metadata={"a": nest(d - 2)})
    assert codec.smartreceive(text).envelope["metadata"]["a"] == nest(d - 2)
    _code(S.ERROR_WRITER_RULE, codec.smartsend, "s", [], metadata={"a": nest(d - 1)})


def case_unknown_and_mistyped_options():
    # Rule 12: ERROR_BAD_OPTION naming the option, and the closest known one for a misspelling.
    e = _code(S.ERROR_BAD_OPTION, codec.smartsend, "s", [], sizethreshold=5)
    assert "`sizethreshold`" in e.message and "did you mean `size_threshold`?" in e.message, e.message
    e = _code(S.ERROR_BAD_OPTION, codec.smartsend, "s", [], correlationId=CID)
    assert "did you mean `correlation_id`?" in e.message, e.message
    e = _code(S.ERROR_BAD_OPTION, codec.smartsend, "s", [], zzzzzzzzzzzz=1)
    assert "zzzzzzzzzzzz" in e.message and "did you mean" not in e.message, e.message
    e = _code(S.ERROR_BAD_OPTION, codec.smartreceive, "{}", allowed_host=("h",))
    assert "did you mean `allowed_hosts`?" in e.message, e.message
    for kwargs, name in (({"size_threshold": "100"}, "size_threshold"), ({"size_threshold": -1}, "size_threshold"),
                         ({"flush": 1}, "flush"), ({"headers": {"a": 1}}, "headers"), ({"metadata": [1]}, "metadata"),
                         ({"upload": "http://h"}, "upload"), ({"connection": "nats://h"}, "connection"),
                         ({"max_payload": 1.5}, "max_payload")):
        e = _code(S.ERROR_BAD_OPTION, codec.smartsend, "s", [], **kwargs)
        assert "`%s`" % name in e.message, (name, e.message)
    for kwargs, name in (({"allowed_hosts": "h"}, "allowed_hosts"), ({"max_size": None}, "max_size"),
                         ({"verify_sha256": "no"}, "verify_sha256"), ({"download": 5}, "download")):
        e = _code(S.ERROR_BAD_OPTION, codec.smartreceive, "{}", **kwargs)
        assert "`%s`" % name in e.message, (name, e.message)


def case_publish_through_a_connection_object():
    # The codec's contract with a connection (nats.Client in practice): publish(subject, text, headers=...).
    published = []

    class Recorder:
        max_payload = S.DEFAULT_MAX_PAYLOAD
        flushed = 0

        def publish(self, subject, body, headers=None):
            published.append((subject, body, headers))

        def flush(self):
            self.flushed += 1

    conn = Recorder()
    env, text = codec.smartsend("s.t", [("m", "hi", "text")], connection=conn, correlation_id=CID)
    headers = {S.HEADER_MSG_ID: env["msg_id"], S.HEADER_CORRELATION_ID: CID}
    assert published == [("s.t", text, headers)], published
    assert conn.flushed == 0 and S.DEFAULT_FLUSH is False  # flush only when asked
    codec.smartsend("s.t", [("m", "hi", "text")], connection=conn, flush=True)
    assert conn.flushed == 1 and len(published) == 2

    class Broken:
        def publish(self, subject, body, headers=None):
            raise OSError(104)

    _code("PUBLISH_FAILED", codec.smartsend, "s", [("m", "hi", "text")], connection=Broken())


def case_ids_time_and_hosts():
    u = codec.new_uuid()
    assert codec.matches(u, S.UUID_STEPS) and u[14] == "4" and u[19] in "89ab", u
    assert codec.new_uuid() != u
    assert codec.matches(codec.now_timestamp(), S.TIMESTAMP_STEPS)
    assert codec.host_of("http://Files.Local/x") == "files.local:80"
    assert codec.host_of("https://h") == "h:443"
    assert codec.host_of("http://a@evil:1@good:2/") == "good:2"
    assert codec.host_of("http://h:99999/") is None and codec.host_of("ftp://h/") is None
    # host_allowed takes hosts as allowed_host read them (rule 15): `host:port` or "*".
    assert codec.host_allowed("http://127.0.0.1:9/x", (codec.allowed_host("http://127.0.0.1:9"),))
    assert not codec.host_allowed("http://127.0.0.1:10/x", (codec.allowed_host("http://127.0.0.1:9"),))
    assert codec.host_allowed("http://anything/x", (codec.allowed_host("*"),))
    assert codec.allowed_host("https://Files.Local/a/b") == "files.local:443"
    for bare in ("127.0.0.1", "127.0.0.1:9", "ftp://h/", "", 9):
        _code(S.ERROR_BAD_OPTION, codec.allowed_host, bare)


CASES = sorted(name for name in globals() if name.startswith("case_"))
