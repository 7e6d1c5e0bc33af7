"""The other end of test/device.test.mjs: the Python runtime (packages/python, CPython), the
way a service talks to a device.

    python python_peer.py receive NATS_URL SUBJECT ALLOWED_HOST
    python python_peer.py send NATS_URL FILESERVER_URL SUBJECT
    python python_peer.py reply NATS_URL SUBJECT ALLOWED_HOST

One JSON line per event on stdout, in device_client.py's format: {"ready": true} once
subscribed, {"received": summary} or {"sent": summary}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from natsbridge import ReceiveOptions, connect, smartreceive, smartreply, smartsend
from natsbridge.transport import subscriptions_registered

TIMEOUT_S = 30.0
LINK_THRESHOLD = 4096
"""Payloads this peer sends of this many bytes or more go by link (the device downloads them)."""


def emit(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def summary_of_received(received: Any, headers: dict[str, str] | None) -> dict[str, Any]:
    out = []
    for p in received.payloads:
        d: dict[str, Any] = {"dataname": p.dataname, "payload_type": p.payload_type, "transport": p.transport,
                             "size": len(p.raw), "sha256": p.sha256}
        if p.payload_type in ("text", "dictionary", "jsontable"):
            d["value"] = p.data
        out.append(d)
    env = received.envelope
    return {"correlation_id": env["correlation_id"], "msg_id": env["msg_id"], "reply_to_msg_id": env["reply_to_msg_id"],
            "headers": headers or {}, "payloads": out}


def summary_of_sent(envelope: Any, items: list[tuple[str, Any, str]]) -> dict[str, Any]:
    out = []
    for p, (_, data, kind) in zip(envelope["payloads"], items):
        d: dict[str, Any] = {"dataname": p["dataname"], "payload_type": kind, "transport": p["transport"],
                             "size": p["size"], "sha256": p["metadata"]["sha256"]}
        if kind in ("text", "dictionary", "jsontable"):
            d["value"] = data
        out.append(d)
    return {"correlation_id": envelope["correlation_id"], "msg_id": envelope["msg_id"], "payloads": out}


async def next_received(nats_url: str, subject: str, allowed_host: str, answer: bool) -> None:
    nc = await connect(nats_url)
    sub = await nc.subscribe(subject)
    await subscriptions_registered(nc)
    emit({"ready": True})
    msg = await sub.next_msg(timeout=TIMEOUT_S)
    received = await smartreceive(msg, ReceiveOptions(allowed_hosts=(allowed_host,)))
    emit({"received": summary_of_received(received, dict(msg.headers) if msg.headers else None)})
    if answer:
        items = [("answer", {"temp_c": 19.5, "asked": received.payloads[0].data}, "dictionary")]
        sent = await smartreply(nc, received.envelope, items)
        await nc.flush()
        emit({"sent": summary_of_sent(sent.envelope, items)})
    await nc.close()


async def send(nats_url: str, fileserver_url: str, subject: str) -> None:
    items: list[tuple[str, Any, str]] = [
        ("note", "from Python — ünïcödé 😀", "text"),
        ("config", {"step": 0.01, "iterations": 1000, "deep": {"a": [True, None]}}, "dictionary"),
        ("rows", [{"i": 1}, {"i": 2}, {"i": 3}], "jsontable"),
        ("blob", bytes(i * 13 % 256 for i in range(3 * LINK_THRESHOLD)), "binary"),
    ]
    nc = await connect(nats_url)
    sent = await smartsend(subject, items, connection=nc, fileserver_url=fileserver_url, size_threshold=LINK_THRESHOLD)
    await nc.flush()
    await nc.close()
    emit({"sent": summary_of_sent(sent.envelope, items)})


def main(argv: list[str]) -> None:
    mode = argv[1]
    if mode == "receive":
        asyncio.run(next_received(argv[2], argv[3], argv[4], answer=False))
    elif mode == "reply":
        asyncio.run(next_received(argv[2], argv[3], argv[4], answer=True))
    elif mode == "send":
        asyncio.run(send(argv[2], argv[3], argv[4]))
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv)
