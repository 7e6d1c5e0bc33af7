"""``EnvelopeConsumer(limit=N)`` (the Rust ``ConsumerOptions::limit``): a consumer that hands
over at most N envelopes pulls no more, so nothing is left pulled but unacknowledged and a
durable consumer's next run starts right after the last one handed over instead of waiting
out ``ack_wait``. Without a limit, one pull takes up to ``max_messages``: what the run does
not hand over stays pending on the server (the behaviour the limit exists to avoid)."""

from __future__ import annotations

import time

import nats
from nats.aio.client import Client
import pytest

from natsbridge import EnvelopeConsumer, NatsBridgeError, ensure_stream, publish_to_stream, typed
from natsbridge_types.profile import ERROR_BAD_OPTION

from .conftest import run

CIDS = [f"0000000{i}-0000-4000-8000-00000000000{i}" for i in range(4)]


async def _stream(nc: Client, name: str, subject: str, count: int) -> None:
    js = nc.jetstream()
    await ensure_stream(js, name, [subject], max_age=600.0)
    for i in range(count):
        await publish_to_stream(js, subject, [("n", str(i), "text")], correlation_id=CIDS[i])


async def _pending(nc: Client, stream: str, durable: str) -> tuple[int, int]:
    """``(num_ack_pending, num_pending)`` of the durable consumer: pulled but not acked, and
    not pulled yet."""
    info = await nc.jetstream().consumer_info(stream, durable)
    return int(info.num_ack_pending or 0), int(info.num_pending or 0)


def test_a_durable_consumer_with_a_limit_pulls_no_more_and_the_next_run_goes_on(nats_url: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        try:
            await _stream(nc, "LIMIT", "limit.x", 3)
            js = nc.jetstream()
            first = EnvelopeConsumer(js, "LIMIT", durable_name="lim", limit=2, ack_wait=300.0)
            got = []
            for _ in range(2):
                d = await first.next(timeout=10)
                got.append(d.received.correlation_id)
                await d.ack_confirmed()  # recorded before the consumer's state is read below
            assert got == CIDS[:2]
            # Nothing pulled beyond what was handed over: the third is still waiting on the server.
            assert await _pending(nc, "LIMIT", "lim") == (0, 1)
            with pytest.raises(NatsBridgeError) as raised:
                await first.next(timeout=1)
            assert raised.value.code == ERROR_BAD_OPTION and "limit of 2" in raised.value.message
            await first.close()

            # The next run of the same durable consumer starts right after, long before ack_wait.
            started = time.monotonic()
            second = EnvelopeConsumer(js, "LIMIT", durable_name="lim", limit=1, ack_wait=300.0)
            d = await second.next(timeout=10)
            await d.ack_confirmed()
            assert d.received.correlation_id == CIDS[2] and time.monotonic() - started < 10
            assert await _pending(nc, "LIMIT", "lim") == (0, 0)
            await second.close()
        finally:
            await nc.close()

    run(scenario())


def test_without_a_limit_one_pull_takes_a_whole_batch(nats_url: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        try:
            await _stream(nc, "NOLIMIT", "nolimit.x", 3)
            consumer = EnvelopeConsumer(nc.jetstream(), "NOLIMIT", durable_name="all", ack_wait=300.0)
            d = await consumer.next(timeout=10)
            await d.ack_confirmed()  # recorded before the consumer's state is read below
            # The other two were pulled with it and wait, unacknowledged, in this process.
            assert await _pending(nc, "NOLIMIT", "all") == (2, 0)
            await consumer.close()
        finally:
            await nc.close()

    run(scenario())


def test_a_decode_failure_counts_toward_the_limit(nats_url: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, "LIMITBAD", ["limitbad.x"], max_age=600.0)
            await js.publish("limitbad.x", b"{not an envelope")
            await publish_to_stream(js, "limitbad.x", [("n", "ok", "text")], correlation_id=CIDS[3])
            consumer = EnvelopeConsumer(js, "LIMITBAD", limit=1)
            with pytest.raises(NatsBridgeError):
                await consumer.next(timeout=10)
            with pytest.raises(NatsBridgeError) as raised:
                await consumer.next(timeout=1)
            assert raised.value.code == ERROR_BAD_OPTION
            await consumer.close()
        finally:
            await nc.close()

    run(scenario())


def test_the_typed_consumer_options_take_a_limit() -> None:
    assert typed.ConsumerOptions(limit=3).limit == 3
    with pytest.raises(NatsBridgeError) as raised:
        typed.ConsumerOptions(limit="3")  # type: ignore[arg-type]
    assert raised.value.code == ERROR_BAD_OPTION
