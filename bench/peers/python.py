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

Prints exactly one JSON line on stdout; any mismatch or a 120 s timeout exits non-zero::

    PYTHONPATH=packages/python:generated/python .venv/bin/python bench/peers/python.py \\
        --mode cpu|pubsub --count N --runs R [--nats URL] [--bytes 1024] [--window 2048]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from typing import Any

from natsbridge import ReceiveOptions, connect, smartreceive, smartsend, subscriptions_registered

TIMEOUT_S = 120.0


class BenchFailed(Exception):
    """A mismatch between what was sent and what was received, or a timeout."""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("cpu", "pubsub"), required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--nats", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    p.add_argument("--bytes", type=int, default=1024)
    p.add_argument("--window", type=int, default=2048)
    args = p.parse_args()
    if min(args.count, args.runs, args.window) <= 0:
        p.error("--count, --runs and --window must be positive")
    return args


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

    async def stream_once(self, n: int) -> float:
        """One publish → subscribe run of ``n`` messages on a fresh subject; messages per second."""
        publisher = await connect(self.args.nats)
        subscriber = await connect(self.args.nats)
        try:
            subject = f"bench.peer.python.{time.time_ns():x}"
            sub = await subscriber.subscribe(subject)
            await subscriptions_registered(subscriber)  # nats-py's flush() does not prove it
            credits = asyncio.Semaphore(self.args.window)
            got = 0

            async def consume() -> int:
                nonlocal got
                total = 0
                async for msg in sub.messages:
                    if got == 0:
                        self.envelope_bytes = len(msg.data)
                    total += len((await smartreceive(msg, self.receive)).payloads[0].raw)
                    credits.release()
                    got += 1
                    if got == n:
                        break
                return total

            async def publish() -> None:
                for _ in range(n):
                    await credits.acquire()
                    await smartsend(subject, self.payloads, connection=publisher, flush=False)
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


async def main() -> None:
    args = parse_args()
    # The runtime warns "NATS disconnected" on every close(), clean ones too; failures raise.
    logging.getLogger("natsbridge").setLevel(logging.ERROR)
    bench = Bench(args)
    figures = await (bench.cpu() if args.mode == "cpu" else bench.pubsub())
    line = {"runtime": "python", "mode": args.mode, "bytes": args.bytes, "envelope_bytes": bench.envelope_bytes,
            "count": args.count, "runs": args.runs, **figures}
    print(json.dumps(line, separators=(",", ":")))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # any failure: a message on stderr and a non-zero exit, nothing on stdout
        print(f"python peer: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
