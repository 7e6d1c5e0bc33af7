"""The MicroPython lane's protocol adapter (conformance/README.md), run by testee.mjs inside
the real MicroPython (WebAssembly port). One JSON request line in, one JSON answer line out.

- hello: what this lane supports (`capabilities`);
- validate: strict v1 validation with codec.validate (the schema's checks, from schema_v1);
- roundtrip: parsed as a reader (codec.loads + the reader checks), written again by
  codec.envelope_text and read back;
- decode: codec.smartreceive of `text` (str) or of `bytes` (standard base64 of the exact
  envelope bytes, handed over as a NATS message body: they may be invalid UTF-8 or start
  with a BOM); links only from the --allow-host hosts;
- encode: codec.smartsend, not published, every payload direct;
- send (ops.md of issue 25; groups writer-api, budget): codec.smartsend with the request's
  options under their own names (the codec's keywords are the conformance names), not
  published, planning for `max_payload` (the codec's default: DEFAULT_MAX_PAYLOAD), links
  uploaded to the request's `fileserver` by http.plik_uploader;
- allow_host (group arguments): codec.allowed_host, the one form of an allowed host;
- fetch (group fetch): http.fetch, the codec's fetch_with_backoff over HTTP, with the
  request's schedule, expected size and max_bytes; answers the body's size and SHA-256.

A payload type the codec does not implement (arrowtable) is answered
{"ok": false, "error": "NOT_APPLICABLE", ...}, never as a success. No decoding, encoding or
HTTP logic lives here: what the codec answers is the lane's answer. Nothing a request
carries stops the adapter: any failure is an answer line.

HTTP: the WebAssembly port has no sockets, so http.py's functions get `host_exchange` as
their exchange: the request bytes http.py made (a GET head, or the Plik upload's head and
multipart body) are written to a file, the host (testee.mjs, module `nbhost`) carries them
over TCP to the server and puts what the server answered in a file, and http.read_response /
read_answer read that file exactly as they read a socket on a device; fetch_with_backoff
retries. A connection that fails is an OSError, as a socket's would be.
"""

import json
import sys

from natsbridge_mp import codec, http, schema_v1
from natsbridge_mp.codec import NatsBridgeError

OPS = ("hello", "validate", "roundtrip", "decode", "encode", "send", "fetch", "allow_host")
ENCODE_SUBJECT = "conformance.encode"
NEVER_LINK = 1 << 62
KIND_KEY = {"utf8": "text", "json": "json", "json_rows": "json"}
"""The protocol's value key of a payload, by codec.payload_kind (`base64` for the others)."""
VALUE_KEYS = ("text", "json", "base64", "fill")
SEND_OPTIONS = ("correlation_id", "msg_id", "msg_purpose", "sender_name", "sender_id", "receiver_name",
                "receiver_id", "reply_to", "reply_to_msg_id", "metadata", "size_threshold", "max_payload", "headers")
"""The `send` options of the protocol: the codec's smartsend keywords of the same names."""
FETCH_OPTIONS = {"max_attempts": "attempts", "base_delay_ms": "base_ms", "max_delay_ms": "max_ms",
                 "deadline_ms": "deadline_ms", "expected_size": "expected_size", "max_bytes": "max_bytes"}
"""The `fetch` options of the protocol -> http.fetch's keywords."""
REQUEST_FILE = "/tmp/nbhost_request"

REQUEST_MAX_DEPTH = schema_v1.JSON_MAX_DEPTH + 4
"""A request's JSON may hold a payload value as deep as readers accept, below its own levels."""

ALLOWED_HOSTS = []


class BadRequest(Exception):
    """A request that does not follow the protocol: INVALID_REQUEST."""


def configure(allowed_hosts_json):
    ALLOWED_HOSTS[:] = codec.loads(allowed_hosts_json)


def capabilities():
    impl = sys.implementation
    return {
        "runtime": "MicroPython %d.%d.%d (%s, %s)" % (impl.version[0], impl.version[1], impl.version[2],
                                                     getattr(impl, "_machine", "?"), getattr(impl, "_build", "?")),
        "ops": list(OPS),
        "payload_types": codec.supported_payload_types(),
        "not_applicable": [t for t in schema_v1.PAYLOAD_TYPE if t not in codec.supported_payload_types()],
        "decode_input": ["text", "bytes"],
        "validate": "codec.validate: required fields, types, enums, UUID/timestamp patterns, minLength, "
                    "minimum, from schema_v1",
        "link_download": "host-tcp",
        "link_upload": "host-tcp",
        "link_download_note": "HTTP requests and responses (downloads, fetch, Plik uploads) are made and read by "
                              "natsbridge_mp/http.py in MicroPython; the TCP bytes are carried by the Node host, "
                              "as the WebAssembly port has no sockets",
        "nats": "not used by this testee (no sockets in the WebAssembly port); nats.py and http.py's socket "
                "code run under the MicroPython unix port against a real nats-server and file server in "
                "packages/micropython/test/device.test.mjs",
    }


# --- HTTP through the host --------------------------------------------------------------------


def host_exchange(host, port, parts, cap, timeout_s):
    """http.py's exchange in this port: `parts` (the request http.py made) go to host:port
    through the Node host (nbhost, registered by testee.mjs), which keeps at most `cap` bytes
    of the answer; returns the answer as a file, read as a device reads its socket."""
    import nbhost
    with open(REQUEST_FILE, "wb") as f:
        for p in parts:
            f.write(p)
    where = nbhost.exchange(host, port, REQUEST_FILE, cap, max(1, int(timeout_s * 1000)))
    if not where:
        raise OSError("connection failed: %s" % nbhost.last_error())
    return open(where, "rb")


def host_download(url, size, correlation_id):
    """The codec's `download` for links: http.download through the host."""
    return http.download(url, size, correlation_id, exchange=host_exchange)


# --- the ops -------------------------------------------------------------------------------------


def validate(text):
    return {"valid": not codec.validate(text)}


def roundtrip(text):
    try:
        value = codec.loads(text)
    except ValueError:
        return {"ok": False}
    if codec.envelope_problems(value, strict=False):
        return {"ok": False}
    return {"ok": True, "json": codec.loads(codec.envelope_text(value))}


def failure(e):
    if e.unsupported:
        return {"ok": False, "error": "NOT_APPLICABLE", "code": e.code, "message": e.message}
    return {"ok": False, "error": e.code, "message": e.message}


def decode(body):
    """`body`: the envelope as str (`text`) or as the bytes of a NATS message (`bytes`)."""
    try:
        received = codec.smartreceive(body, ALLOWED_HOSTS, download=host_download)
    except NatsBridgeError as e:
        return failure(e)
    payloads = []
    for p in received.payloads:
        d = {"dataname": p.dataname, "payload_type": p.payload_type, "transport": p.transport,
             "size": p.size, "sha256": p.sha256}
        kind = codec.payload_kind(p.payload_type)
        if kind in KIND_KEY:
            d[KIND_KEY[kind]] = p.data
        if kind == "json_rows":
            d["num_rows"] = len(p.data)
        payloads.append(d)
    return {"ok": True, "payloads": payloads}


def envelope_bytes(req):
    """The bytes of a `bytes` request: canonical padded standard base64, else INVALID_REQUEST."""
    b64 = req.get("bytes")
    if type(b64) is not str:
        raise BadRequest("`bytes` must be a base64 string")
    try:
        return codec.b64decode(b64)
    except NatsBridgeError:
        raise BadRequest("`bytes` is not canonical padded standard base64")


def fill_bytes(fill):
    """`{"byte": B, "count": N}`: N bytes of value B."""
    if type(fill) is not dict or type(fill.get("byte")) is not int or type(fill.get("count")) is not int:
        raise BadRequest("`fill` must be {\"byte\": int, \"count\": int}")
    if not 0 <= fill["byte"] <= 255 or fill["count"] < 0:
        raise BadRequest("`fill` needs a byte 0..255 and a count >= 0")
    return bytes((fill["byte"],)) * fill["count"]


def native_value(p):
    """The value a MicroPython caller would hand smartsend for payload request `p`: a str
    (`text`, or a text payload's `fill` of ASCII characters), a JSON value (`json`), bytes
    (`base64`, `fill`). A payload type the codec refuses gets what was given, for smartsend to
    refuse."""
    given = [k for k in VALUE_KEYS if k in p]
    if len(given) != 1:
        raise BadRequest("a payload needs exactly one of `text`, `json`, `base64`, `fill`")
    key = given[0]
    payload_type = p["payload_type"]
    try:
        kind = codec.payload_kind(payload_type)
    except NatsBridgeError:  # a type the codec refuses: smartsend says how
        kind = None
    wanted = KIND_KEY.get(kind, "base64") if kind else key
    if key == "fill":
        raw = fill_bytes(p["fill"])
        if kind == "utf8":
            try:
                return codec.utf8_text(raw)
            except ValueError:
                raise BadRequest("a text `fill` must be of ASCII characters")
        if wanted not in ("base64", "fill"):
            raise BadRequest("a %s payload carries `%s`, not `fill`" % (payload_type, wanted))
        return raw
    if wanted != key:
        raise BadRequest("a %s payload carries `%s`, not `%s`" % (payload_type, wanted, key))
    value = p[key]
    if key == "json":
        return value
    if type(value) is not str:
        raise BadRequest("`%s` must be a string" % key)
    if key == "text":
        return value
    try:
        return codec.b64decode(value)
    except NatsBridgeError:
        raise BadRequest("`base64` is not canonical padded standard base64")


def native_payloads(req):
    payloads = req.get("payloads")
    if type(payloads) is not list:
        raise BadRequest("`payloads` must be a list")
    items = []
    for p in payloads:
        if type(p) is not dict or type(p.get("dataname")) is not str or type(p.get("payload_type")) is not str:
            raise BadRequest("a payload needs a string `dataname` and `payload_type`")
        items.append((p["dataname"], native_value(p), p["payload_type"]))
    return items


def options_of(req, known):
    """The request's `options` object; INVALID_REQUEST for a name the protocol does not have."""
    options = req.get("options", {})
    if type(options) is not dict:
        raise BadRequest("`options` must be an object")
    for name in options:
        if name not in known:
            raise BadRequest("unknown option %s" % codec.dumps(name)[:100])
    return options


def send(req):
    """smartsend as a caller would call it: the options under the codec's names, untouched;
    links to the `fileserver` (Plik), through the host; nothing published."""
    items = native_payloads(req)
    options = options_of(req, SEND_OPTIONS)
    fileserver = req.get("fileserver")
    if fileserver is not None and type(fileserver) is not str:
        raise BadRequest("`fileserver` must be a URL")
    upload = None if fileserver is None else http.plik_uploader(fileserver, exchange=host_exchange)
    try:
        envelope, text = codec.smartsend(req.get("subject"), items, upload=upload, **options)
    except NatsBridgeError as e:
        return failure(e)
    return {"ok": True, "text": text}


def fetch(req):
    """http.fetch (fetch_with_backoff over HTTP) with the request's schedule, through the host."""
    url = req.get("url")
    if type(url) is not str:
        raise BadRequest("`url` must be a string")
    kwargs = {}
    for name, value in options_of(req, FETCH_OPTIONS).items():
        if type(value) is not int or value < 0:
            raise BadRequest("option `%s` must be a non-negative integer" % name)
        kwargs[FETCH_OPTIONS[name]] = value
    try:
        body = http.fetch(url, exchange=host_exchange, **kwargs)
    except NatsBridgeError as e:
        return failure(e)
    return {"ok": True, "size": len(body), "sha256": codec.sha256_hex(body)}


def encode(req):
    subject = req.get("subject", ENCODE_SUBJECT)
    ids = [req.get("correlation_id"), req.get("msg_id")]
    if type(subject) is not str or any(v is not None and type(v) is not str for v in ids):
        raise BadRequest("`correlation_id`, `msg_id` and `subject` must be strings")
    items = native_payloads(req)
    try:
        envelope, text = codec.smartsend(subject, items, size_threshold=NEVER_LINK, max_payload=NEVER_LINK,
                                         correlation_id=ids[0], msg_id=ids[1])
    except NatsBridgeError as e:
        return failure(e)
    return {"ok": True, "text": text}


def _answer(line):
    try:
        req = codec.loads(line, REQUEST_MAX_DEPTH)
    except ValueError as e:
        raise BadRequest("not JSON: %s" % e)
    if type(req) is not dict:
        raise BadRequest("a request is a JSON object")
    op = req.get("op")
    if op == "hello":
        return {"ok": True, "lane": "micropython", "protocol": 1, "capabilities": capabilities()}
    if op == "encode":
        return encode(req)
    if op == "send":
        return send(req)
    if op == "fetch":
        return fetch(req)
    if op == "allow_host":
        try:
            return {"ok": True, "host": codec.allowed_host(req.get("value"))}
        except codec.NatsBridgeError as e:
            return {"ok": False, "error": e.code, "message": e.message}
    if op not in OPS:
        raise BadRequest("unknown op %s" % codec.dumps(op)[:100] if type(op) in (str, int, float, bool) else "no op")
    if op == "decode" and "bytes" in req and "text" not in req:
        return decode(envelope_bytes(req))
    text = req.get("text")
    if type(text) is not str:
        raise BadRequest("`text` must be a string" + (" (or give `bytes`, base64)" if op == "decode" else ""))
    if op == "validate":
        return validate(text)
    if op == "roundtrip":
        return roundtrip(text)
    return decode(text)


def _line(out):
    """An answer as one line of JSON. Not codec.dumps: a decoded JSON payload may sit as deep
    as JSON_MAX_DEPTH below the answer's own nesting; the values are the codec's, plain JSON."""
    return json.dumps(out, separators=(",", ":"))


def answer(line):
    """One request line -> one answer line (JSON text). Never raises."""
    try:
        try:
            out = _answer(line)
        except BadRequest as e:
            out = {"ok": False, "error": "INVALID_REQUEST", "message": str(e)[:500]}
        return _line(out)
    except MemoryError:
        return _line({"ok": False, "error": "UNEXPECTED_EXCEPTION", "message": "MemoryError"})
    except BaseException as e:  # a codec bug: reported, and the lane goes on
        try:
            return _line({"ok": False, "error": "UNEXPECTED_EXCEPTION", "message": ("%s: %s" % (type(e).__name__, e))[:500]})
        except BaseException:
            return '{"ok":false,"error":"UNEXPECTED_EXCEPTION"}'
