"""A small NATSBridge peer in Python for the live interop tests: envelopes built and checked
with the generated `natsbridge_types` package, link payloads uploaded to a Plik-compatible
file server, nats-py for NATS and pyarrow for tables.

    python_peer.py send --server URL --subject S --fileserver URL [--rows N] [--audio-bytes N]
    python_peer.py receive --server URL --subject S --allow-host URL [--timeout SECS]

Both print the digest line of the `natsbridge` CLI, then one `{"info": ...}` line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import hashlib
import json
import math
import sys
import urllib.parse
import urllib.request
import uuid
from typing import Any

import nats
import pyarrow as pa
import pyarrow.ipc

import natsbridge_types as t

THRESHOLD = 500_000


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def digest_line(env: t.MsgEnvelopeV1, parts: list[tuple[t.MsgPayloadV1, bytes, int | None]]) -> str:
    payloads = []
    for p, raw, rows in parts:
        d: dict[str, Any] = {"dataname": p["dataname"], "payload_type": p["payload_type"], "transport": p["transport"],
                             "size": len(raw), "sha256": sha256(raw)}
        if rows is not None:
            d["num_rows"] = rows
        payloads.append(d)
    return json.dumps({"correlation_id": env["correlation_id"], "msg_purpose": env["msg_purpose"], "payloads": payloads},
                      ensure_ascii=False, separators=(",", ":"))


def plik_upload(base: str, name: str, raw: bytes) -> str:
    req = urllib.request.Request(f"{base}/upload", data=json.dumps({"oneShot": False, "ttl": 3600}).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        upload = json.loads(resp.read())
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + raw + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{base}/file/{upload['id']}", data=body, method="POST", headers={
        "X-UploadToken": upload["uploadToken"], "content-type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        file = json.loads(resp.read())
    return f"{base}/file/{upload['id']}/{file['id']}/{urllib.parse.quote(name)}"


def sample_data(rows: int, audio_bytes: int) -> list[tuple[str, str, bytes, int | None]]:
    table = pa.table({"id": pa.array(range(rows), pa.int64()), "value": pa.array([i / 3 for i in range(rows)], pa.float64())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    samples = audio_bytes // 2
    pcm = b"".join(int(12000 * math.sin(2 * math.pi * 440 * i / 44100)).to_bytes(2, "little", signed=True) for i in range(samples))
    json_rows = [{"a": 1, "b": "x"}, {"a": 2, "b": "ü"}]
    return [
        ("note", "text", "Hello from Python — ünïcödé 😀".encode(), None),
        ("config", "dictionary", json.dumps({"step_size": 0.01, "iterations": 1000}).encode(), None),
        ("table", "arrowtable", sink.getvalue().to_pybytes(), rows),
        ("rows", "jsontable", json.dumps(json_rows, ensure_ascii=False).encode(), len(json_rows)),
        ("image", "image", bytes((i * 13) % 256 for i in range(2000)), None),
        ("audio", "audio", pcm, None),
        ("video", "video", bytes((i * 7) % 256 for i in range(3000)), None),
        ("binary", "binary", bytes(range(256)), None),
    ]


async def send(a: argparse.Namespace) -> None:
    parts: list[tuple[t.MsgPayloadV1, bytes, int | None]] = []
    for name, ptype, raw, rows in sample_data(a.rows, a.audio_bytes):
        link = len(raw) >= THRESHOLD
        p: t.MsgPayloadV1 = {
            "id": str(uuid.uuid4()), "dataname": name, "payload_type": ptype,
            "transport": "link" if link else "direct", "encoding": "none" if link else "base64", "size": len(raw),
            "data": plik_upload(a.fileserver, name, raw) if link else base64.b64encode(raw).decode(),
            "metadata": {"sha256": sha256(raw)},
        }
        parts.append((p, raw, rows))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    env: t.MsgEnvelopeV1 = {
        "correlation_id": str(uuid.uuid4()), "msg_id": str(uuid.uuid4()), "timestamp": now, "send_to": a.subject,
        "msg_purpose": "event", "sender_name": "python-peer", "sender_id": "", "receiver_name": "", "receiver_id": "",
        "reply_to": "", "reply_to_msg_id": "", "broker_url": a.server, "metadata": {}, "payloads": [p for p, _, _ in parts],
    }
    issues = t.validate_msg_envelope_v1(env)
    if issues:
        raise SystemExit(f"the peer built an invalid envelope: {issues}")
    nc = await nats.connect(a.server)
    await nc.publish(a.subject, t.dump_msg_envelope_v1(env).encode(), headers={
        "Nats-Msg-Id": env["msg_id"], "Correlation-Id": env["correlation_id"], "Sample-Rate": "44100", "Channels": "1"})
    await nc.flush()
    await nc.close()
    print(digest_line(env, parts))
    print(json.dumps({"info": {"sent_by": "python"}}))


def host_of(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    return f"{u.hostname}:{u.port or (443 if u.scheme == 'https' else 80)}"


async def receive(a: argparse.Namespace) -> None:
    allowed = host_of(a.allow_host)
    nc = await nats.connect(a.server)
    sub = await nc.subscribe(a.subject, max_msgs=1)
    await nc.flush()
    print("subscribed", file=sys.stderr, flush=True)
    msg = await sub.next_msg(timeout=a.timeout)
    env = t.parse_msg_envelope_v1(msg.data)
    headers = msg.headers or {}
    info: dict[str, Any] = {"sample_rate": headers.get("Sample-Rate"), "channels": headers.get("Channels")}
    parts: list[tuple[t.MsgPayloadV1, bytes, int | None]] = []
    for p in env["payloads"]:
        if p["transport"] == "link":
            if host_of(p["data"]) != allowed:
                raise SystemExit(f"link to a host that is not allowed: {p['data']}")
            with urllib.request.urlopen(p["data"], timeout=60) as resp:
                raw = resp.read()
        else:
            raw = base64.b64decode(p["data"], validate=True)
        if len(raw) != p["size"]:
            raise SystemExit(f"{p['dataname']}: {len(raw)} bytes, size says {p['size']}")
        declared = (p.get("metadata") or {}).get("sha256")
        if isinstance(declared, str) and declared != sha256(raw):
            raise SystemExit(f"{p['dataname']}: sha256 mismatch")
        rows = None
        if p["payload_type"] == "arrowtable":
            rows = pa.ipc.open_stream(pa.py_buffer(raw)).read_all().num_rows
        elif p["payload_type"] == "jsontable":
            rows = len(json.loads(raw))
        parts.append((p, raw, rows))
    await nc.close()
    print(digest_line(env, parts))
    print(json.dumps({"info": info}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["send", "receive"])
    ap.add_argument("--server", required=True)
    ap.add_argument("--subject", required=True)
    ap.add_argument("--fileserver")
    ap.add_argument("--allow-host")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--audio-bytes", type=int, default=5_000_000)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    asyncio.run(send(a) if a.mode == "send" else receive(a))


if __name__ == "__main__":
    main()
