"""Request/reply and JetStream on a real nats-server: a reply keeps the correlation id and
names the request; publishing into a stream is acked and de-duplicated by msg_id; a late
pull consumer replays the last minutes, direct and link payloads alike, with backpressure."""

from __future__ import annotations

import asyncio
import datetime
import math
from typing import Any

import nats
import pytest

from natsbridge import (
    EnvelopeConsumer, NatsBridgeError, ReceiveOptions, ensure_stream, publish_to_stream, smartreceive, smartreply,
    smartrequest,
)
from natsbridge.jetstream import link_ttl_for
from natsbridge.wire import new_uuid
from natsbridge.transport import subscriptions_registered
from natsbridge_types.profile import ERROR_DEADLINE, ERROR_NOT_ENVELOPE, HEADER_CORRELATION_ID, LINK_TTL_SLACK_SECONDS

from .conftest import run


def test_request_reply(nats_url: str, fileserver: str) -> None:
    async def go() -> tuple[Any, Any]:
        server = await nats.connect(nats_url)
        client = await nats.connect(nats_url)
        seen: list[Any] = []

        async def handler(msg: Any) -> None:
            request = await smartreceive(msg)
            seen.append(request)
            await smartreply(server, request.envelope, [("status", "Running", "text")], msg_purpose="ACK")

        await server.subscribe("cmd.run", cb=handler)
        await subscriptions_registered(server)
        try:
            reply = await smartrequest(client, "cmd.run", [("config", {"step_size": 0.1, "iterations": 10}, "dictionary")],
                                       msg_purpose="command", timeout=5)
            return seen[0], reply
        finally:
            await client.close()
            await server.close()

    request, reply = run(go())
    assert reply.tuples() == [("status", "Running", "text")]
    assert reply.correlation_id == request.correlation_id
    assert reply.envelope["reply_to_msg_id"] == request.envelope["msg_id"]
    assert reply.envelope["msg_purpose"] == "ACK" and request.envelope["msg_purpose"] == "command"
    assert request.envelope["reply_to"].startswith("_INBOX.")


def test_a_request_nobody_answers_times_out_with_the_correlation_id(nats_url: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            await smartrequest(nc, "nobody.home", [("x", "y", "text")], timeout=0.3,
                               correlation_id="5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20")
        finally:
            await nc.close()

    with pytest.raises(NatsBridgeError) as e:
        run(go())
    assert e.value.code == ERROR_DEADLINE and e.value.correlation_id == "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20"


def test_jetstream_publish_dedup_and_late_replay_since_a_start_time(nats_url: str, fileserver: str) -> None:
    async def go() -> dict[str, Any]:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        try:
            await ensure_stream(js, "HEALTH", ["health.>"], max_age=7200)
            old = await publish_to_stream(js, "health.cpu", [("reading", {"cpu": 0.1}, "dictionary")],
                                          fileserver_url=fileserver, msg_purpose="updateStatus")
            await asyncio.sleep(1.1)
            since = datetime.datetime.now(datetime.timezone.utc)
            await asyncio.sleep(0.05)
            sent = []
            for i in range(6):
                items: list[tuple[str, Any, str]] = [("reading", {"cpu": i / 10}, "dictionary")]
                if i % 2:
                    items.append(("dump", bytes([i]) * 600_000, "binary"))  # by link
                sent.append(await publish_to_stream(js, f"health.node{i}", items, fileserver_url=fileserver,
                                                    msg_purpose="updateStatus"))
            msg_id = new_uuid()
            first = await publish_to_stream(js, "health.dup", [("x", "once", "text")], msg_id=msg_id)
            again = await publish_to_stream(js, "health.dup", [("x", "once", "text")], msg_id=msg_id)
            info = await js.stream_info("HEALTH")

            consumer = EnvelopeConsumer(js, "HEALTH", start=since, filter_subject="health.>", max_messages=2,
                                        receive_options=ReceiveOptions().allow_host(fileserver))
            got = []
            for _ in range(7):
                d = await consumer.next(timeout=10)
                await d.ack()
                got.append(d)
            with pytest.raises(NatsBridgeError) as empty:
                await consumer.next(timeout=0.5)
            await consumer.close()
            return {"old": old, "sent": sent, "first": first, "again": again, "info": info, "got": got,
                    "empty": empty.value}
        finally:
            await nc.close()

    r = run(go())
    assert r["first"].stream_sequence == r["again"].stream_sequence, "the repeated msg_id was dropped"
    assert r["info"].state.messages == 8
    got = r["got"]
    assert [d.received.correlation_id for d in got[:6]] == [s.envelope["correlation_id"] for s in r["sent"]]
    assert r["old"].envelope["correlation_id"] not in {d.received.correlation_id for d in got}
    assert [d.stream_sequence for d in got] == sorted(d.stream_sequence for d in got)
    links = [d for d in got if any(p.transport == "link" for p in d.received.payloads)]
    assert len(links) == 3 and all(len(d.received.payload("dump").data) == 600_000 for d in links)
    assert r["empty"].code == ERROR_DEADLINE


def test_a_poisoned_message_is_terminated_and_the_consumer_goes_on(nats_url: str) -> None:
    async def go() -> tuple[NatsBridgeError, Any]:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        try:
            await ensure_stream(js, "POISON", ["poison.>"], max_age=600)
            await js.publish("poison.a", b"{not an envelope", headers={HEADER_CORRELATION_ID: "c-bad"})
            good = await publish_to_stream(js, "poison.b", [("ok", "fine", "text")])
            consumer = EnvelopeConsumer(js, "POISON")
            with pytest.raises(NatsBridgeError) as e:
                await consumer.next(timeout=5)
            d = await consumer.next(timeout=5)
            await d.ack()
            assert d.received.correlation_id == good.envelope["correlation_id"]
            return e.value, d
        finally:
            await nc.close()

    err, d = run(go())
    assert err.code == ERROR_NOT_ENVELOPE and err.correlation_id == "c-bad"
    assert d.received.tuples() == [("ok", "fine", "text")]


def test_link_ttl_outlives_the_stream() -> None:
    day = 24 * 60 * 60.0
    assert link_ttl_for(None, day) == day + LINK_TTL_SLACK_SECONDS
    assert link_ttl_for(60, day) == day + LINK_TTL_SLACK_SECONDS
    assert link_ttl_for(7 * day, day) == 7 * day
    assert link_ttl_for(None, 0) == math.inf, "a stream without max_age keeps its links for ever"
    assert link_ttl_for(60, 0) == math.inf
