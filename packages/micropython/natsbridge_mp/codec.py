"""msg_envelope_v1 for small devices: the envelope `smartsend` publishes and the decoding
`smartreceive` does, in plain MicroPython (json, binascii, hashlib; no typing, no
dataclasses). No I/O here: links go through caller-supplied `upload` and `download`
functions (see http.py), publishing through a connection (see nats.py).

Sending: each payload is serialized (text -> UTF-8, dictionary -> JSON, jsontable -> a JSON
array of row objects, image/audio/video/binary -> the bytes as given). Below `size_threshold`
bytes it travels inline (`direct`, `encoding` "base64"), otherwise `upload` stores it and
only its URL travels (`link`, `encoding` "none"). `metadata.sha256` is the hex SHA-256 of the
serialized bytes. `arrowtable` is refused with a typed error: there is no Arrow here.

Receiving follows "Decoding rules every lane follows" in conformance/README.md, in order:
not JSON or not a v1 envelope for a reader -> INVALID_ENVELOPE; then per payload, the first
failure wins: unknown payload_type -> INVALID_PAYLOAD_TYPE; size above the limit (4 GiB) ->
PAYLOAD_TOO_LARGE; direct: `data` not exactly as long as base64 of `size` bytes ->
INTEGRITY_MISMATCH, not canonical padded standard base64 -> DESERIALIZATION_ERROR; link:
host not allowed -> URL_NOT_ALLOWED, download failure -> DOWNLOAD_FAILED, another length
than `size` -> INTEGRITY_MISMATCH; unknown transport -> INVALID_TRANSPORT; a differing
`metadata.sha256` -> INTEGRITY_MISMATCH; bytes that are not what payload_type says
(strict UTF-8, strict JSON, rows) -> DESERIALIZATION_ERROR. An arrowtable that gets this far
raises INVALID_PAYLOAD_TYPE with `unsupported` set: the message is fine, this codec is not.

MicroPython's own json and UTF-8 decoders are lenient (`[1,]`, `01`, overlong UTF-8 and
surrogates pass; escaped surrogate pairs decode wrongly), so JSON text is checked against
RFC 8259 and UTF-8 strictly before they run.

Memory: base64 is decoded once into the bytes that are then hashed, checked and handed
over; its canonical form is checked by re-encoding small slices, never the whole; a str is
hashed and base64-encoded through a memoryview of its UTF-8 bytes (no encoded copy); JSON
payloads are parsed straight from the decoded bytes; the base64 text of a decoded payload
is released from the parsed envelope unless `keep_data` is set.
"""

import binascii
import hashlib
import json
import time

from . import schema_v1 as S

DEFAULT_SIZE_THRESHOLD = 100_000
"""Serialized payloads of this many bytes or more travel as links."""
MAX_SIZE = 4 << 30
"""A payload `size` above this is refused (PAYLOAD_TOO_LARGE) before anything is allocated."""
MAX_ENVELOPE_BYTES = 64 << 20
MAX_PAYLOADS = 10_000
DEFAULT_MAX_PAYLOAD = 1024 * 1024
"""NATS's default max_payload: the whole message must fit it."""
LINK_URL_ALLOWANCE = 1024
"""Room kept for each link's URL when fitting max_payload (the URL is known only after upload)."""
JSON_MAX_DEPTH = 128
SUPPORTED_PAYLOAD_TYPES = tuple(t for t in S.PAYLOAD_TYPE if t != "arrowtable")
BINARY_TYPES = ("image", "audio", "video", "binary")
HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_CORRELATION_ID = "Correlation-Id"


class NatsBridgeError(Exception):
    """A typed failure: `code` (a schema ErrorCode), `message`, `correlation_id` (or None).
    `unsupported` is True when the input is valid v1 that this codec does not implement
    (arrowtable)."""

    def __init__(self, code, message, correlation_id=None, unsupported=False):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        self.unsupported = unsupported

    def __str__(self):
        return "%s: %s" % (self.code, self.message)


def _unsupported(payload_type):
    return NatsBridgeError(
        "INVALID_PAYLOAD_TYPE",
        "payload_type `%s` is valid v1 but not supported by the MicroPython codec (no Arrow IPC here)" % payload_type,
        unsupported=True,
    )


# --- bytes, base64, UTF-8 ---------------------------------------------------------------------


def utf8_view(text):
    """The UTF-8 bytes of a str without copying them (MicroPython's str has the buffer
    protocol); an encoded copy elsewhere."""
    try:
        return memoryview(text)
    except TypeError:
        return text.encode("utf-8")


def sha256_hex(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def encoded_len(n):
    """Length of the padded base64 text of `n` bytes."""
    return (n + 2) // 3 * 4


def b64encode(data):
    """Padded standard base64 of a bytes-like object, as str."""
    return binascii.b2a_base64(data, newline=False).decode()


_B64_CHECK = 3 * 1024
"""Bytes re-encoded at a time when checking that base64 text is canonical."""


def b64decode(text):
    """The bytes that canonical padded standard base64 `text` (str) holds. binascii skips
    characters outside the alphabet and tolerates bad padding, so the result is re-encoded
    slice by slice and compared with the text: anything but the one canonical text is
    DESERIALIZATION_ERROR."""
    view = utf8_view(text)
    try:
        raw = binascii.a2b_base64(view)
    except MemoryError:
        raise
    except Exception:  # binascii.Error: a ValueError in C ports, an Exception in micropython-lib's
        raise NatsBridgeError("DESERIALIZATION_ERROR", "`data` is not valid base64")
    size = len(raw)
    if encoded_len(size) != len(view) or len(view) != len(text):
        raise NatsBridgeError("DESERIALIZATION_ERROR", "`data` is not canonical base64")
    mv = memoryview(raw)
    pos = 0
    for off in range(0, size, _B64_CHECK):
        chunk = binascii.b2a_base64(mv[off:off + _B64_CHECK], newline=False)
        if chunk != bytes(view[pos:pos + len(chunk)]):
            raise NatsBridgeError("DESERIALIZATION_ERROR", "`data` is not canonical padded standard base64")
        pos += len(chunk)
    return raw


# Lead bytes after which MicroPython's decoder accepts what UTF-8 forbids: (lead, low, high)
# of the forbidden second byte. E0: overlong; ED: surrogates; F0: overlong; F4: above U+10FFFF.
_UTF8_BAD_SECOND = ((b"\xe0", 0x80, 0x9F), (b"\xed", 0xA0, 0xBF), (b"\xf0", 0x80, 0x8F), (b"\xf4", 0x90, 0xBF))
_UTF8_BAD_LEAD = (b"\xc0", b"\xc1", b"\xf5", b"\xf6", b"\xf7")


def _utf8_forbidden(raw):
    """ValueError if structurally valid UTF-8 `raw` (bytes or bytearray) holds a form the
    decoder lets through; searched with find() (C speed), not a Python loop per byte."""
    for lead in _UTF8_BAD_LEAD:
        if lead in raw:
            raise ValueError("not UTF-8: invalid lead byte")
    for lead, low, high in _UTF8_BAD_SECOND:
        i = raw.find(lead)
        while i >= 0:
            if low <= raw[i + 1] <= high:
                raise ValueError("not UTF-8: overlong form, surrogate or above U+10FFFF")
            i = raw.find(lead, i + 1)


def utf8_text(raw):
    """str of strictly valid UTF-8 bytes (bytes or bytearray), else ValueError. The sequence
    structure is checked by the decoder, the rest by _utf8_forbidden."""
    try:
        text = str(raw, "utf-8")
    except (UnicodeError, ValueError):
        raise ValueError("not UTF-8")
    if len(text) != len(raw):  # there are multi-byte sequences
        _utf8_forbidden(raw)
    return text


_UTF8_CHUNK = 4096


def check_utf8(raw):
    """ValueError unless bytes-like `raw` is strictly valid UTF-8. Works on slices of at most
    4 KiB (cut before a continuation byte), so no str or copy of the whole is made: this also
    checks the UTF-8 of a str through utf8_view (a MicroPython str can hold surrogates)."""
    mv = memoryview(raw)
    n = len(mv)
    start = 0
    while start < n:
        end = min(start + _UTF8_CHUNK, n)
        back = 0
        while end < n and back < 3 and 0x80 <= mv[end] <= 0xBF:  # not inside a sequence
            end -= 1
            back += 1
        chunk = bytes(mv[start:end])
        try:
            str(chunk, "utf-8")
        except (UnicodeError, ValueError):
            raise ValueError("not UTF-8")
        _utf8_forbidden(chunk)
        start = end


# --- strict JSON --------------------------------------------------------------------------------

_WS = b" \t\r\n"
_ESCAPES = b'"\\/bfnrt'
_HEX = b"0123456789abcdefABCDEF"


def _skip_ws(b, i, n):
    while i < n and b[i] in _WS:
        i += 1
    return i


def _hex4(b, i, n):
    if i + 4 > n:
        raise ValueError("short \\u escape")
    for k in range(i, i + 4):
        if b[k] not in _HEX:
            raise ValueError("bad \\u escape")
    return int(bytes(b[i:i + 4]), 16)


def _string(b, mv, i, n, pairs):
    """Scans the string starting at the quote b[i]; returns the index after its closing
    quote. Runs of plain characters are skipped with find() and checked with min() (C loops);
    an escaped surrogate pair is recorded in `pairs` as (start, end, UTF-8 bytes); a lone
    surrogate cannot be held by a MicroPython str and is an error."""
    i += 1
    while True:
        q = b.find(b'"', i)
        if q < 0:
            raise ValueError("unterminated string")
        e = b.find(b"\\", i, q)
        end = q if e < 0 else e
        if end > i and min(mv[i:end]) < 0x20:
            raise ValueError("control character in string")
        if e < 0:
            return q + 1
        if e + 1 >= n:
            raise ValueError("unterminated escape")
        c = b[e + 1]
        if c != 0x75:  # not \u
            if c not in _ESCAPES:
                raise ValueError("bad escape")
            i = e + 2
            continue
        cp = _hex4(b, e + 2, n)
        i = e + 6
        if 0xDC00 <= cp <= 0xDFFF:
            raise ValueError("unpaired surrogate escape")
        if 0xD800 <= cp <= 0xDBFF:
            if i + 1 >= n or b[i] != 0x5C or b[i + 1] != 0x75:
                raise ValueError("unpaired surrogate escape")
            low = _hex4(b, i + 2, n)
            if not 0xDC00 <= low <= 0xDFFF:
                raise ValueError("unpaired surrogate escape")
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
            utf8 = bytes((0xF0 | cp >> 18, 0x80 | (cp >> 12) & 0x3F, 0x80 | (cp >> 6) & 0x3F, 0x80 | cp & 0x3F))
            pairs.append((e, i + 6, utf8))
            i += 6


def _digits(b, i, n):
    start = i
    while i < n and 0x30 <= b[i] <= 0x39:
        i += 1
    if i == start:
        raise ValueError("digit expected")
    return i


def _number(b, i, n):
    """-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, whose value fits a double (as
    serde_json: 1e400 is refused, not turned into an infinity no JSON can carry on)."""
    start = i
    if b[i] == 0x2D:
        i += 1
    if i < n and b[i] == 0x30:
        i += 1
    else:
        i = _digits(b, i, n)
    big = i - start > 300
    if i < n and b[i] == 0x2E:
        i = _digits(b, i + 1, n)
    if i < n and b[i] in b"eE":
        i += 1
        if i < n and b[i] in b"+-":
            i += 1
        i = _digits(b, i, n)
        big = True
    if big:
        x = float(bytes(b[start:i]))
        if x - x != 0:
            raise ValueError("number out of range")
    return i


def _key(b, mv, i, n, pairs):
    """A member's key and colon at `i`; returns where its value starts."""
    if i >= n or b[i] != 0x22:
        raise ValueError("string key expected")
    i = _skip_ws(b, _string(b, mv, i, n, pairs), n)
    if i >= n or b[i] != 0x3A:
        raise ValueError("':' expected")
    return _skip_ws(b, i + 1, n)


def check_json(b, max_depth=JSON_MAX_DEPTH):
    """Checks that bytes `b` hold exactly one JSON value (RFC 8259, no NaN or Infinity,
    nesting up to `max_depth`); ValueError otherwise. Returns the escaped surrogate pairs
    found, as (start, end, UTF-8 bytes)."""
    n = len(b)
    mv = memoryview(b)
    pairs = []
    stack = []  # the closing brackets of the open containers
    i = _skip_ws(b, 0, n)
    while True:
        # A value starts at i.
        if i >= n:
            raise ValueError("value expected")
        c = b[i]
        if c == 0x7B or c == 0x5B:  # { [
            if len(stack) >= max_depth:
                raise ValueError("nested too deeply")
            close = 0x7D if c == 0x7B else 0x5D
            i = _skip_ws(b, i + 1, n)
            if i < n and b[i] == close:
                i += 1
            else:
                stack.append(close)
                if close == 0x7D:
                    i = _key(b, mv, i, n, pairs)
                continue
        elif c == 0x22:
            i = _string(b, mv, i, n, pairs)
        elif c == 0x2D or 0x30 <= c <= 0x39:
            i = _number(b, i, n)
        elif b[i:i + 4] == b"true" or b[i:i + 4] == b"null":
            i += 4
        elif b[i:i + 5] == b"false":
            i += 5
        else:
            raise ValueError("value expected")
        # After a value: a comma, closing brackets, or the end.
        while True:
            i = _skip_ws(b, i, n)
            if not stack:
                if i != n:
                    raise ValueError("data after the JSON value")
                return pairs
            if i >= n:
                raise ValueError("unterminated container")
            if b[i] == 0x2C:
                i = _skip_ws(b, i + 1, n)
                if stack[-1] == 0x7D:
                    i = _key(b, mv, i, n, pairs)
                break
            if b[i] != stack[-1]:
                raise ValueError("',' or closing bracket expected")
            stack.pop()
            i += 1


def loads(data, max_depth=JSON_MAX_DEPTH):
    """Strict JSON: `data` (bytes-like or str) checked by check_json, then parsed by
    MicroPython's json; escaped surrogate pairs are rewritten as UTF-8 first (MicroPython
    would decode each half on its own). ValueError on anything that is not JSON."""
    if type(data) is str:
        data = data.encode("utf-8")
    elif type(data) is not bytes and type(data) is not bytearray:
        data = bytes(data)
    pairs = check_json(data, max_depth)
    if pairs:  # rare: rebuilt once, with each pair as the UTF-8 it stands for
        parts = []
        pos = 0
        for start, end, utf8 in pairs:
            parts.append(data[pos:start])
            parts.append(utf8)
            pos = end
        parts.append(data[pos:])
        data = b"".join(parts)
    return json.loads(data)


def check_jsonable(value, depth=0):
    """SERIALIZATION_ERROR unless `value` is plain JSON: dicts with str keys, lists, str,
    int, finite float, bool, None (MicroPython's json.dumps would write bytes as a string,
    int keys as strings and inf as `inf`)."""
    t = type(value)
    if depth > JSON_MAX_DEPTH:
        raise NatsBridgeError("SERIALIZATION_ERROR", "nested too deeply")
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise NatsBridgeError("SERIALIZATION_ERROR", "JSON object keys must be str")
            check_jsonable(v, depth + 1)
    elif t is list or t is tuple:
        for v in value:
            check_jsonable(v, depth + 1)
    elif t is float:
        if value != value or value - value != 0:
            raise NatsBridgeError("SERIALIZATION_ERROR", "NaN and infinities are not JSON")
    elif not (t is str or t is int or t is bool or value is None):
        raise NatsBridgeError("SERIALIZATION_ERROR", "%s is not JSON" % t.__name__)


def dumps(value):
    """Compact JSON text (UTF-8 kept as is) of a value check_jsonable accepts."""
    check_jsonable(value)
    return json.dumps(value, separators=(",", ":"))


# --- the schema: kinds of fields (schema_v1), patterns ----------------------------------------


def _match(s, i, steps):
    """Index after `steps` matched greedily at s[i], or -1."""
    n = len(s)
    for what, low, high in steps:
        count = 0
        if type(what) is tuple:
            while count < high:
                j = _match(s, i, what)
                if j < 0:
                    break
                i = j
                count += 1
        else:
            while count < high and i < n and s[i] in what:
                i += 1
                count += 1
        if count < low:
            return -1
    return i


def matches(s, steps):
    """Whether str `s` matches a pattern given as schema_v1 steps."""
    return _match(s, 0, steps) == len(s)


def is_integer(v):
    """A JSON integer as JSON Schema counts them (11.0 is one); bool is not."""
    t = type(v)
    if t is int:
        return True
    return t is float and v - v == 0 and v == int(v)


def kind_ok(v, kind, strict):
    """Whether `v` is a value of the schema_v1 field kind `kind`; `strict` also enforces
    enum values (a writer's duty; readers accept values they do not know)."""
    if kind == "string":
        return type(v) is str
    if kind == "nonneg_integer":
        return is_integer(v) and v >= 0
    if kind == "list:msg_payload_v1":
        return type(v) is list
    if kind in S.OBJECT_KINDS:
        return type(v) is dict
    if kind in S.ENUMS:
        return type(v) is str and (not strict or v in S.ENUMS[kind])
    if kind in S.STRING_KINDS:
        min_length, steps = S.STRING_KINDS[kind]
        return type(v) is str and len(v) >= min_length and (steps is None or matches(v, steps))
    raise ValueError("unknown field kind " + kind)


def _check_object(obj, fields, strict, where, problems):
    if type(obj) is not dict:
        problems.append(where + ": not an object")
        return
    for name, kind, required in fields:
        if name not in obj:
            if required:
                problems.append("%s.%s: required" % (where, name))
        elif not kind_ok(obj[name], kind, strict):
            problems.append("%s.%s: not a valid %s" % (where, name, kind))


def envelope_problems(value, strict=True):
    """What keeps `value` (parsed JSON) from being a msg_envelope_v1: a list of
    "path: problem" strings, empty when it is one. `strict=False` is the reader's view
    (unknown enum values accepted)."""
    problems = []
    _check_object(value, S.MSG_ENVELOPE_V1_FIELDS, strict, "envelope", problems)
    payloads = value.get("payloads") if type(value) is dict else None
    if type(payloads) is list:
        for k, p in enumerate(payloads):
            _check_object(p, S.MSG_PAYLOAD_V1_FIELDS, strict, "payloads[%d]" % k, problems)
    return problems


def validate(text):
    """Strict v1 validation of envelope JSON text (str or bytes): the problems found, empty
    when valid. The checks are the schema's, taken from schema_v1."""
    try:
        value = loads(text)
    except (ValueError, MemoryError) as e:
        return ["not JSON: %s" % e]
    return envelope_problems(value, strict=True)


# --- writing: the envelope's JSON text ---------------------------------------------------------


def _write_object(parts, obj, fields, trusted_data):
    parts.append("{")
    sep = ""
    for name, kind, _ in fields:
        if name not in obj:
            continue
        v = obj[name]
        parts.append(sep + json.dumps(name) + ":")
        sep = ","
        if kind == "list:msg_payload_v1" and type(v) is list:
            parts.append("[")
            for k, p in enumerate(v):
                if k:
                    parts.append(",")
                if type(p) is dict:
                    _write_object(parts, p, S.MSG_PAYLOAD_V1_FIELDS, trusted_data)
                else:
                    parts.append(dumps(p))
            parts.append("]")
        elif name == "data" and trusted_data and obj.get("transport") == "direct":
            parts.append('"')
            parts.append(v)  # base64 this codec wrote: nothing to escape, no escaped copy
            parts.append('"')
        else:
            parts.append(dumps(v))
    known = [f[0] for f in fields]
    for name in obj:  # unknown fields are kept (a relay passes them on)
        if name not in known:
            parts.append(sep + json.dumps(name) + ":" + dumps(obj[name]))
            sep = ","
    parts.append("}")


def envelope_text(envelope, trusted_data=False):
    """The envelope as compact JSON text, fields in schema order, unknown fields after
    them. `trusted_data`: direct `data` is base64 this codec produced, written unescaped."""
    parts = []
    _write_object(parts, envelope, S.MSG_ENVELOPE_V1_FIELDS, trusted_data)
    return "".join(parts)


# --- ids and time ----------------------------------------------------------------------------


def new_uuid():
    """A random (version 4) UUID: os.urandom where the port has it, else the random module
    (which some ports seed identically at every boot: give ids explicitly there)."""
    try:
        import os
        b = bytearray(os.urandom(16))
    except (ImportError, AttributeError, OSError):
        import random
        b = bytearray(random.getrandbits(8) for _ in range(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = binascii.hexlify(b).decode()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def now_timestamp():
    """Now in UTC with milliseconds, `2026-03-13T07:02:50.443Z` (the device clock must be
    set, e.g. by ntptime; pass `timestamp` to smartsend otherwise)."""
    try:
        ns = time.time_ns()
        secs, ms = ns // 1_000_000_000, ns // 1_000_000 % 1000
    except AttributeError:
        secs, ms = int(time.time()), 0
    t = time.gmtime(secs)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (t[0], t[1], t[2], t[3], t[4], t[5], ms)


_SENDER_ID = []


def default_sender_id():
    """This process's sender id: one UUID per boot."""
    if not _SENDER_ID:
        _SENDER_ID.append(new_uuid())
    return _SENDER_ID[0]


def _checked_uuid(value, field):
    if value is None:
        return new_uuid()
    if type(value) is not str or not matches(value, S.UUID_STEPS):
        raise NatsBridgeError("INVALID_ENVELOPE", "`%s` must be a UUID" % field)
    return value


# --- smartsend -----------------------------------------------------------------------------


def serialize(data, payload_type):
    """The bytes that travel for `data` as `payload_type` (a memoryview for str data)."""
    if payload_type not in S.PAYLOAD_TYPE:
        raise NatsBridgeError("INVALID_PAYLOAD_TYPE", "unknown payload_type `%s`" % str(payload_type)[:100])
    if payload_type not in SUPPORTED_PAYLOAD_TYPES:
        raise _unsupported(payload_type)
    if payload_type in ("text", "dictionary", "jsontable"):
        if payload_type == "text" and type(data) is not str:
            raise NatsBridgeError("SERIALIZATION_ERROR", "a text payload must be a str")
        if payload_type == "jsontable" and (type(data) is not list or any(type(r) is not dict for r in data)):
            raise NatsBridgeError("SERIALIZATION_ERROR", "a jsontable must be a list of row dicts")
        view = utf8_view(data if payload_type == "text" else dumps(data))
        try:
            check_utf8(view)  # a MicroPython str can hold lone surrogates (e.g. from eval)
        except ValueError:
            raise NatsBridgeError("SERIALIZATION_ERROR", "the %s holds text that is not valid Unicode" % payload_type)
        return view
    if type(data) in (bytes, bytearray, memoryview):
        return data
    raise NatsBridgeError("SERIALIZATION_ERROR", "a %s payload must be bytes-like" % payload_type)


def _file_name(dataname, payload_type):
    safe = "".join(c if c.isalpha() or c.isdigit() or c in "._-" else "_" for c in dataname[:100]) or "payload"
    return safe + "." + {"text": "txt", "dictionary": "json", "jsontable": "json"}.get(payload_type, "bin")


def _header_len(headers):
    n = len("NATS/1.0\r\n\r\n")
    for k, v in headers.items():
        n += len(utf8_view(k)) + 2 + len(utf8_view(v)) + 2
    return n


def smartsend(subject, payloads, connection=None, upload=None, size_threshold=DEFAULT_SIZE_THRESHOLD,
              correlation_id=None, msg_id=None, msg_purpose="chat", sender_name="natsbridge-micropython",
              sender_id=None, receiver_name="", receiver_id="", reply_to="", reply_to_msg_id="",
              broker_url=None, metadata=None, headers=None, max_payload=None, timestamp=None):
    """Packs `payloads` ((dataname, data, payload_type) triples) into a msg_envelope_v1.
    Returns (envelope, text); publishes `text` on `subject` when `connection` is given
    (anything with publish(subject, body, headers=...), e.g. nats.Client), with the
    Nats-Msg-Id and Correlation-Id headers.

    `upload(file_name, data, correlation_id)` -> URL stores a payload of `size_threshold`
    bytes or more (e.g. http.plik_oneshot_upload). If the direct payloads would still not fit
    `max_payload` (default: the connection's, else 1 MiB; base64 grows data by 4/3 and the
    headers count too), the largest move to link until the message fits: PAYLOAD_TOO_LARGE
    when there is nothing left to move or no `upload`. Raises NatsBridgeError carrying the
    correlation id."""
    cid = _checked_uuid(correlation_id, "correlation_id")
    try:
        if type(subject) is not str or not subject:
            raise NatsBridgeError("INVALID_ENVELOPE", "the subject must be a non-empty str")
        prepared = []  # [dataname, payload_type, serialized bytes, goes as a link]
        for item in payloads:
            if type(item) not in (tuple, list) or len(item) != 3 or type(item[0]) is not str:
                raise NatsBridgeError("SERIALIZATION_ERROR", "each payload must be a (dataname: str, data, payload_type) triple")
            raw = serialize(item[1], item[2])
            prepared.append([item[0], item[2], raw, len(raw) >= size_threshold])
        mid = _checked_uuid(msg_id, "msg_id")
        envelope = {
            "correlation_id": cid,
            "msg_id": mid,
            "timestamp": timestamp or now_timestamp(),
            "send_to": subject,
            "msg_purpose": msg_purpose,
            "sender_name": sender_name,
            "sender_id": default_sender_id() if sender_id is None else sender_id,
            "receiver_name": receiver_name,
            "receiver_id": receiver_id,
            "reply_to": reply_to,
            "reply_to_msg_id": reply_to_msg_id,
            "metadata": dict(metadata or {}),
            "payloads": [_wire_payload(p, sha256_hex(p[2])) for p in prepared],
        }
        if broker_url is not None:
            envelope["broker_url"] = broker_url
        problems = envelope_problems(envelope, strict=True)  # a writer writes valid v1 only
        if problems:
            raise NatsBridgeError("INVALID_ENVELOPE", "; ".join(problems[:3]))
        wire_headers = {HEADER_MSG_ID: mid, HEADER_CORRELATION_ID: cid}
        wire_headers.update(headers or {})
        if max_payload is None:
            max_payload = getattr(connection, "max_payload", None) or DEFAULT_MAX_PAYLOAD
        _fit(envelope, prepared, _header_len(wire_headers), max_payload, upload is not None)
        for p, w in zip(prepared, envelope["payloads"]):
            if not p[3]:
                w["data"] = b64encode(p[2])
            elif upload is None:
                raise NatsBridgeError("UPLOAD_FAILED", "`%s` (%d bytes) must travel as a link: give `upload`" % (p[0], len(p[2])))
            else:
                try:
                    w["data"] = upload(_file_name(p[0], p[1]), p[2], cid)
                except NatsBridgeError:
                    raise
                except Exception as e:
                    raise NatsBridgeError("UPLOAD_FAILED", "uploading `%s`: %r" % (p[0], e))
            p[2] = None  # the serialized bytes are no longer needed here
        text = envelope_text(envelope, trusted_data=True)
        if connection is not None:
            try:
                connection.publish(subject, text, headers=wire_headers)
            except NatsBridgeError:
                raise
            except Exception as e:
                raise NatsBridgeError("PUBLISH_FAILED", "publishing on %s: %r" % (subject, e))
        return envelope, text
    except NatsBridgeError as e:
        e.correlation_id = cid
        raise
    except MemoryError:
        raise NatsBridgeError("PAYLOAD_TOO_LARGE", "out of memory while building the envelope", cid)


def _wire_payload(p, sha):
    return {
        "id": new_uuid(),
        "dataname": p[0],
        "payload_type": p[1],
        "transport": "link" if p[3] else "direct",
        "encoding": "none" if p[3] else "base64",
        "size": len(p[2]),
        "data": "",
        "metadata": {"sha256": sha},
    }


def _fit(envelope, prepared, header_bytes, max_payload, can_link):
    """Moves the largest direct payloads to link until the message fits max_payload: the
    envelope's JSON (every `data` still ""), each direct payload's base64, LINK_URL_ALLOWANCE
    per link, and the headers."""
    wire = envelope["payloads"]
    while True:
        total = header_bytes + len(utf8_view(envelope_text(envelope)))
        for p in prepared:
            total += LINK_URL_ALLOWANCE if p[3] else encoded_len(len(p[2]))
        if total <= max_payload:
            return
        direct = [k for k, p in enumerate(prepared) if not p[3]]
        if not direct or not can_link:
            raise NatsBridgeError("PAYLOAD_TOO_LARGE", "the message would be %d bytes, over max_payload %d" % (total, max_payload))
        k = max(direct, key=lambda k: len(prepared[k][2]))
        prepared[k][3] = True
        wire[k]["transport"], wire[k]["encoding"] = "link", "none"


# --- smartreceive ---------------------------------------------------------------------------


class ReceivedPayload:
    """One decoded payload: (dataname, data, payload_type), how it travelled, and the length
    and SHA-256 (hex) of its serialized bytes."""

    def __init__(self, dataname, data, payload_type, transport, size, sha256):
        self.dataname = dataname
        self.data = data
        self.payload_type = payload_type
        self.transport = transport
        self.size = size
        self.sha256 = sha256

    def as_tuple(self):
        return (self.dataname, self.data, self.payload_type)


class Received:
    """A received envelope (the parsed dict) and its decoded payloads, in envelope order."""

    def __init__(self, envelope, payloads):
        self.envelope = envelope
        self.payloads = payloads

    @property
    def correlation_id(self):
        return self.envelope["correlation_id"]

    def tuples(self):
        return [p.as_tuple() for p in self.payloads]


def host_of(url):
    """`host:port` (lowercase, port defaulted from the scheme) of an http(s) URL, else None."""
    if type(url) is not str:
        return None
    if url.startswith("http://"):
        rest, port = url[7:], 80
    elif url.startswith("https://"):
        rest, port = url[8:], 443
    else:
        return None
    for stop in "/?#":
        k = rest.find(stop)
        if k >= 0:
            rest = rest[:k]
    rest = rest[rest.rfind("@") + 1:]  # user info is not the host
    if rest.startswith("["):
        k = rest.find("]")
        if k < 0:
            return None
        host, tail = rest[:k + 1], rest[k + 1:]
    else:
        k = rest.rfind(":")
        host, tail = (rest, "") if k < 0 else (rest[:k], rest[k:])
    if tail:
        if tail[0] != ":" or not tail[1:].isdigit():
            return None
        port = int(tail[1:])
    if not host or not 0 < port < 65536:
        return None
    return "%s:%d" % (host.lower(), port)


def host_allowed(url, allowed_hosts):
    """Whether a link may be downloaded: its `host:port` or its bare host is in
    `allowed_hosts` (URLs or host[:port] entries), or "*" is."""
    hp = host_of(url)
    if hp is None:
        return False
    host = hp[:hp.rfind(":")]
    for a in allowed_hosts:
        a = host_of(a) or a.lower()
        if a == "*" or a == hp or a == host:
            return True
    return False


def decode_bytes(raw, payload_type):
    """The value serialized bytes stand for: str (text), a JSON value (dictionary), a list
    of row dicts (jsontable), the bytes themselves (image/audio/video/binary)."""
    if payload_type in BINARY_TYPES:
        return raw
    if payload_type not in SUPPORTED_PAYLOAD_TYPES:
        raise _unsupported(payload_type)
    try:
        if payload_type == "text":
            return utf8_text(raw)
        check_utf8(raw)  # strict UTF-8 first: json would pass what UTF-8 forbids
        value = loads(raw)
    except ValueError as e:
        raise NatsBridgeError("DESERIALIZATION_ERROR", "payload is not %s: %s" % (
            "UTF-8 text" if payload_type == "text" else "JSON", e))
    if payload_type == "jsontable" and (type(value) is not list or any(type(r) is not dict for r in value)):
        raise NatsBridgeError("DESERIALIZATION_ERROR", "a jsontable must be a JSON array of row objects")
    return value


def _payload(p, allowed_hosts, download, max_size, verify_sha256, keep_data, cid):
    kind = p["payload_type"]
    if kind not in S.PAYLOAD_TYPE:
        raise NatsBridgeError("INVALID_PAYLOAD_TYPE", "unknown payload_type `%s`" % kind[:100])
    size = int(p["size"])  # the reader check made sure it is integral (11.0 means 11)
    if size > max_size:
        raise NatsBridgeError("PAYLOAD_TOO_LARGE", "declared size %d exceeds the limit %d" % (size, max_size))
    transport = p["transport"]
    data = p["data"]
    if transport == "direct":
        if len(data) != encoded_len(size):
            raise NatsBridgeError("INTEGRITY_MISMATCH", "`size` is %d but `data` holds %d base64 characters" % (size, len(data)))
        raw = b64decode(data)
        if len(raw) != size:
            raise NatsBridgeError("INTEGRITY_MISMATCH", "`size` is %d but `data` decodes to %d bytes" % (size, len(raw)))
        if not keep_data:
            p["data"] = None  # the text is decoded: let the GC have it
    elif transport == "link":
        if not host_allowed(data, allowed_hosts):
            raise NatsBridgeError("URL_NOT_ALLOWED", "links to %s are not allowed" % (host_of(data) or data[:100]))
        if download is None:
            raise NatsBridgeError("DOWNLOAD_FAILED", "a link payload and no `download` function")
        try:
            raw = download(data, size, cid)
        except NatsBridgeError:
            raise
        except MemoryError:
            raise
        except Exception as e:
            raise NatsBridgeError("DOWNLOAD_FAILED", "downloading %s: %r" % (host_of(data), e))
        if len(raw) != size:
            raise NatsBridgeError("INTEGRITY_MISMATCH", "the link served %d bytes, `size` is %d" % (len(raw), size))
    else:
        raise NatsBridgeError("INVALID_TRANSPORT", "unknown transport `%s`" % transport[:100])
    sha = sha256_hex(raw)
    declared = (p.get("metadata") or {}).get("sha256")
    if verify_sha256 and type(declared) is str and declared.lower() != sha:
        raise NatsBridgeError("INTEGRITY_MISMATCH", "sha256 of the bytes is %s, the payload declares %s" % (sha, declared[:100]))
    return ReceivedPayload(p["dataname"], decode_bytes(raw, kind), kind, transport, size, sha)


def smartreceive(body, allowed_hosts=(), download=None, max_size=MAX_SIZE, max_envelope_bytes=MAX_ENVELOPE_BYTES,
                 max_payloads=MAX_PAYLOADS, verify_sha256=True, keep_data=False):
    """Decodes a received msg_envelope_v1 (`body`: the message bytes, or str) into a
    Received. Links are fetched only from `allowed_hosts` through
    `download(url, size, correlation_id)` -> bytes (e.g. http.download). Raises
    NatsBridgeError with the envelope's correlation id when it has one."""
    cid = None
    try:
        if len(body) > max_envelope_bytes:
            raise NatsBridgeError("PAYLOAD_TOO_LARGE", "envelope of %d bytes exceeds the limit %d" % (len(body), max_envelope_bytes))
        try:
            if type(body) is not str:
                check_utf8(body)
            value = loads(body)
        except ValueError as e:
            raise NatsBridgeError("INVALID_ENVELOPE", "not JSON: %s" % e)
        if type(value) is dict and type(value.get("correlation_id")) is str:
            cid = value["correlation_id"][:100]
        if type(value) is dict and type(value.get("payloads")) is list and len(value["payloads"]) > max_payloads:
            raise NatsBridgeError("PAYLOAD_TOO_LARGE", "more than %d payloads" % max_payloads)
        problems = envelope_problems(value, strict=False)
        if problems:
            raise NatsBridgeError("INVALID_ENVELOPE", "not a valid msg_envelope_v1: " + "; ".join(problems[:3]))
        out = []
        for p in value["payloads"]:
            try:
                out.append(_payload(p, allowed_hosts, download, max_size, verify_sha256, keep_data, cid))
            except MemoryError:
                raise NatsBridgeError("PAYLOAD_TOO_LARGE", "payload `%s` (%d bytes) does not fit in memory" % (p["dataname"][:100], int(p["size"])))
        return Received(value, out)
    except NatsBridgeError as e:
        e.correlation_id = cid
        raise
    except MemoryError:
        raise NatsBridgeError("PAYLOAD_TOO_LARGE", "the envelope does not fit in memory", cid)
