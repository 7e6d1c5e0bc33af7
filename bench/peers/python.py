"""Peer benchmark for the Python runtime (packages/python, package ``natsbridge``).

The Rust harness (crates/natsbridge-bench) starts this as a subprocess and compares its
figures with its own, case for case, to print Rust/Python ratios:

``--mode cpu``
    ``smartsend(publish=False)`` of a dictionary payload of ``--bytes`` bytes of JSON, then
    ``smartreceive`` of the envelope's JSON bytes; no network. After a warm-up of
    min(2000, N), each run times N sends, then N receives of the last envelope (as the
    harness's ``envelope_cpu`` does).
``--mode pubsub``
    A publisher and a subscriber connection to ``--nats``; N envelopes published without
    a flush each (one flush at the end), at most ``--window`` in flight, each decoded by
    ``smartreceive``; first publish to last decode (as the harness's ``stream_once`` does).
    One unreported warm-up run of min(2000, N).
``--mode floor``
    The Python format floor and the runtime, interleaved in this one process: each run is
    one floor run, then one runtime run (``pubsub``'s), both on fresh subjects with the same
    N, window and payload. The floor is plain nats-py, ``json``, ``base64`` and ``hashlib``
    (no natsbridge): the same v1 envelope and headers on the wire, and on receipt the checks
    the runtime's reader makes, written by hand (required fields and their types, UUID and
    timestamp forms, enum values, the size limits, strict base64, ``size`` and
    ``metadata.sha256``, the payload's JSON and that it is an object). One unreported
    warm-up run of each.
``--mode replay``
    JetStream replay: N envelopes published (untimed, through the runtime, each acked) into
    a fresh stream, then per run a raw nats-py pull consumer (``pull_subscribe`` + ``fetch``
    of the profile's ``CONSUMER_BATCH``, ``msg.ack()`` each) and ``EnvelopeConsumer`` (its
    defaults; ``await delivered.ack()`` each, the dictionary checked) each read all N from
    a new ephemeral consumer; each timed from its first pull to its last ack (and a flush).
    The stream is deleted at the end.

``floor`` and ``replay`` add ``baseline_msgs_per_sec`` (floor or raw consumer, one per run)
beside ``msgs_per_sec`` (the runtime). Prints exactly one JSON line on stdout; any mismatch
or a 120 s timeout exits non-zero::

    PYTHONPATH=packages/python:generated/python .venv/bin/python bench/peers/python.py \\
        --mode cpu|pubsub|floor|replay --count N --runs R [--nats URL] [--bytes 1024] [--window 2048]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import datetime
import hashlib
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from natsbridge import (
    EnvelopeConsumer,
    ReceiveOptions,
    connect,
    ensure_stream,
    smartreceive,
    smartsend,
    subscriptions_registered,
)
from natsbridge_types.profile import (
    CONSUMER_BATCH,
    DEFAULT_MSG_PURPOSE,
    HEADER_CORRELATION_ID,
    HEADER_MSG_ID,
    MAX_ENVELOPE_BYTES,
    MAX_PAYLOAD_SIZE,
    MAX_PAYLOADS,
    PAYLOAD_SERIALIZATION,
)

TIMEOUT_S = 120.0


class BenchFailed(Exception):
    """A mismatch between what was sent and what was received, or a timeout."""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("cpu", "pubsub", "floor", "replay"), required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--nats", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    p.add_argument("--bytes", type=int, default=1024)
    p.add_argument("--window", type=int, default=2048)
    args = p.parse_args()
    if min(args.count, args.runs, args.window) <= 0:
        p.error("--count, --runs and --window must be positive")
    return args


# --- the format floor: plain nats-py, json, base64, hashlib ------------------------------------

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")
_PURPOSES = ("ACK", "NACK", "updateStatus", "shutdown", "chat", "command", "event")
_FLOOR_SENDER_ID = str(uuid.uuid4())


def floor_envelope(subject: str, data: Any, broker_url: str) -> tuple[bytes, dict[str, str]]:
    """The envelope a plain program writes for one dictionary payload, and its headers."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    cid, mid = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.datetime.now(datetime.timezone.utc)
    envelope = {
        "correlation_id": cid,
        "msg_id": mid,
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "send_to": subject,
        "msg_purpose": DEFAULT_MSG_PURPOSE,
        "sender_name": "floor-python",
        "sender_id": _FLOOR_SENDER_ID,
        "receiver_name": "",
        "receiver_id": "",
        "reply_to": "",
        "reply_to_msg_id": "",
        "metadata": {},
        "payloads": [{
            "id": str(uuid.uuid4()),
            "dataname": "data",
            "payload_type": "dictionary",
            "transport": "direct",
            "encoding": "base64",
            "size": len(raw),
            "data": base64.b64encode(raw).decode(),
            "metadata": {"sha256": hashlib.sha256(raw).hexdigest()},
        }],
        "broker_url": broker_url,
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    return body, {HEADER_MSG_ID: mid, HEADER_CORRELATION_ID: cid}


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise BenchFailed(f"floor reader: {what}")


def floor_read(body: bytes) -> tuple[int, Any]:
    """The reader's checks, by hand: the first payload's byte count and decoded value."""
    _need(len(body) <= MAX_ENVELOPE_BYTES, "envelope too large")
    env = json.loads(body)
    _need(type(env) is dict, "not an object")
    for key in ("correlation_id", "msg_id"):
        v = env.get(key)
        _need(type(v) is str and _UUID.fullmatch(v) is not None, f"{key} not a UUID")
    ts = env.get("timestamp")
    _need(type(ts) is str and _TIMESTAMP.fullmatch(ts) is not None, "bad timestamp")
    for key in ("send_to", "sender_name"):
        v = env.get(key)
        _need(type(v) is str and len(v) > 0, f"{key} empty")
    purpose = env.get("msg_purpose")
    _need(type(purpose) is str, "msg_purpose")
    for key in ("sender_id", "receiver_name", "receiver_id", "reply_to", "reply_to_msg_id"):
        _need(type(env.get(key)) is str, f"{key} not a string")
    _need(type(env.get("broker_url", "")) is str and type(env.get("metadata", {})) is dict, "broker_url/metadata")
    payloads = env.get("payloads")
    _need(type(payloads) is list and len(payloads) <= MAX_PAYLOADS, "payloads")
    out = []
    for p in payloads:
        _need(type(p) is dict, "payload not an object")
        pid = p.get("id")
        _need(type(pid) is str and _UUID.fullmatch(pid) is not None, "payload id")
        for key in ("dataname", "payload_type", "transport", "encoding", "data"):
            _need(type(p.get(key)) is str, f"payload {key}")
        _need(p["payload_type"] in PAYLOAD_SERIALIZATION, "unknown payload_type")
        _need(p["transport"] == "direct", "transport")
        size = p.get("size")
        _need(type(size) is int and 0 <= size <= MAX_PAYLOAD_SIZE, "size")
        meta = p.get("metadata", {})
        _need(type(meta) is dict, "payload metadata")
        data = p["data"]
        _need(len(data) == (size + 2) // 3 * 4, "size differs from the base64 length")
        try:
            raw = binascii.a2b_base64(data.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise BenchFailed("floor reader: bad base64") from None
        _need(len(raw) == size, "size differs")
        sha = meta.get("sha256")
        _need(not isinstance(sha, str) or hashlib.sha256(raw).hexdigest() == sha.lower(), "sha256 differs")
        value = json.loads(raw)
        _need(type(value) is dict, "payload not an object")
        out.append((len(raw), value))
    _need(len(out) > 0, "no payload")
    return out[0]


async def _quiet(error: Exception) -> None:
    """nats-py's error callback: failures raise where they happen, nothing printed meanwhile."""


async def plain_connect(url: str) -> Client:
    """A plain nats-py connection (its defaults, its error printing off)."""
    return await nats.connect(url, error_cb=_quiet)


async def registered(nc: Client) -> None:
    """The server has the connection's subscriptions (a message to a fresh inbox came back)."""
    probe = nc.new_inbox()
    sub = await nc.subscribe(probe, max_msgs=1)
    await nc.publish(probe, b"")
    await sub.next_msg(timeout=5)


# --- the bench ---------------------------------------------------------------------------------

Send = Callable[[Client, str], Awaitable[None]]
Receive = Callable[[Msg], Awaitable[int]]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.count: int = args.count
        overhead = len(json.dumps({"config": ""}, separators=(",", ":")))
        if args.bytes < overhead:
            raise SystemExit(f"--bytes must be at least {overhead}")
        self.payload: dict[str, Any] = {"config": "x" * (args.bytes - overhead)}
        self.payloads = [("data", self.payload, "dictionary")]
        self.receive = ReceiveOptions()  # made once: its default allowed hosts read the environment
        self.envelope_bytes = 0

    def check(self, data: Any) -> None:
        if data != self.payload:
            raise BenchFailed("the decoded dictionary differs from the one sent")

    async def cpu(self) -> dict[str, list[float]]:
        rates: list[float] = []
        send_us: list[float] = []
        recv_us: list[float] = []
        for i in range(min(2000, self.count)):
            sent = await smartsend("bench.cpu", self.payloads, publish=False)
            got = await smartreceive(sent.json.encode(), self.receive)
            if i == 0:
                self.check(got.payloads[0].data)
        for _ in range(self.args.runs):
            text = ""
            t = time.perf_counter()
            for _ in range(self.count):
                text = (await smartsend("bench.cpu", self.payloads, publish=False)).json
            send = (time.perf_counter() - t) * 1e6 / self.count
            body = text.encode()
            self.envelope_bytes = len(body)
            t = time.perf_counter()
            for _ in range(self.count):
                got = await smartreceive(body, self.receive)
            recv = (time.perf_counter() - t) * 1e6 / self.count
            self.check(got.payloads[0].data)
            send_us.append(send)
            recv_us.append(recv)
            rates.append(1e6 / (send + recv))
        return {"msgs_per_sec": rates, "send_us": send_us, "recv_us": recv_us}

    # The runtime's side of a publish → subscribe run.
    async def runtime_send(self, nc: Client, subject: str) -> None:
        await smartsend(subject, self.payloads, connection=nc, flush=False)

    async def runtime_receive(self, msg: Msg) -> int:
        return len((await smartreceive(msg, self.receive)).payloads[0].raw)

    # The floor's.
    async def floor_send(self, nc: Client, subject: str) -> None:
        body, headers = floor_envelope(subject, self.payload, self.args.nats)
        await nc.publish(subject, body, headers=headers)

    async def floor_receive(self, msg: Msg) -> int:
        size, value = floor_read(msg.data)
        if size != self.args.bytes:  # the payload itself is compared once per run, by the caller
            raise BenchFailed(f"the floor received a payload of {size} bytes")
        return size

    async def stream_once(self, n: int, floor: bool = False) -> float:
        """One publish → subscribe run of ``n`` messages on a fresh subject, through the runtime
        or (``floor``) the plain floor; messages per second."""
        if floor:
            publisher, subscriber = await plain_connect(self.args.nats), await plain_connect(self.args.nats)
            send, receive = self.floor_send, self.floor_receive
        else:
            publisher, subscriber = await connect(self.args.nats), await connect(self.args.nats)
            send, receive = self.runtime_send, self.runtime_receive
        try:
            subject = f"bench.peer.python.{'floor' if floor else 'runtime'}.{time.time_ns():x}"
            sub = await subscriber.subscribe(subject)
            if floor:
                await registered(subscriber)
            else:
                await subscriptions_registered(subscriber)  # nats-py's flush() does not prove it
            credits = asyncio.Semaphore(self.args.window)
            got = 0

            async def consume() -> int:
                nonlocal got
                total = 0
                async for msg in sub.messages:
                    if got == 0:
                        self.envelope_bytes = len(msg.data)
                        if floor:
                            self.check(floor_read(msg.data)[1])
                        else:
                            self.check((await smartreceive(msg, self.receive)).payloads[0].data)
                    total += await receive(msg)
                    credits.release()
                    got += 1
                    if got == n:
                        break
                return total

            async def publish() -> None:
                for _ in range(n):
                    await credits.acquire()
                    await send(publisher, subject)
                await publisher.flush()

            started = time.perf_counter()
            consumer = asyncio.create_task(consume())
            try:
                await asyncio.wait_for(asyncio.gather(publish(), consumer), TIMEOUT_S)
            except TimeoutError:
                raise BenchFailed(f"the subscriber got {got} of {n} messages within {TIMEOUT_S:.0f} s") from None
            secs = time.perf_counter() - started
            received = consumer.result()
            if received != n * self.args.bytes:
                raise BenchFailed(f"received {received} payload bytes, expected {n * self.args.bytes}")
            return n / secs
        finally:
            await publisher.close()
            await subscriber.close()

    async def pubsub(self) -> dict[str, list[float]]:
        await self.stream_once(min(2000, self.count))  # warm-up: connections, caches, allocator
        return {"msgs_per_sec": [await self.stream_once(self.count) for _ in range(self.args.runs)]}

    async def floor(self) -> dict[str, list[float]]:
        await self.stream_once(min(2000, self.count), floor=True)
        await self.stream_once(min(2000, self.count))
        floor: list[float] = []
        runtime: list[float] = []
        for _ in range(self.args.runs):
            floor.append(await self.stream_once(self.count, floor=True))
            runtime.append(await self.stream_once(self.count))
        return {"msgs_per_sec": runtime, "baseline_msgs_per_sec": floor}

    # --- replay ---

    async def replay_raw(self, nc: Client, stream: str, subject: str) -> float:
        """A nats-py user's pull consumer: ephemeral, deliver all, explicit ack, fetch batches."""
        js = nc.jetstream()
        config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL, ack_policy=api.AckPolicy.EXPLICIT)
        sub = await js.pull_subscribe(subject, stream=stream, config=config)
        try:
            got = 0
            started = time.perf_counter()
            while got < self.count:
                for msg in await sub.fetch(min(CONSUMER_BATCH, self.count - got)):
                    if got == 0:
                        self.envelope_bytes = len(msg.data)
                    await msg.ack()
                    got += 1
            await nc.flush()
            return self.count / (time.perf_counter() - started)
        finally:
            await sub.unsubscribe()

    async def replay_bridge(self, nc: Client, stream: str) -> float:
        """``EnvelopeConsumer`` with its defaults, every envelope decoded, checked and acked."""
        async with EnvelopeConsumer(nc, stream) as consumer:
            started = time.perf_counter()
            for _ in range(self.count):
                delivered = await consumer.next()
                if delivered.received.payloads[0].data != self.payload:
                    raise BenchFailed(f"replayed envelope {delivered.stream_sequence} differs from the one sent")
                await delivered.ack()
            await nc.flush()
            return self.count / (time.perf_counter() - started)

    async def replay(self) -> dict[str, list[float]]:
        nc = await connect(self.args.nats)
        stamp = f"{time.time_ns():x}"
        stream, subject = f"BENCH_PY_REPLAY_{stamp}", f"bench.peer.python.replay.{stamp}"
        try:
            await ensure_stream(nc, stream, [subject], max_age=3600.0)
            js = nc.jetstream()
            in_flight = asyncio.Semaphore(256)

            async def publish_one() -> None:
                async with in_flight:
                    await smartsend(subject, self.payloads, jetstream=js)

            await asyncio.wait_for(asyncio.gather(*(publish_one() for _ in range(self.count))), TIMEOUT_S)
            info = await js.stream_info(stream)
            if info.state.messages != self.count:
                raise BenchFailed(f"the stream holds {info.state.messages} messages, {self.count} were published")
            raw: list[float] = []
            bridge: list[float] = []
            for _ in range(self.args.runs):
                raw.append(await asyncio.wait_for(self.replay_raw(nc, stream, subject), TIMEOUT_S))
                bridge.append(await asyncio.wait_for(self.replay_bridge(nc, stream), TIMEOUT_S))
            return {"msgs_per_sec": bridge, "baseline_msgs_per_sec": raw}
        finally:
            try:
                await nc.jetstream().delete_stream(stream)
            finally:
                await nc.close()


async def main() -> None:
    args = parse_args()
    # The runtime warns "NATS disconnected" on every close(), clean ones too; failures raise.
    logging.getLogger("natsbridge").setLevel(logging.ERROR)
    bench = Bench(args)
    modes = {"cpu": bench.cpu, "pubsub": bench.pubsub, "floor": bench.floor, "replay": bench.replay}
    figures = await modes[args.mode]()
    line = {"runtime": "python", "mode": args.mode, "bytes": args.bytes, "envelope_bytes": bench.envelope_bytes,
            "count": args.count, "runs": args.runs, **figures}
    print(json.dumps(line, separators=(",", ":")))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # any failure: a message on stderr and a non-zero exit, nothing on stdout
        print(f"python peer: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
