"""A minimal NATS client for MicroPython over the core text protocol: CONNECT, PUB, HPUB,
SUB, UNSUB, MSG, HMSG, PING/PONG, +OK/-ERR, INFO.

Two halves, kept apart:
- pure parts, which run wherever MicroPython runs and are tested under it: the command
  encoders and `Parser`, which turns the bytes a server sent (in reads of any size) into
  frames, keeping an incomplete frame until the rest arrives;
- `Client`, which needs the `socket` module: compiled under MicroPython, not run here: no
  sockets in the WebAssembly port.

With codec.py: smartsend(subject, payloads, connection=client) publishes through
Client.publish; codec.smartreceive(msg.data) decodes what Client.next_msg returns.
"""

from . import schema_v1 as S
from .codec import NatsBridgeError, dumps, loads, utf8_view

MAX_CONTROL_LINE = 4096
CRLF = b"\r\n"
VERSION = "0.1.0"


class ProtocolError(ValueError):
    """The server sent something this client cannot parse."""


class Msg:
    """A delivered message: subject, sid, reply ("" when none), headers (dict, or None for
    MSG), status (HMSG status code such as "503", else ""), data (bytes)."""

    def __init__(self, subject, sid, reply, data, headers=None, status=""):
        self.subject = subject
        self.sid = sid
        self.reply = reply
        self.data = data
        self.headers = headers
        self.status = status


# --- pure: encoding commands ------------------------------------------------------------------


def _token(s, what):
    if type(s) is not str or not s or " " in s or "\t" in s or "\r" in s or "\n" in s:
        raise ValueError("bad %s: %r" % (what, s))
    return s


def connect_command(name="natsbridge-micropython", user=None, password=None, token=None, headers=True):
    """CONNECT with headers and no_responders on, verbose and pedantic off."""
    opts = {"verbose": False, "pedantic": False, "lang": "micropython", "version": VERSION, "protocol": 1,
            "name": name, "headers": headers, "no_responders": headers}
    if user is not None:
        opts["user"], opts["pass"] = user, password or ""
    if token is not None:
        opts["auth_token"] = token
    return ("CONNECT " + dumps(opts) + "\r\n").encode()


def header_block(headers):
    """`NATS/1.0` and one `Name: value` line per header, then a blank line."""
    lines = ["NATS/1.0"]
    for k, v in headers.items():
        if ":" in k or "\r" in k + v or "\n" in k + v:
            raise ValueError("bad header %r" % k)
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def pub_command(subject, size, reply=""):
    """The control line of a PUB of `size` payload bytes."""
    parts = ["PUB", _token(subject, "subject")]
    if reply:
        parts.append(_token(reply, "reply subject"))
    parts.append(str(size))
    return (" ".join(parts) + "\r\n").encode()


def hpub_command(subject, header_len, size, reply=""):
    """The control line of an HPUB: `size` payload bytes after `header_len` header bytes."""
    parts = ["HPUB", _token(subject, "subject")]
    if reply:
        parts.append(_token(reply, "reply subject"))
    parts.append(str(header_len))
    parts.append(str(header_len + size))
    return (" ".join(parts) + "\r\n").encode()


def sub_command(subject, sid, queue=""):
    parts = ["SUB", _token(subject, "subject")]
    if queue:
        parts.append(_token(queue, "queue group"))
    parts.append(str(sid))
    return (" ".join(parts) + "\r\n").encode()


def unsub_command(sid, max_msgs=None):
    return ("UNSUB %d\r\n" % sid if max_msgs is None else "UNSUB %d %d\r\n" % (sid, max_msgs)).encode()


# --- pure: parsing what the server sends --------------------------------------------------------


def _count(b):
    if not b.isdigit():
        raise ProtocolError("bad byte count")
    return int(b)


def parse_headers(block):
    """(status, headers) of an HMSG header block: the status code of `NATS/1.0 503` (or
    ""), and a dict of the header lines (a repeated name keeps its last value)."""
    lines = bytes(block).split(CRLF)
    first = lines[0].split(None, 2)
    if not first or first[0] != b"NATS/1.0":
        raise ProtocolError("header block does not start with NATS/1.0")
    status = first[1].decode() if len(first) > 1 else ""
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        k = line.find(b":")
        if k <= 0:
            raise ProtocolError("malformed header line")
        try:
            headers[str(line[:k].strip(), "utf-8")] = str(line[k + 1:].strip(), "utf-8")
        except (UnicodeError, ValueError):
            raise ProtocolError("header is not UTF-8")
    return status, headers


class Parser:
    """Frames out of the byte stream of a NATS server. feed() what a read returned, then
    next() until it answers None (the rest of a frame has not arrived yet). Frames:
    ("INFO", dict), ("MSG", Msg) for MSG and HMSG, ("PING", None), ("PONG", None),
    ("+OK", None), ("-ERR", message). A control line longer than `max_control`, a payload
    larger than `max_payload` or anything malformed raises ProtocolError."""

    def __init__(self, max_payload=S.DEFAULT_MAX_PAYLOAD, max_control=MAX_CONTROL_LINE):
        self.buf = bytearray()
        self.pos = 0
        self.max_payload = max_payload
        self.max_control = max_control

    def feed(self, data):
        if self.pos and self.pos * 2 >= len(self.buf):  # drop what was consumed (no slice deletion here)
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf.extend(data)

    def frames(self):
        """Every complete frame buffered."""
        out = []
        while True:
            f = self.next()
            if f is None:
                return out
            out.append(f)

    def next(self):
        buf, start = self.buf, self.pos
        end = buf.find(CRLF, start)
        if end < 0:
            if len(buf) - start > self.max_control:
                raise ProtocolError("control line longer than %d bytes" % self.max_control)
            return None
        if end - start > self.max_control:
            raise ProtocolError("control line longer than %d bytes" % self.max_control)
        line = bytes(buf[start:end])
        args = line.split()
        if not args:
            raise ProtocolError("empty control line")
        op = args[0].upper()
        body = end + 2
        if op == b"MSG" or op == b"HMSG":
            return self._msg(op == b"HMSG", args, body)
        self.pos = body
        if op == b"PING":
            return ("PING", None)
        if op == b"PONG":
            return ("PONG", None)
        if op == b"+OK":
            return ("+OK", None)
        if op == b"-ERR":
            return ("-ERR", str(line[4:].strip(), "utf-8").strip("'"))
        if op == b"INFO":
            try:
                info = loads(line[4:].strip())
            except ValueError:
                raise ProtocolError("INFO is not JSON")
            if type(info) is not dict:
                raise ProtocolError("INFO is not a JSON object")
            return ("INFO", info)
        raise ProtocolError("unknown operation %r" % op)

    def _msg(self, with_headers, args, body):
        # MSG <subject> <sid> [reply] <size> / HMSG <subject> <sid> [reply] <hdr size> <total size>
        fixed = 5 if with_headers else 4
        if len(args) not in (fixed, fixed + 1):
            raise ProtocolError("bad %s line" % args[0].decode())
        reply = args[3].decode() if len(args) == fixed + 1 else ""
        total = _count(args[-1])
        hlen = _count(args[-2]) if with_headers else 0
        if total > self.max_payload or hlen > total:
            raise ProtocolError("message of %d bytes (max_payload %d)" % (total, self.max_payload))
        buf = self.buf
        if len(buf) < body + total + 2:
            return None  # the rest of the frame has not arrived yet
        if buf[body + total:body + total + 2] != CRLF:
            raise ProtocolError("message not followed by CRLF")
        headers, status = None, ""
        if with_headers:
            status, headers = parse_headers(memoryview(buf)[body:body + hlen])
        msg = Msg(args[1].decode(), _count(args[2]), reply, bytes(buf[body + hlen:body + total]), headers, status)
        self.pos = body + total + 2
        return ("MSG", msg)


# --- the client (sockets: compiled here, run on devices) ----------------------------------------


class Client:
    """A blocking NATS connection. Client().connect(url); publish(); subscribe();
    next_msg(); request(); close(). Failures are NatsBridgeError
    (NATS_CONNECTION_FAILED, PUBLISH_FAILED, PAYLOAD_TOO_LARGE, TIMEOUT)."""

    def __init__(self, name="natsbridge-micropython"):
        self.name = name
        self.sock = None
        self.parser = None
        self.info = {}
        self.max_payload = S.DEFAULT_MAX_PAYLOAD
        self.headers_ok = False
        self.next_sid = 1
        self.pending = []  # messages read while waiting for something else

    def connect(self, url=S.DEFAULT_NATS_URL, user=None, password=None, token=None, timeout_s=10):
        import socket
        if not url.startswith("nats://"):
            raise NatsBridgeError("NATS_CONNECTION_FAILED", "only nats:// URLs (no TLS here)")
        authority = url[7:].split("/")[0]
        k = authority.rfind("@")
        if k >= 0:
            cred, authority = authority[:k], authority[k + 1:]
            if ":" in cred:
                user, password = cred.split(":", 1)
            else:
                token = cred
        k = authority.rfind(":")
        host, port = (authority[:k], authority[k + 1:]) if k > 0 else (authority, "4222")
        if not port.isdigit():
            raise NatsBridgeError("NATS_CONNECTION_FAILED", "bad port in " + url)
        try:
            addr = socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)[0][-1]
            self.sock = socket.socket()
            self.sock.settimeout(timeout_s)
            self.sock.connect(addr)
            self.parser = Parser()
            kind, info = self._read_frame()
            if kind != "INFO":
                raise ProtocolError("the server did not start with INFO")
            self._on_info(info)
            self._write(connect_command(self.name, user, password, token, self.headers_ok))
            self._write(b"PING\r\n")
            self._wait_pong()
        except NatsBridgeError:
            self.close()
            raise
        except (OSError, ProtocolError) as e:
            self.close()
            raise NatsBridgeError("NATS_CONNECTION_FAILED", "connecting to %s: %r" % (host, e))
        return self

    def _on_info(self, info):
        self.info = info
        self.max_payload = info.get("max_payload") or S.DEFAULT_MAX_PAYLOAD
        self.headers_ok = bool(info.get("headers"))
        self.parser.max_payload = self.max_payload

    def _write(self, data):
        mv = memoryview(data)
        while len(mv):
            n = self.sock.write(mv)
            mv = mv[n or 0:]

    def _read_frame(self):
        """The next frame other than PING (answered) and INFO (applied)."""
        while True:
            f = self.parser.next()
            if f is None:
                data = self.sock.recv(4096)
                if not data:
                    raise OSError("connection closed by the server")
                self.parser.feed(data)
                continue
            if f[0] == "PING":
                self._write(b"PONG\r\n")
            elif f[0] == "INFO" and self.info:
                self._on_info(f[1])
            elif f[0] == "-ERR":
                raise NatsBridgeError("NATS_CONNECTION_FAILED", "server error: " + f[1])
            elif f[0] != "+OK":
                return f

    def _wait_pong(self):
        while True:
            kind, value = self._read_frame()
            if kind == "PONG":
                return
            self.pending.append(value)

    def publish(self, subject, data, headers=None, reply=""):
        """Publishes `data` (bytes-like or str, written without an encoded copy); HPUB with
        `headers` when the server supports them, else PUB (the envelope carries everything
        the headers repeat)."""
        body = utf8_view(data) if type(data) is str else data
        hdr = header_block(headers) if headers and self.headers_ok else b""
        if len(hdr) + len(body) > self.max_payload:
            raise NatsBridgeError(S.ERROR_TOO_LARGE_TO_SEND, "message of %d bytes, server max_payload %d" % (
                len(hdr) + len(body), self.max_payload))
        try:
            if hdr:
                self._write(hpub_command(subject, len(hdr), len(body), reply))
                self._write(hdr)
            else:
                self._write(pub_command(subject, len(body), reply))
            self._write(body)
            self._write(CRLF)
        except OSError as e:
            raise NatsBridgeError("PUBLISH_FAILED", "publishing on %s: %r" % (subject, e))

    def flush(self):
        """Round trip to the server: everything published before has been processed."""
        self._write(b"PING\r\n")
        self._wait_pong()

    def subscribe(self, subject, queue=""):
        sid = self.next_sid
        self.next_sid += 1
        self._write(sub_command(subject, sid, queue))
        return sid

    def unsubscribe(self, sid, max_msgs=None):
        self._write(unsub_command(sid, max_msgs))

    def next_msg(self, timeout_s=None):
        """The next message (Msg), or None when `timeout_s` passes first."""
        if self.pending:
            return self.pending.pop(0)
        self.sock.settimeout(timeout_s)
        try:
            kind, msg = self._read_frame()
        except OSError as e:
            if "ETIMEDOUT" in repr(e) or "timed out" in repr(e) or (e.args and e.args[0] in (110, 116)):
                return None
            raise NatsBridgeError("NATS_CONNECTION_FAILED", "reading: %r" % e)
        return msg if kind == "MSG" else None

    def request(self, subject, data, headers=None, timeout_s=5):
        """Publishes with a fresh inbox as reply subject; returns the first answer, or
        TIMEOUT."""
        from .codec import new_uuid
        inbox = "_INBOX." + new_uuid().replace("-", "")
        sid = self.subscribe(inbox)
        self.unsubscribe(sid, 1)
        self.publish(subject, data, headers, inbox)
        others = []  # messages of other subscriptions that arrive first: kept for next_msg
        msg = self.next_msg(timeout_s)
        while msg is not None and msg.sid != sid:
            others.append(msg)
            msg = self.next_msg(timeout_s)
        self.pending.extend(others)
        if msg is None:
            raise NatsBridgeError("TIMEOUT", "no answer on %s within %s s" % (subject, timeout_s))
        return msg

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
