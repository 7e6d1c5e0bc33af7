"""The device side of test/device.test.mjs: natsbridge_mp's socket code (nats.Client,
http.download, http.plik_oneshot_upload) against a real nats-server and the real file server,
run by the MicroPython unix port (a real MicroPython with sockets), never by CPython.

    micropython device_client.py publish NATS_URL FILESERVER_URL SUBJECT
    micropython device_client.py receive NATS_URL SUBJECT ALLOWED_HOST
    micropython device_client.py request NATS_URL FILESERVER_URL SUBJECT

Every mode prints one JSON line per event on stdout: {"ready": ...} once subscribed (receive,
request), then {"sent": summary} or {"received": summary}; a failure is an uncaught exception
(exit status 1). A summary lists, per payload, what the other end must see: dataname,
payload_type, transport, size, sha256 and the value of text and JSON payloads.
"""

import json
import sys

from natsbridge_mp import codec, http, nats
from natsbridge_mp import schema_v1 as S

TIMEOUT_S = 30


def interpreter():
    impl = sys.implementation
    return {"name": impl.name, "version": list(impl.version[:3]), "machine": getattr(impl, "_machine", "")}


def device_payloads():
    """Direct payloads of three kinds, and one of DEVICE_SIZE_THRESHOLD bytes: uploaded,
    sent as a link."""
    big = bytes(i * 7 % 251 for i in range(S.DEVICE_SIZE_THRESHOLD))
    return [
        ("note", "héllo ✓ from the device 😀", "text"),
        ("reading", {"temp_c": 21.5, "ok": True, "tags": ["a", "b"], "nested": {"k": [1, 2, None]}}, "dictionary"),
        ("rows", [{"a": 1, "b": "x"}, {"a": 2, "b": "ü"}], "jsontable"),
        ("frame", big, "image"),
    ]


def summary_of_envelope(envelope, items):
    """What was sent: the wire payloads with the values given."""
    out = []
    for p, (_, data, kind) in zip(envelope["payloads"], items):
        d = {"dataname": p["dataname"], "payload_type": kind, "transport": p["transport"], "size": p["size"],
             "sha256": p["metadata"]["sha256"]}
        if codec.payload_kind(kind) != "bytes":
            d["value"] = data
        out.append(d)
    return {"correlation_id": envelope["correlation_id"], "msg_id": envelope["msg_id"], "payloads": out}


def summary_of_received(received, headers):
    out = []
    for p in received.payloads:
        d = {"dataname": p.dataname, "payload_type": p.payload_type, "transport": p.transport, "size": p.size,
             "sha256": p.sha256}
        if codec.payload_kind(p.payload_type) != "bytes":
            d["value"] = p.data
        out.append(d)
    env = received.envelope
    return {"correlation_id": env["correlation_id"], "msg_id": env["msg_id"], "reply_to_msg_id": env["reply_to_msg_id"],
            "headers": headers or {}, "payloads": out}


def emit(event):
    print(json.dumps(event))


def next_envelope(nc, allowed_hosts):
    msg = nc.next_msg(timeout_s=TIMEOUT_S)
    if msg is None:
        raise AssertionError("no message within %d s" % TIMEOUT_S)
    received = codec.smartreceive(msg.data, allowed_hosts=allowed_hosts, download=http.download)
    return summary_of_received(received, msg.headers)


def publish(nats_url, fileserver_url, subject):
    nc = nats.Client("device-test").connect(nats_url)
    items = device_payloads()
    envelope, _ = codec.smartsend(subject, items, connection=nc, upload=http.plik_oneshot_upload(fileserver_url),
                                  flush=True)
    nc.close()
    emit({"sent": summary_of_envelope(envelope, items), "interpreter": interpreter(), "max_payload": nc.max_payload})


def receive(nats_url, subject, allowed_host):
    nc = nats.Client("device-test").connect(nats_url)
    nc.subscribe(subject)
    nc.flush()  # the server has the SUB: a message published from now on is ours
    emit({"ready": True, "interpreter": interpreter()})
    emit({"received": next_envelope(nc, (allowed_host,))})
    nc.close()


def request(nats_url, fileserver_url, subject):
    """An envelope request: the answer comes on the subject named in the envelope's reply_to."""
    nc = nats.Client("device-test").connect(nats_url)
    inbox = "device.replies." + codec.new_uuid()
    nc.subscribe(inbox)
    items = [("question", "what is the temperature?", "text")]
    envelope, _ = codec.smartsend(subject, items, connection=nc, reply_to=inbox, msg_purpose="command",
                                  upload=http.plik_oneshot_upload(fileserver_url), flush=True)
    emit({"sent": summary_of_envelope(envelope, items)})
    emit({"received": next_envelope(nc, (fileserver_url,))})
    nc.close()


def main(argv):
    mode = argv[1]
    if mode == "publish":
        publish(argv[2], argv[3], argv[4])
    elif mode == "receive":
        receive(argv[2], argv[3], argv[4])
    elif mode == "request":
        request(argv[2], argv[3], argv[4])
    else:
        raise ValueError("unknown mode " + mode)


main(sys.argv)
