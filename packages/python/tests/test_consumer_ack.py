"""How an :class:`EnvelopeConsumer`'s envelopes are acknowledged (schema/README.md rule 18):
``Delivered.ack`` sends the ack without waiting for the server, ``Delivered.ack_confirmed``
waits for the server to have recorded it; both fail as ``NATS_CONNECTION_FAILED`` with the
correlation id. At least once: an ack that left (the connection flushed or closed) is never
followed by a redelivery, and a redelivery of a message the consumer already handed over is
not handed over again."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.aio.client import Client

from natsbridge import EnvelopeConsumer, NatsBridgeError, ensure_stream, publish_to_stream
from natsbridge_types.profile import ERROR_DEADLINE

from .conftest import run

CIDS = [f"0000000{i}-0000-4000-8000-00000000000{i}" for i in range(4)]


async def _stream(nc: Client, name: str, subject: str, count: int) -> None:
    await ensure_stream(nc, name, [subject], max_age=600.0)
    for i in range(count):
        await publish_to_stream(nc, subject, [("n", str(i), "text")], correlation_id=CIDS[i])


async def _pending(nc: Client, stream: str, durable: str) -> tuple[int, int]:
    """``(num_ack_pending, num_pending)``: pulled but not acked, and not pulled yet."""
    info = await nc.jetstream().consumer_info(stream, durable)
    return int(info.num_ack_pending or 0), int(info.num_pending or 0)


def test_ack_confirmed_returns_once_the_server_recorded_the_ack(nats_url: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        try:
            await _stream(nc, "ACKCONF", "ackconf.x", 2)
            consumer = EnvelopeConsumer(nc, "ACKCONF", durable_name="conf")
            first = await consumer.next(timeout=10)
            await first.ack_confirmed()
            # Recorded at once: only the other one (pulled with it) is still unacknowledged.
            assert await _pending(nc, "ACKCONF", "conf") == (1, 0)
            second = await consumer.next(timeout=10)
            await second.ack_confirmed()
            assert await _pending(nc, "ACKCONF", "conf") == (0, 0)
            await consumer.close()
        finally:
            await nc.close()

    run(scenario())


def test_an_ack_that_cannot_be_sent_is_nats_connection_failed_with_the_correlation_id(nats_url: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        await _stream(nc, "ACKFAIL", "ackfail.x", 2)
        consumer = EnvelopeConsumer(nc, "ACKFAIL")
        first = await consumer.next(timeout=10)
        second = await consumer.next(timeout=10)
        await nc.close()
        for ack, delivered in ((first.ack, first), (second.ack_confirmed, second)):
            with pytest.raises(NatsBridgeError) as raised:
                await ack()
            assert raised.value.code == "NATS_CONNECTION_FAILED"
            assert raised.value.correlation_id == delivered.received.correlation_id
        await consumer.close()

    run(scenario())


def test_what_ack_sent_is_not_redelivered_to_the_next_run_once_the_connection_closed(nats_url: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        await _stream(nc, "ACKSENT", "acksent.x", 3)
        # A short ack_wait: an ack that did not land would bring the message back within a second.
        consumer = EnvelopeConsumer(nc, "ACKSENT", durable_name="sent", ack_wait=1.0)
        got = []
        for _ in range(3):
            d = await consumer.next(timeout=10)
            got.append(d.received.correlation_id)
            await d.ack()
        assert got == CIDS[:3]
        await nc.close()  # closing flushes what ack() sent

        await asyncio.sleep(2.5)  # well past ack_wait
        nc = await nats.connect(nats_url)
        try:
            again = EnvelopeConsumer(nc, "ACKSENT", durable_name="sent", ack_wait=1.0)
            with pytest.raises(NatsBridgeError) as raised:
                await again.next(timeout=2)
            assert raised.value.code == ERROR_DEADLINE
            assert await _pending(nc, "ACKSENT", "sent") == (0, 0)
            await again.close()
        finally:
            await nc.close()

    run(scenario())


def test_a_redelivery_of_a_message_already_handed_over_is_not_handed_over_again(nats_url: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        try:
            await _stream(nc, "REDELIVER", "redeliver.x", 1)
            consumer = EnvelopeConsumer(nc, "REDELIVER", durable_name="slow", ack_wait=1.0, pull_expires=1.0)
            d = await consumer.next(timeout=10)
            assert d.received.correlation_id == CIDS[0]
            # Not acknowledged within ack_wait: the server delivers it again; this consumer
            # acknowledges the redelivery instead of handing the same message over twice.
            with pytest.raises(NatsBridgeError) as raised:
                await consumer.next(timeout=3.5)
            assert raised.value.code == ERROR_DEADLINE
            info = await nc.jetstream().consumer_info("REDELIVER", "slow")
            # Delivered twice (the redelivery came), acknowledged by the consumer, handed over once.
            assert info.delivered.consumer_seq == 2 and info.num_ack_pending == 0
            await consumer.close()
        finally:
            await nc.close()

    run(scenario())


def test_a_pull_that_finds_no_responder_for_a_moment_is_pulled_again(nats_url: str) -> None:
    """On a cluster a consumer just made (or one whose leader moves) answers no pull for a
    moment: the request comes back as a 503. Here its consumer is deleted under it and made
    again a little later: ``next`` backs off and pulls again instead of failing."""

    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        try:
            await _stream(nc, "NORESP", "noresp.x", 2)
            consumer = EnvelopeConsumer(nc, "NORESP", durable_name="back")
            await consumer.open()
            js = nc.jetstream()
            config = (await js.consumer_info("NORESP", "back")).config
            await js.delete_consumer("NORESP", "back")

            async def make_again() -> None:
                await asyncio.sleep(0.8)
                await js.add_consumer("NORESP", config)

            again = asyncio.create_task(make_again())
            first = await consumer.next(timeout=10)
            await again
            assert first.received.correlation_id == CIDS[0]
            await first.ack_confirmed()
            await consumer.close()
        finally:
            await nc.close()

    run(scenario())
