"""AsyncAPI ``correlationId`` in typed sends (``typed.Encoded.correlation_id`` /
``typed.Encoded.correlation_header``), against a real nats-server: a message whose correlation
id travels in a NATS header (``$message.header#/X-Corr``), one whose payload holds its own
(``$message.payload#/id``), the caller's ``correlation_id`` winning over both, a payload id that
is no UUID failing as a bad ``correlation_id`` argument does, request/reply (the reply's header
carries the request's id), JetStream, and the union codec keeping both fields. The codecs are
what a generated package writes: ``mypy --strict`` checks them with the rest of the tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, TypedDict

import nats
import pytest

from natsbridge import NatsBridgeError, ensure_stream, typed
from natsbridge.receive import Received
from natsbridge.typed import MessageCodec, Variant
from natsbridge.wire import new_uuid

from .conftest import run

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Issue:
    path: str
    message: str


class Ping(TypedDict):
    n: int


class Order(TypedDict):
    id: str
    item: str


def validate_ping(value: object, *, reader: bool = False) -> list[Issue]:
    if not isinstance(value, dict) or not isinstance(value.get("n"), int):
        return [Issue("/n", "must be an integer")]
    return []


def validate_order(value: object, *, reader: bool = False) -> list[Issue]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not isinstance(value.get("item"), str):
        return [Issue("/", "must be {id, item}")]
    return []


PING_JSON: Final[typed.JsonCodec[Ping]] = typed.JsonCodec("ping", "dictionary", "Ping", validate_ping)
ORDER_JSON: Final[typed.JsonCodec[Order]] = typed.JsonCodec("order", "dictionary", "Order", validate_order)


class PingCodec:
    """``correlationId: {location: "$message.header#/X-Corr"}``; the message also declares
    ``X-Corr`` as a header (the id set by the send wins over it)."""

    name = "ping"
    payload_type = "dictionary"

    def encode(self, message: Ping) -> typed.Encoded:
        payload = PING_JSON.encode(message).payload
        headers = {"X-Corr": "declared-by-the-message", "x-corr": "lower", "Other": "kept"}
        return typed.Encoded(payload, headers, correlation_header="X-Corr")

    def decode(self, received: Received) -> Ping:
        return PING_JSON.decode(received)


class OrderCodec:
    """``correlationId: {location: "$message.payload#/id"}``."""

    name = "order"
    payload_type = "dictionary"

    def encode(self, message: Order) -> typed.Encoded:
        return typed.Encoded(ORDER_JSON.encode(message).payload, {}, correlation_id=message["id"])

    def decode(self, received: Received) -> Order:
        return ORDER_JSON.decode(received)


PING_CODEC: Final[MessageCodec[Ping]] = PingCodec()
ORDER_CODEC: Final[MessageCodec[Order]] = OrderCodec()

PingVariant: TypeAlias = Variant[Literal["ping"], Ping]
OrderVariant: TypeAlias = Variant[Literal["order"], Order]
PingOrOrder: TypeAlias = PingVariant | OrderVariant


def headers_named(headers: Mapping[str, str], name: str) -> list[str]:
    """The values of the headers named ``name``, whatever their case."""
    return [v for k, v in headers.items() if k.lower() == name.lower()]


async def failure(send: Awaitable[object]) -> NatsBridgeError:
    with pytest.raises(NatsBridgeError) as e:
        await send
    return e.value


def test_the_existing_two_field_encoded_still_works() -> None:
    encoded = typed.Encoded(("x", {}, "dictionary"), {})
    assert (encoded.correlation_id, encoded.correlation_header) == (None, None)
    assert typed.Encoded._fields == ("payload", "headers", "correlation_id", "correlation_header")


def test_union_codec_passes_both_fields_through_unchanged() -> None:
    union: typed.UnionCodec[PingOrOrder] = typed.UnionCodec(PING_CODEC, ORDER_CODEC)
    cid = new_uuid()
    order = union.encode(OrderVariant("order", Order(id=cid, item="tea")))
    assert order == ORDER_CODEC.encode(Order(id=cid, item="tea"))
    assert order.correlation_id == cid
    ping = union.encode(PingVariant("ping", Ping(n=1)))
    assert ping == PING_CODEC.encode(Ping(n=1))
    assert ping.correlation_header == "X-Corr"


def test_correlation_header_carries_the_envelope_id(nats_url: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            bridge = typed.Bridge(nc)
            sub = await typed.subscribe(bridge, "corr.ping", PING_CODEC)
            await typed.publish(bridge, "corr.ping", PING_CODEC, Ping(n=1))
            first = await sub.next(timeout=5)
            assert UUID.fullmatch(first.correlation_id)
            assert first.envelope["correlation_id"] == first.correlation_id
            assert headers_named(first.headers, "X-Corr") == [first.correlation_id]
            assert first.headers["Other"] == "kept"
            assert first.message == Ping(n=1)

            override = new_uuid()
            await typed.publish(bridge, "corr.ping", PING_CODEC, Ping(n=2), correlation_id=override)
            second = await sub.next(timeout=5)
            assert second.envelope["correlation_id"] == override
            assert headers_named(second.headers, "X-Corr") == [override]

            await typed.publish(bridge, "corr.ping", PING_CODEC, Ping(n=3))
            third = await sub.next(timeout=5)
            assert third.correlation_id != first.correlation_id
            assert headers_named(third.headers, "X-Corr") == [third.correlation_id]
            await sub.unsubscribe()
        finally:
            await nc.close()

    run(go())


def test_correlation_id_from_the_payload(nats_url: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            bridge = typed.Bridge(nc)
            sub = await typed.subscribe(bridge, "corr.order", ORDER_CODEC)
            own = new_uuid()
            await typed.publish(bridge, "corr.order", ORDER_CODEC, Order(id=own, item="tea"))
            first = await sub.next(timeout=5)
            assert first.correlation_id == own
            assert first.envelope["correlation_id"] == own
            assert first.message == Order(id=own, item="tea")

            override = new_uuid()
            await typed.publish(bridge, "corr.order", ORDER_CODEC, Order(id=new_uuid(), item="cake"),
                                correlation_id=override)
            second = await sub.next(timeout=5)
            assert second.envelope["correlation_id"] == override

            # A payload id that is no UUID: the error a bad `correlation_id` argument gives.
            for send in (typed.publish, typed.publish_to_stream):
                bad_option = await failure(send(bridge, "corr.order", ORDER_CODEC, Order(id=new_uuid(), item="x"),
                                                correlation_id="order-17"))
                bad_payload = await failure(send(bridge, "corr.order", ORDER_CODEC, Order(id="order-17", item="x")))
                assert (bad_payload.code, bad_payload.message, bad_payload.correlation_id) == (
                    bad_option.code, bad_option.message, bad_option.correlation_id)
            bad_option = await failure(typed.request(bridge, "corr.nobody", ORDER_CODEC, Order(id=new_uuid(), item="x"),
                                                     ORDER_CODEC, correlation_id="order-17"))
            bad_payload = await failure(typed.request(bridge, "corr.nobody", ORDER_CODEC, Order(id="order-17", item="x"),
                                                      ORDER_CODEC))
            assert (bad_payload.code, bad_payload.message) == (bad_option.code, bad_option.message)
            # Nothing was published; a valid caller id wins over a bad payload id.
            rescued = new_uuid()
            await typed.publish(bridge, "corr.order", ORDER_CODEC, Order(id="order-17", item="pie"),
                                correlation_id=rescued)
            third = await sub.next(timeout=5)
            assert third.correlation_id == rescued
            assert third.message == Order(id="order-17", item="pie")
            await sub.unsubscribe()
        finally:
            await nc.close()

    run(go())


def test_the_reply_header_carries_the_request_id(nats_url: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            bridge = typed.Bridge(nc, timeout=5.0)
            # Requests are `order`s (id in the payload), replies `ping`s (id in X-Corr).
            server = await typed.subscribe(bridge, "corr.serve", ORDER_CODEC)

            async def serve() -> None:
                for i in range(2):
                    req = await server.next(timeout=5)
                    await typed.reply(bridge, req, PING_CODEC, Ping(n=i))

            serving = asyncio.create_task(serve())
            own = new_uuid()
            answer = await typed.request(bridge, "corr.serve", ORDER_CODEC, Order(id=own, item="tea"), PING_CODEC)
            assert answer.correlation_id == own
            assert headers_named(answer.headers, "X-Corr") == [own]
            assert answer.message == Ping(n=0)
            override = new_uuid()
            second = await typed.request(bridge, "corr.serve", ORDER_CODEC, Order(id=new_uuid(), item="tea"),
                                         PING_CODEC, correlation_id=override)
            assert second.correlation_id == override
            assert headers_named(second.headers, "X-Corr") == [override]
            await serving
            await server.unsubscribe()

            # A reply whose payload holds another id still carries the request's; the request's
            # own correlation header is set.
            pings = await typed.subscribe(bridge, "corr.serve2", PING_CODEC)

            async def serve2() -> None:
                req = await pings.next(timeout=5)
                assert headers_named(req.headers, "X-Corr") == [req.correlation_id]
                await typed.reply(bridge, req, ORDER_CODEC, Order(id=new_uuid(), item="reply"))

            serving2 = asyncio.create_task(serve2())
            cid = new_uuid()
            reply = await typed.request(bridge, "corr.serve2", PING_CODEC, Ping(n=9), ORDER_CODEC, correlation_id=cid)
            assert reply.correlation_id == cid
            await serving2
            await pings.unsubscribe()
        finally:
            await nc.close()

    run(go())


def test_publish_to_stream_carries_both(nats_url: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            bridge = typed.Bridge(nc)
            await ensure_stream(bridge.jetstream, "CORR", ["corr.stream.>"], max_age=3600)
            own = new_uuid()
            await typed.publish_to_stream(bridge, "corr.stream.order", ORDER_CODEC, Order(id=own, item="tea"))
            await typed.publish_to_stream(bridge, "corr.stream.ping", PING_CODEC, Ping(n=5))
            async with typed.replay(bridge, "CORR", ORDER_CODEC, filter_subject="corr.stream.order") as orders:
                order = await orders.next(timeout=5)
                assert order.correlation_id == own
                await order.ack()
            async with typed.replay(bridge, "CORR", PING_CODEC, filter_subject="corr.stream.ping") as pings:
                ping = await pings.next(timeout=5)
                assert UUID.fullmatch(ping.correlation_id)
                assert headers_named(ping.received.headers or {}, "X-Corr") == [ping.correlation_id]
                await ping.ack()
        finally:
            await nc.close()

    run(go())


def test_publish_with_a_union_codec(nats_url: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            bridge = typed.Bridge(nc)
            union: typed.UnionCodec[PingOrOrder] = typed.UnionCodec(PING_CODEC, ORDER_CODEC)
            sub = await typed.subscribe(bridge, "corr.union", union)
            cid = new_uuid()
            await typed.publish(bridge, "corr.union", union, OrderVariant("order", Order(id=cid, item="tea")))
            first = await sub.next(timeout=5)
            assert first.correlation_id == cid
            await typed.publish(bridge, "corr.union", union, PingVariant("ping", Ping(n=2)))
            second = await sub.next(timeout=5)
            assert headers_named(second.headers, "X-Corr") == [second.correlation_id]
            await sub.unsubscribe()
        finally:
            await nc.close()

    run(go())
