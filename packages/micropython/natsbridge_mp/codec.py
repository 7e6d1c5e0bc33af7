"""msg_envelope_v1 for small devices: the envelope `smartsend` publishes and the decoding
`smartreceive` does, in plain MicroPython (json, binascii, hashlib; no typing, no
dataclasses). No I/O here: links go through caller-supplied `upload` and `download`
functions (see http.py), publishing through a connection (see nats.py). Every constant and
error code of the runtime profile comes from the generated schema_v1 (`S.NAME`).

Sending: each payload is serialized by its payload type's kind (S.PAYLOAD_SERIALIZATION: text
-> UTF-8, dictionary -> JSON, jsontable -> a JSON array of row objects, image/audio/video/
binary -> the bytes as given). Below `size_threshold` bytes it travels inline (`direct`,
`encoding` "base64"), otherwise `upload` stores it and only its URL travels (`link`,
`encoding` "none"). `metadata.sha256` is the hex SHA-256 of the serialized bytes. A payload
type of another kind (`arrowtable`: there is no Arrow here) is refused with a typed error,
as is one v1 does not know. The envelope is checked as a writer before anything leaves.

Receiving follows the reader rules of schema/README.md (8-13) and "Decoding rules every lane
follows" in conformance/README.md, in order: not strict JSON (UTF-8, no BOM, no duplicate
keys, finite numbers, no lone surrogate, depth <= JSON_MAX_DEPTH) or not a v1 envelope for a
reader (`size` written as an integer) -> INVALID_ENVELOPE; then per payload, the first
failure fails the envelope: unknown payload_type -> INVALID_PAYLOAD_TYPE; size above
MAX_PAYLOAD_SIZE -> PAYLOAD_TOO_LARGE; direct: `data` not exactly as long as base64 of `size`
bytes -> INTEGRITY_MISMATCH, not canonical padded standard base64 -> DESERIALIZATION_ERROR;
link: host not allowed -> URL_NOT_ALLOWED, download failure -> DOWNLOAD_FAILED, another
length than `size` -> INTEGRITY_MISMATCH; unknown transport -> INVALID_TRANSPORT; a differing
`metadata.sha256` -> INTEGRITY_MISMATCH; bytes that are not what payload_type says (strict
UTF-8, strict JSON, rows) -> DESERIALIZATION_ERROR. An arrowtable that gets this far raises
INVALID_PAYLOAD_TYPE with `unsupported` set: the message is fine, this codec is not.

MicroPython's own json and UTF-8 decoders are lenient (`[1,]`, `01`, overlong UTF-8 and
surrogates pass; escaped surrogate pairs decode wrongly; a repeated key keeps the last), so
JSON text is checked against RFC 8259 and UTF-8 strictly before they run, and duplicate keys
are found by counting members.

Memory: base64 is decoded once into the bytes that are then hashed, checked and handed
over; its canonical form is checked by re-encoding small slices, never the whole; a str is
hashed and base64-encoded through a memoryview of its UTF-8 bytes (no encoded copy); JSON
payloads are parsed straight from the decoded bytes; the strict JSON check keeps a stack of
open brackets and two counters, the duplicate-key count one iterator per nesting level; the
base64 text of a decoded payload is released from the parsed envelope unless `keep_data`
is set.
"""

import binascii
import hashlib
import json
import time

from . import schema_v1 as S

# How the bytes of each payload type are made and read: the profile's S.PAYLOAD_SERIALIZATION
# ("utf8" text, "json" any JSON value, "json_rows" a JSON array of row objects, "bytes" the
# bytes as given, "arrow_ipc" an Arrow IPC stream, not implemented here), looked up on every
# call. A payload type v1 knows that is missing there, or of a kind this codec does not
# implement, is refused both ways (INVALID_PAYLOAD_TYPE, `unsupported`): it is never sent as
# raw bytes nor read as JSON.
IMPLEMENTED_KINDS = ("utf8", "json", "json_rows", "bytes")
JSON_KINDS = ("json", "json_rows")


class NatsBridgeError(Exception):
    """A typed failure: `code` (a schema ErrorCode), `message`, `correlation_id` (or None),
    `dataname` (the payload that failed an envelope, or None). `unsupported` is True when the
    input is valid v1 that this codec does not implement (arrowtable)."""

    def __init__(self, code, message, correlation_id=None, unsupported=False, dataname=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        self.unsupported = unsupported
        self.dataname = dataname

    def __str__(self):
        return "%s: %s" % (self.code, self.message)


def _unsupported(payload_type, kind):
    return NatsBridgeError(
        S.ERROR_UNKNOWN_PAYLOAD_TYPE,
        "payload_type `%s` is valid v1 but not supported by the MicroPython codec (%s)" % (
            payload_type, "no Arrow IPC here" if kind == "arrow_ipc" else "its bytes are not a kind this codec knows"),
        unsupported=True,
    )


def payload_kind(payload_type):
    """How the bytes of `payload_type` are made and read: one of IMPLEMENTED_KINDS. A type
    v1 does not know is INVALID_PAYLOAD_TYPE; one it knows that this codec does not implement
    (arrowtable, or a type newer than this codec) is INVALID_PAYLOAD_TYPE with `unsupported`
    set. Looked up on every call, in schema_v1's PAYLOAD_TYPE and PAYLOAD_SERIALIZATION:
    nothing guesses."""
    if type(payload_type) is not str or payload_type not in S.PAYLOAD_TYPE:
        raise NatsBridgeError(S.ERROR_UNKNOWN_PAYLOAD_TYPE, "unknown payload_type %s" % _shown(payload_type))
    kind = S.PAYLOAD_SERIALIZATION.get(payload_type)
    if kind not in IMPLEMENTED_KINDS:
        raise _unsupported(payload_type, kind)
    return kind


def supported_payload_types():
    """The payload types of schema_v1 this codec sends and decodes, in schema order."""
    return [t for t in S.PAYLOAD_TYPE if S.PAYLOAD_SERIALIZATION.get(t) in IMPLEMENTED_KINDS]


def _shown(value):
    """A caller's or a sender's value in an error message: JSON, ASCII only, at most 100
    characters."""
    try:
        text = json.dumps(value) if type(value) in (str, int, float, bool) or value is None else "a " + type(value).__name__
    except Exception:
        text = "a value"
    if len(text) > 100:
        text = text[:97] + "..."
    return "".join(_ascii(c) for c in text)


def _ascii(c):
    o = ord(c)
    if 0x20 <= o < 0x7F:
        return c
    if o < 0x10000:
        return "\\u%04x" % o
    o -= 0x10000
    return "\\u%04x\\u%04x" % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF))


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


_B64_SLICE = 48 if hasattr(binascii, "__file__") else 3 * 1024
"""Bytes given to binascii.b2a_base64 at a time (a multiple of 3), when encoding and when
checking that base64 text is canonical. 48 where binascii is micropython-lib's pure-Python
module (the WebAssembly port): its b2a_base64 never trims the integer it shifts bits through,
so one call on n bytes of non-zero data costs O(n**2) time and memory; 3 KiB where binascii
is C (device ports, the unix port)."""


def b64encode(data):
    """Padded standard base64 of a bytes-like object, as str; encoded _B64_SLICE bytes at a
    time into one buffer."""
    mv = memoryview(data)
    n = len(mv)
    out = bytearray(encoded_len(n))
    pos = 0
    for off in range(0, n, _B64_SLICE):
        chunk = binascii.b2a_base64(mv[off:off + _B64_SLICE], newline=False)
        out[pos:pos + len(chunk)] = chunk
        pos += len(chunk)
    return str(out, "ascii")


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
        raise NatsBridgeError(S.ERROR_BAD_BYTES, "`data` is not valid base64")
    size = len(raw)
    if encoded_len(size) != len(view) or len(view) != len(text):
        raise NatsBridgeError(S.ERROR_BAD_BYTES, "`data` is not canonical base64")
    mv = memoryview(raw)
    pos = 0
    for off in range(0, size, _B64_SLICE):
        chunk = binascii.b2a_base64(mv[off:off + _B64_SLICE], newline=False)
        if chunk != bytes(view[pos:pos + len(chunk)]):
            raise NatsBridgeError(S.ERROR_BAD_BYTES, "`data` is not canonical padded standard base64")
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


def _string(b, mv, i, n, fixes):
    """Scans the string starting at the quote b[i]; returns the index after its closing
    quote. Runs of plain characters are skipped with find() and checked with min() (C loops);
    an escaped surrogate pair is recorded in `fixes` as (start, end, UTF-8 bytes); a lone
    surrogate escape is not a Unicode scalar value and is an error (rule 8). `\\u0000` is a
    character like any other."""
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
            fixes.append((e, i + 6, utf8))
            i += 6


def _digits(b, i, n):
    start = i
    while i < n and 0x30 <= b[i] <= 0x39:
        i += 1
    if i == start:
        raise ValueError("digit expected")
    return i


def _number(b, i, n, fixes):
    """-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, whose value fits a double (as
    serde_json: 1e400 is refused, not turned into an infinity no JSON can carry on). The
    integer literal `-0` is recorded in `fixes`, to be read as the float -0.0 (as serde_json
    and JavaScript do): MicroPython's json would make it the integer 0, and an integer field
    written `-0` would pass for `0`."""
    start = i
    if b[i] == 0x2D:
        i += 1
    if i < n and b[i] == 0x30:
        i += 1
    else:
        i = _digits(b, i, n)
    big = i - start > 300
    integer = True
    if i < n and b[i] == 0x2E:
        i = _digits(b, i + 1, n)
        integer = False
    if i < n and b[i] in b"eE":
        i += 1
        if i < n and b[i] in b"+-":
            i += 1
        i = _digits(b, i, n)
        big = True
        integer = False
    if integer and i - start == 2 and b[start] == 0x2D and b[start + 1] == 0x30:  # -0
        fixes.append((start, i, b"-0.0"))
    if big:
        x = float(bytes(b[start:i]))
        if x - x != 0:
            raise ValueError("number out of range")
    return i


def _key(b, mv, i, n, fixes):
    """A member's key and colon at `i`; returns where its value starts."""
    if i >= n or b[i] != 0x22:
        raise ValueError("string key expected")
    i = _skip_ws(b, _string(b, mv, i, n, fixes), n)
    if i >= n or b[i] != 0x3A:
        raise ValueError("':' expected")
    return _skip_ws(b, i + 1, n)


def check_json(b, max_depth=S.JSON_MAX_DEPTH):
    """Checks that bytes `b` hold exactly one JSON value (RFC 8259: no BOM, NaN or
    Infinity, finite numbers, no lone surrogate escape, nesting up to `max_depth` with the
    outermost value at depth 1); ValueError otherwise. Returns (fixes, members): the spans to
    rewrite before MicroPython's json reads the text, as (start, end, bytes) in text order
    (escaped surrogate pairs as UTF-8, `-0` as `-0.0`), and the number of object members
    written, which `loads` compares with what the parser kept to find duplicate keys."""
    n = len(b)
    mv = memoryview(b)
    fixes = []
    members = 0
    stack = []  # the closing brackets of the open containers
    i = _skip_ws(b, 0, n)
    while True:
        # A value starts at i.
        if i >= n:
            raise ValueError("value expected")
        c = b[i]
        if c == 0x7B or c == 0x5B:  # { [
            if len(stack) >= max_depth:
                raise ValueError("nested deeper than %d" % max_depth)
            close = 0x7D if c == 0x7B else 0x5D
            i = _skip_ws(b, i + 1, n)
            if i < n and b[i] == close:
                i += 1
            else:
                stack.append(close)
                if close == 0x7D:
                    i = _key(b, mv, i, n, fixes)
                    members += 1
                continue
        elif c == 0x22:
            i = _string(b, mv, i, n, fixes)
        elif c == 0x2D or 0x30 <= c <= 0x39:
            i = _number(b, i, n, fixes)
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
                return fixes, members
            if i >= n:
                raise ValueError("unterminated container")
            if b[i] == 0x2C:
                i = _skip_ws(b, i + 1, n)
                if stack[-1] == 0x7D:
                    i = _key(b, mv, i, n, fixes)
                    members += 1
                break
            if b[i] != stack[-1]:
                raise ValueError("',' or closing bracket expected")
            stack.pop()
            i += 1


def _members_kept(value):
    """The members of every object in a parsed JSON value, counted without recursion (the
    stack holds one iterator per open container, so at most JSON_MAX_DEPTH)."""
    count = 0
    stack = [iter((value,))]
    while stack:
        for v in stack[-1]:
            t = type(v)
            if t is dict:
                count += len(v)
                stack.append(iter(v.values()))
                break
            if t is list:
                stack.append(iter(v))
                break
        else:
            stack.pop()
    return count


def loads(data, max_depth=S.JSON_MAX_DEPTH):
    """Strict JSON (schema/README.md, reader rule 8): `data` (bytes-like or str) checked by
    check_json, then parsed by MicroPython's json, after the rare rewrites check_json asks
    for (MicroPython would decode each half of an escaped surrogate pair on its own, and read
    `-0` as the integer 0). Duplicate member names, at any depth and compared after
    unescaping, are found by counting: the parser keeps one member per name, so fewer members
    than were written means a name came twice. ValueError on anything that is not strict
    JSON."""
    if type(data) is str:
        data = data.encode("utf-8")
    elif type(data) is not bytes and type(data) is not bytearray:
        data = bytes(data)
    fixes, members = check_json(data, max_depth)
    if fixes:  # rare: rebuilt once, with each span replaced
        parts = []
        pos = 0
        for start, end, replacement in fixes:
            parts.append(data[pos:start])
            parts.append(replacement)
            pos = end
        parts.append(data[pos:])
        data = b"".join(parts)
    value = json.loads(data)
    if members and _members_kept(value) != members:
        raise ValueError("duplicate member name in an object")
    return value


def check_jsonable(value, depth=1):
    """SERIALIZATION_ERROR unless `value` is plain JSON: dicts with str keys, lists, str,
    int, finite float, bool, None (MicroPython's json.dumps would write bytes as a string,
    int keys as strings and inf as `inf`), nested no deeper than readers accept
    (JSON_MAX_DEPTH; `depth` is where `value` sits, the outermost value being 1)."""
    t = type(value)
    if t is dict or t is list or t is tuple:
        if depth > S.JSON_MAX_DEPTH:
            raise NatsBridgeError(S.ERROR_WRITER_RULE, "JSON nested deeper than %d" % S.JSON_MAX_DEPTH)
        if t is dict:
            for k, v in value.items():
                if type(k) is not str:
                    raise NatsBridgeError(S.ERROR_WRITER_RULE, "JSON object keys must be str")
                check_jsonable(v, depth + 1)
        else:
            for v in value:
                check_jsonable(v, depth + 1)
    elif t is float:
        if value != value or value - value != 0:
            raise NatsBridgeError(S.ERROR_WRITER_RULE, "NaN and infinities are not JSON")
    elif not (t is str or t is int or t is bool or value is None):
        raise NatsBridgeError(S.ERROR_WRITER_RULE, "%s is not JSON" % t.__name__)


def dumps(value, depth=1):
    """Compact JSON text (UTF-8 kept as is) of a value check_jsonable accepts; `depth` is
    where the value will sit in the document it is written into."""
    check_jsonable(value, depth)
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
    """Whether `v` is a value of the schema_v1 field kind `kind`. `strict`: the v1 schema's
    verdict for a writer (enum values closed; an integer is what JSON Schema counts as one,
    11.0 included, as every lane's schema validator says). Otherwise the reader's rules
    (schema/README.md): enum values it does not know are accepted (rule 3), and an integer
    must have been written as one (rule 9: `5.0`, `5e0` and `-0`, which loads reads as
    floats, are refused)."""
    if kind == "string":
        return type(v) is str
    if kind == "nonneg_integer":
        return (is_integer(v) if strict else type(v) is int) and v >= 0
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
    (unknown enum values accepted, integers written as integers: see kind_ok)."""
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


def _write_object(parts, obj, fields, trusted_data, depth):
    """Writes `obj` (at nesting `depth`) into `parts`, its known `fields` in schema order."""
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
                    _write_object(parts, p, S.MSG_PAYLOAD_V1_FIELDS, trusted_data, depth + 2)
                else:
                    parts.append(dumps(p, depth + 2))
            parts.append("]")
        elif name == "data" and trusted_data and obj.get("transport") == "direct":
            parts.append('"')
            parts.append(v)  # base64 this codec wrote: nothing to escape, no escaped copy
            parts.append('"')
        else:
            parts.append(dumps(v, depth + 1))
    known = [f[0] for f in fields]
    for name in obj:  # unknown fields are kept (a relay passes them on)
        if name not in known:
            parts.append(sep + json.dumps(name) + ":" + dumps(obj[name], depth + 1))
            sep = ","
    parts.append("}")


def envelope_text(envelope, trusted_data=False):
    """The envelope as compact JSON text, fields in schema order, unknown fields after
    them. `trusted_data`: direct `data` is base64 this codec produced, written unescaped."""
    parts = []
    _write_object(parts, envelope, S.MSG_ENVELOPE_V1_FIELDS, trusted_data, 1)
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
        secs, ms = ns // 1_000_000_000, ns // 1000 // 1000 % 1000
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
        raise NatsBridgeError(S.ERROR_WRITER_RULE, "`%s` must be a UUID, not %s" % (field, _shown(value)))
    return value


# --- options ---------------------------------------------------------------------------------


def _distance(a, b):
    """Levenshtein distance of two short str."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        prev, row[0] = row[0], i + 1
        for j, cb in enumerate(b):
            prev, row[j + 1] = row[j + 1], min(row[j + 1] + 1, row[j] + 1, prev + (ca != cb))
    return row[-1]


def bad_option(name, known):
    """The ERROR_BAD_OPTION error for an option `name` that a call does not know: named,
    with the closest of `known` when it looks like a misspelling of it."""
    plain = name.replace("_", "").lower()
    best = min(known, key=lambda k: _distance(plain, k.replace("_", "").lower()))
    hint = ""
    if _distance(plain, best.replace("_", "").lower()) <= max(2, len(plain) // 3):
        hint = " (did you mean `%s`?)" % best
    return NatsBridgeError(S.ERROR_BAD_OPTION, "unknown option `%s`%s" % (_shown(name)[1:-1], hint))


def _check_options(unknown, known, typed):
    """ERROR_BAD_OPTION for the first unknown option, or the first option of `typed`
    ((name, value, check, what) tuples) whose value fails its check."""
    for name in unknown:
        raise bad_option(name, known)
    for name, value, check, what in typed:
        if not check(value):
            raise NatsBridgeError(S.ERROR_BAD_OPTION, "option `%s` must be %s, not %s" % (name, what, _shown(value)))


def _is_count(v):
    return type(v) is int and v >= 0


def _opt(check):
    return lambda v: v is None or check(v)


def _is_str_dict(v):
    return type(v) is dict and all(type(k) is str and type(x) is str for k, x in v.items())


SEND_OPTIONS = ("connection", "upload", "size_threshold", "correlation_id", "msg_id", "msg_purpose", "sender_name",
                "sender_id", "receiver_name", "receiver_id", "reply_to", "reply_to_msg_id", "broker_url", "metadata",
                "headers", "max_payload", "timestamp", "flush")
RECEIVE_OPTIONS = ("allowed_hosts", "download", "max_size", "max_envelope_bytes", "max_payloads", "verify_sha256",
                   "keep_data")


# --- smartsend -----------------------------------------------------------------------------


def serialize(data, payload_type):
    """The bytes that travel for `data` as `payload_type` (a memoryview for str data)."""
    kind = payload_kind(payload_type)
    if kind == "bytes":
        if type(data) in (bytes, bytearray, memoryview):
            return data
        raise NatsBridgeError(S.ERROR_WRITER_RULE, "a %s payload must be bytes-like" % payload_type)
    if kind == "utf8" and type(data) is not str:
        raise NatsBridgeError(S.ERROR_WRITER_RULE, "a %s payload must be a str" % payload_type)
    if kind == "json_rows" and (type(data) is not list or any(type(r) is not dict for r in data)):
        raise NatsBridgeError(S.ERROR_WRITER_RULE, "a %s must be a list of row dicts" % payload_type)
    view = utf8_view(data if kind == "utf8" else dumps(data))
    try:
        check_utf8(view)  # a MicroPython str can hold lone surrogates (e.g. from eval)
    except ValueError:
        raise NatsBridgeError(S.ERROR_WRITER_RULE, "the %s holds text that is not valid Unicode" % payload_type)
    return view


_EXTENSION = {"utf8": "txt", "json": "json", "json_rows": "json"}


def _file_name(dataname, payload_type):
    safe = "".join(c if c.isalpha() or c.isdigit() or c in "._-" else "_" for c in dataname[:100]) or "payload"
    return safe + "." + _EXTENSION.get(S.PAYLOAD_SERIALIZATION.get(payload_type), "bin")


def _header_len(headers):
    n = len("NATS/1.0\r\n\r\n")
    for k, v in headers.items():
        n += len(utf8_view(k)) + 2 + len(utf8_view(v)) + 2
    return n


def smartsend(subject, payloads, connection=None, upload=None, size_threshold=S.DEVICE_SIZE_THRESHOLD,
              correlation_id=None, msg_id=None, msg_purpose=S.DEFAULT_MSG_PURPOSE, sender_name="natsbridge-micropython",
              sender_id=None, receiver_name="", receiver_id="", reply_to="", reply_to_msg_id="",
              broker_url=None, metadata=None, headers=None, max_payload=None, timestamp=None,
              flush=S.DEFAULT_FLUSH, **unknown):
    """Packs `payloads` ((dataname, data, payload_type) triples) into a msg_envelope_v1.
    Returns (envelope, text); publishes `text` on `subject` when `connection` is given
    (anything with publish(subject, body, headers=...), e.g. nats.Client), with the
    Nats-Msg-Id and Correlation-Id headers; `flush=True` then waits for the server to have
    read it (connection.flush()).

    `upload(file_name, data, correlation_id)` -> URL stores a payload of `size_threshold`
    bytes or more (default: the profile's DEVICE_SIZE_THRESHOLD; e.g.
    http.plik_oneshot_upload). If the direct payloads would still not fit `max_payload`
    (default: the connection's, else the profile's DEFAULT_MAX_PAYLOAD; base64 grows data by
    4/3 and the headers count too), the largest move to link until the message fits:
    PAYLOAD_TOO_LARGE when there is nothing left to move or no `upload`.

    Writers are strict (schema/README.md rule 12): the envelope is checked against the v1
    schema as a writer before anything is uploaded or published, SERIALIZATION_ERROR naming
    the field; an unknown option or one of the wrong type is SERIALIZATION_ERROR naming it.
    Raises NatsBridgeError carrying the correlation id."""
    _check_options(unknown, SEND_OPTIONS, (
        ("connection", connection, _opt(lambda v: hasattr(v, "publish")), "None or an object with publish()"),
        ("upload", upload, _opt(callable), "None or a function"),
        ("size_threshold", size_threshold, _is_count, "a non-negative int"),
        ("max_payload", max_payload, _opt(_is_count), "None or a non-negative int"),
        ("metadata", metadata, _opt(lambda v: type(v) is dict), "None or a dict"),
        ("headers", headers, _opt(_is_str_dict), "None or a dict of str to str"),
        ("flush", flush, lambda v: type(v) is bool, "a bool"),
    ))
    cid = _checked_uuid(correlation_id, "correlation_id")
    try:
        prepared = []  # [dataname, payload_type, serialized bytes, goes as a link]
        for item in payloads:
            if type(item) not in (tuple, list) or len(item) != 3 or type(item[0]) is not str:
                raise NatsBridgeError(S.ERROR_WRITER_RULE, "each payload must be a (dataname: str, data, payload_type) triple")
            raw = serialize(item[1], item[2])
            prepared.append([item[0], item[2], raw, len(raw) >= size_threshold])
        mid = _checked_uuid(msg_id, "msg_id")
        envelope = {
            "correlation_id": cid,
            "msg_id": mid,
            "timestamp": now_timestamp() if timestamp is None else timestamp,
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
            raise NatsBridgeError(S.ERROR_WRITER_RULE, "not a valid msg_envelope_v1: " + "; ".join(problems[:3]))
        wire_headers = {S.HEADER_MSG_ID: mid, S.HEADER_CORRELATION_ID: cid}
        wire_headers.update(headers or {})
        if max_payload is None:
            max_payload = getattr(connection, "max_payload", None) or S.DEFAULT_MAX_PAYLOAD
        _fit(envelope, prepared, _header_len(wire_headers), max_payload, upload is not None)
        for p, w in zip(prepared, envelope["payloads"]):
            if not p[3]:
                w["data"] = b64encode(p[2])
            elif upload is None:
                raise NatsBridgeError(S.ERROR_UPLOAD, "`%s` (%d bytes) must travel as a link: give `upload`" % (p[0], len(p[2])))
            else:
                try:
                    w["data"] = upload(_file_name(p[0], p[1]), p[2], cid)
                except NatsBridgeError:
                    raise
                except Exception as e:
                    raise NatsBridgeError(S.ERROR_UPLOAD, "uploading `%s`: %r" % (p[0], e))
            p[2] = None  # the serialized bytes are no longer needed here
        text = envelope_text(envelope, trusted_data=True)
        if connection is not None:
            try:
                connection.publish(subject, text, headers=wire_headers)
                if flush:
                    connection.flush()
            except NatsBridgeError:
                raise
            except Exception as e:
                raise NatsBridgeError("PUBLISH_FAILED", "publishing on %s: %r" % (subject, e))
        return envelope, text
    except NatsBridgeError as e:
        e.correlation_id = cid
        raise
    except MemoryError:
        raise NatsBridgeError(S.ERROR_PAYLOAD_TOO_LARGE, "out of memory while building the envelope", cid)


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
            total += S.LINK_URL_ALLOWANCE if p[3] else encoded_len(len(p[2]))
        if total <= max_payload:
            return
        direct = [k for k, p in enumerate(prepared) if not p[3]]
        if not direct or not can_link:
            raise NatsBridgeError(S.ERROR_TOO_LARGE_TO_SEND, "the message would be %d bytes, over max_payload %d" % (total, max_payload))
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


def allowed_host(value):
    """An allowed host in its one form (schema/README.md rule 15): an http(s) URL or origin,
    normalized to `host:port`, or "*" for every host. Anything else is ERROR_BAD_OPTION."""
    if value == "*":
        return value
    hp = host_of(value)
    if hp is None:
        shown = _shown(value) if type(value) is str else type(value).__name__
        try_instead = "`http://%s`" % value if type(value) is str and value and "://" not in value else \
            "an http:// or https:// URL"
        raise NatsBridgeError(S.ERROR_BAD_OPTION, "allowed host %s is not a URL; write %s, or `*` for every host"
                              % (shown, try_instead))
    return hp


def host_allowed(url, allowed_hosts):
    """Whether a link may be downloaded: its `host:port` is one of `allowed_hosts` (each
    already read by allowed_host), or "*" is."""
    hp = host_of(url)
    if hp is None:
        return False
    for a in allowed_hosts:
        if a == "*" or a == hp:
            return True
    return False


def decode_bytes(raw, payload_type):
    """The value serialized bytes stand for, by payload_kind: str (utf8: text), a JSON value
    (json: dictionary), a list of row dicts (json_rows: jsontable), the bytes themselves
    (bytes: image/audio/video/binary). Payload JSON is read by the strict reader (rule 8),
    its depth counted from its own root; any failure is ERROR_BAD_BYTES."""
    kind = payload_kind(payload_type)
    if kind == "bytes":
        return raw
    try:
        if kind == "utf8":
            return utf8_text(raw)
        check_utf8(raw)  # strict UTF-8 first: json would pass what UTF-8 forbids
        value = loads(raw)
    except ValueError as e:
        raise NatsBridgeError(S.ERROR_BAD_BYTES, "payload is not %s: %s" % ("UTF-8 text" if kind == "utf8" else "strict JSON", e))
    if kind == "json_rows" and (type(value) is not list or any(type(r) is not dict for r in value)):
        raise NatsBridgeError(S.ERROR_BAD_BYTES, "a %s must be a JSON array of row objects" % payload_type)
    return value


def _payload(p, allowed_hosts, download, max_size, verify_sha256, keep_data, cid):
    payload_type = p["payload_type"]
    if payload_type not in S.PAYLOAD_TYPE:
        raise NatsBridgeError(S.ERROR_UNKNOWN_PAYLOAD_TYPE, "unknown payload_type %s" % _shown(payload_type))
    size = p["size"]  # an int: the reader check refuses any other form (rule 9)
    if size > max_size:
        raise NatsBridgeError(S.ERROR_PAYLOAD_TOO_LARGE, "declared size %d exceeds the limit %d" % (size, max_size))
    transport = p["transport"]
    data = p["data"]
    if transport == "direct":
        if len(data) != encoded_len(size):
            raise NatsBridgeError(S.ERROR_INTEGRITY, "`size` is %d but `data` holds %d base64 characters" % (size, len(data)))
        raw = b64decode(data)
        if len(raw) != size:
            raise NatsBridgeError(S.ERROR_INTEGRITY, "`size` is %d but `data` decodes to %d bytes" % (size, len(raw)))
        if not keep_data:
            p["data"] = None  # the text is decoded: let the GC have it
    elif transport == "link":
        if not host_allowed(data, allowed_hosts):
            raise NatsBridgeError(S.ERROR_HOST_NOT_ALLOWED, "links to %s are not allowed" % _shown(host_of(data) or data))
        if download is None:
            raise NatsBridgeError(S.ERROR_DOWNLOAD, "a link payload and no `download` function")
        try:
            raw = download(data, size, cid)
        except NatsBridgeError:
            raise
        except MemoryError:
            raise
        except Exception as e:
            raise NatsBridgeError(S.ERROR_DOWNLOAD, "downloading from %s: %r" % (host_of(data), e))
        if len(raw) != size:
            raise NatsBridgeError(S.ERROR_INTEGRITY, "the link served %d bytes, `size` is %d" % (len(raw), size))
    else:
        raise NatsBridgeError(S.ERROR_UNKNOWN_TRANSPORT, "unknown transport %s" % _shown(transport))
    sha = sha256_hex(raw)
    declared = (p.get("metadata") or {}).get("sha256")
    if verify_sha256 and type(declared) is str and declared.lower() != sha:
        raise NatsBridgeError(S.ERROR_INTEGRITY, "sha256 of the bytes is %s, the payload declares %s" % (sha, _shown(declared)))
    return ReceivedPayload(p["dataname"], decode_bytes(raw, payload_type), payload_type, transport, size, sha)


def smartreceive(body, allowed_hosts=(), download=None, max_size=S.MAX_PAYLOAD_SIZE,
                 max_envelope_bytes=S.MAX_ENVELOPE_BYTES, max_payloads=S.MAX_PAYLOADS, verify_sha256=True,
                 keep_data=False, **unknown):
    """Decodes a received msg_envelope_v1 (`body`: the message bytes, or str) into a
    Received, by the reader rules of schema/README.md and the decoding rules of
    conformance/README.md, in order. Links are fetched only from `allowed_hosts` through
    `download(url, size, correlation_id)` -> bytes (e.g. http.download). The first payload
    that fails fails the envelope (rule 11). Raises NatsBridgeError with the envelope's
    correlation id when it has one, and the failing payload's `dataname`."""
    _check_options(unknown, RECEIVE_OPTIONS, (
        ("allowed_hosts", allowed_hosts, lambda v: type(v) in (tuple, list) and all(type(h) is str for h in v),
         "a tuple or list of str"),
        ("download", download, _opt(callable), "None or a function"),
        ("max_size", max_size, _is_count, "a non-negative int"),
        ("max_envelope_bytes", max_envelope_bytes, _is_count, "a non-negative int"),
        ("max_payloads", max_payloads, _is_count, "a non-negative int"),
        ("verify_sha256", verify_sha256, lambda v: type(v) is bool, "a bool"),
        ("keep_data", keep_data, lambda v: type(v) is bool, "a bool"),
    ))
    allowed_hosts = [allowed_host(h) for h in allowed_hosts]
    cid = None
    dataname = None
    try:
        if len(body) > max_envelope_bytes:
            raise NatsBridgeError(S.ERROR_ENVELOPE_TOO_LARGE, "envelope of %d bytes exceeds the limit %d" % (len(body), max_envelope_bytes))
        try:
            if type(body) is not str:
                check_utf8(body)
            value = loads(body)
        except ValueError as e:
            raise NatsBridgeError(S.ERROR_NOT_JSON, "not strict JSON: %s" % e)
        if type(value) is dict and type(value.get("correlation_id")) is str:
            cid = value["correlation_id"][:100]
        if type(value) is dict and type(value.get("payloads")) is list and len(value["payloads"]) > max_payloads:
            raise NatsBridgeError(S.ERROR_ENVELOPE_TOO_LARGE, "more than %d payloads" % max_payloads)
        problems = envelope_problems(value, strict=False)
        if problems:
            raise NatsBridgeError(S.ERROR_NOT_ENVELOPE, "not a valid msg_envelope_v1: " + "; ".join(problems[:3]))
        out = []
        for p in value["payloads"]:
            dataname = p["dataname"]
            try:
                out.append(_payload(p, allowed_hosts, download, max_size, verify_sha256, keep_data, cid))
            except MemoryError:
                raise NatsBridgeError(S.ERROR_PAYLOAD_TOO_LARGE, "payload %s (%d bytes) does not fit in memory" % (_shown(dataname), p["size"]))
        return Received(value, out)
    except NatsBridgeError as e:
        e.correlation_id = cid
        e.dataname = dataname
        raise
    except MemoryError:
        raise NatsBridgeError(S.ERROR_PAYLOAD_TOO_LARGE, "the envelope does not fit in memory", cid)
