"""The MicroPython lane's protocol adapter (conformance/README.md), run by testee.mjs inside
the real MicroPython (WebAssembly port). One JSON request line in, one JSON answer line out.

- hello: what this lane supports (`capabilities`);
- validate: strict v1 validation with codec.validate (the schema's checks, from schema_v1);
- roundtrip: parsed as a reader (codec.loads + the reader checks), written again by
  codec.envelope_text and read back;
- decode: codec.smartreceive; links only from the --allow-host hosts;
- encode: codec.smartsend, not published, every payload direct.

A payload type the codec does not implement (arrowtable) is answered
{"ok": false, "error": "NOT_APPLICABLE", ...}, never as a success. No decoding or encoding
logic lives here: what the codec answers is the lane's answer.

Links: the WebAssembly port has no sockets. The host (testee.mjs, module `nbhost`) carries
the TCP bytes: it sends the request head made by http.request_head to the server and puts
what the server answered in a file; http.read_response reads the answer from that file
exactly as it reads a socket on a device, and http.fetch_with_backoff retries.
"""

import sys

from natsbridge_mp import codec, http, schema_v1
from natsbridge_mp.codec import NatsBridgeError

OPS = ("hello", "validate", "roundtrip", "decode", "encode")
ENCODE_SUBJECT = "conformance.encode"
NEVER_LINK = 1 << 62
VALUE_KEY = {"text": "text", "dictionary": "json", "jsontable": "json", "arrowtable": "base64",
             "image": "base64", "audio": "base64", "video": "base64", "binary": "base64"}
HEAD_ALLOWANCE = 64 * 1024
"""Bytes of response head the host may carry beside a body."""

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
        "payload_types": list(codec.SUPPORTED_PAYLOAD_TYPES),
        "not_applicable": [t for t in schema_v1.PAYLOAD_TYPE if t not in codec.SUPPORTED_PAYLOAD_TYPES],
        "validate": "codec.validate: required fields, types, enums, UUID/timestamp patterns, minLength, "
                    "minimum, from schema_v1",
        "link_download": "host-tcp",
        "link_download_note": "HTTP request and response handled by natsbridge_mp/http.py in MicroPython; "
                              "the TCP bytes are carried by the Node host, as the WebAssembly port has no sockets",
        "link_upload": False,
        "nats": "compiled only (no sockets in the WebAssembly port)",
    }


# --- links through the host ----------------------------------------------------------------


def host_download(url, size, correlation_id):
    import nbhost  # registered by testee.mjs
    host, port, path = http.split_url(url)
    head = http.request_head("GET", host, port, path).decode()

    def attempt():
        where = nbhost.exchange(host, port, head, size + HEAD_ALLOWANCE)
        if not where:
            raise http.Retry("connection failed: %s" % nbhost.last_error())
        with open(where, "rb") as f:
            return http.read_response(f, size)

    return http.fetch_with_backoff(attempt)


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


def decode(text):
    try:
        received = codec.smartreceive(text, ALLOWED_HOSTS, download=host_download)
    except NatsBridgeError as e:
        return failure(e)
    payloads = []
    for p in received.payloads:
        d = {"dataname": p.dataname, "payload_type": p.payload_type, "transport": p.transport,
             "size": p.size, "sha256": p.sha256}
        if p.payload_type == "text":
            d["text"] = p.data
        elif p.payload_type in ("dictionary", "jsontable"):
            d["json"] = p.data
        if p.payload_type == "jsontable":
            d["num_rows"] = len(p.data)
        payloads.append(d)
    return {"ok": True, "payloads": payloads}


def native_value(p):
    """The value a MicroPython caller would hand smartsend for payload request `p`."""
    given = [k for k in ("text", "json", "base64") if k in p]
    if len(given) != 1:
        raise BadRequest("a payload needs exactly one of `text`, `json`, `base64`")
    key = given[0]
    kind = p["payload_type"]
    if kind in VALUE_KEY and VALUE_KEY[kind] != key:
        raise BadRequest("a %s payload carries `%s`, not `%s`" % (kind, VALUE_KEY[kind], key))
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


def encode(req):
    payloads = req.get("payloads")
    if type(payloads) is not list:
        raise BadRequest("`payloads` must be a list")
    subject = req.get("subject", ENCODE_SUBJECT)
    ids = [req.get("correlation_id"), req.get("msg_id")]
    if type(subject) is not str or any(v is not None and type(v) is not str for v in ids):
        raise BadRequest("`correlation_id`, `msg_id` and `subject` must be strings")
    items = []
    for p in payloads:
        if type(p) is not dict or type(p.get("dataname")) is not str or type(p.get("payload_type")) is not str:
            raise BadRequest("a payload needs a string `dataname` and `payload_type`")
        items.append((p["dataname"], native_value(p), p["payload_type"]))
    try:
        envelope, text = codec.smartsend(subject, items, size_threshold=NEVER_LINK, max_payload=NEVER_LINK,
                                         correlation_id=ids[0], msg_id=ids[1])
    except NatsBridgeError as e:
        return failure(e)
    return {"ok": True, "text": text}


def _answer(line):
    try:
        req = codec.loads(line)
    except ValueError as e:
        raise BadRequest("not JSON: %s" % e)
    if type(req) is not dict:
        raise BadRequest("a request is a JSON object")
    op = req.get("op")
    if op == "hello":
        return {"ok": True, "lane": "micropython", "protocol": 1, "capabilities": capabilities()}
    if op == "encode":
        return encode(req)
    if op not in OPS:
        raise BadRequest("unknown op %s" % codec.dumps(op)[:100] if type(op) in (str, int, float, bool) else "no op")
    text = req.get("text")
    if type(text) is not str:
        raise BadRequest("`text` must be a string")
    if op == "validate":
        return validate(text)
    if op == "roundtrip":
        return roundtrip(text)
    return decode(text)


def answer(line):
    """One request line -> one answer line (JSON text). Never raises."""
    try:
        try:
            out = _answer(line)
        except BadRequest as e:
            out = {"ok": False, "error": "INVALID_REQUEST", "message": str(e)[:500]}
        return codec.dumps(out)
    except MemoryError:
        return codec.dumps({"ok": False, "error": "UNEXPECTED_EXCEPTION", "message": "MemoryError"})
    except Exception as e:  # a codec bug: reported, and the lane goes on
        message = "%s: %s" % (type(e).__name__, e)
        try:
            return codec.dumps({"ok": False, "error": "UNEXPECTED_EXCEPTION", "message": message[:500]})
        except Exception:
            return '{"ok":false,"error":"UNEXPECTED_EXCEPTION"}'
