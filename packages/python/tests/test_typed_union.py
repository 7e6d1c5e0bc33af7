"""Several messages on one channel (``typed.UnionCodec`` of ``typed.Variant`` values): a union
codec dispatched by the payload's ``dataname``, in memory and through ``typed.publish`` /
``typed.subscribe`` on a real nats-server; its errors (an unknown variant on send, no matching
payload on receipt, duplicate names); and ``typed.token_of``, a channel parameter restricted to
an enum. The module-level declarations are what a generated package writes: ``mypy --strict``
checks them with the rest of the tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NotRequired, TypeAlias, TypedDict, TypeVar

import nats
import pytest

from natsbridge import NatsBridgeError, smartreceive, smartsend, typed
from natsbridge.receive import Received
from natsbridge.typed import MessageCodec, Variant
from natsbridge.wire import new_uuid
from natsbridge_types.profile import (
    ERROR_BAD_BYTES,
    ERROR_BAD_OPTION,
    ERROR_UNKNOWN_PAYLOAD_TYPE,
    ERROR_WRITER_RULE,
)

from .conftest import run

T = TypeVar("T")


# --- what a generated package writes for a channel with two messages ---------------------


class LightMeasured(TypedDict):
    lumens: int


class TurnOn(TypedDict):
    reason: NotRequired[str]


@dataclass(frozen=True)
class Issue:
    path: str
    message: str


def validate_light_measured(value: object, *, reader: bool = False) -> list[Issue]:
    if not isinstance(value, dict) or not isinstance(value.get("lumens"), int) or value["lumens"] < 0:
        return [Issue("/lumens", "must be an integer of 0 or more")]
    return []


def validate_turn_on(value: object, *, reader: bool = False) -> list[Issue]:
    if not isinstance(value, dict) or not isinstance(value.get("reason", ""), str):
        return [Issue("/reason", "must be a string")]
    return []


LIGHT_MEASURED_CODEC: Final[MessageCodec[LightMeasured]] = typed.JsonCodec(
    "lightMeasured", "dictionary", "LightMeasured", validate_light_measured)
TURN_ON_CODEC: Final[MessageCodec[TurnOn]] = typed.JsonCodec("turnOn", "dictionary", "TurnOn", validate_turn_on)

StreetlightMessage: TypeAlias = Variant[Literal["lightMeasured"], LightMeasured] | Variant[Literal["turnOn"], TurnOn]
# `Variant("turnOn", {...})` where a union is expected infers `Variant[str, ...]` under mypy:
# a value is built through its variant's alias, `TurnOnVariant("turnOn", {...})`.
LightMeasuredVariant: TypeAlias = Variant[Literal["lightMeasured"], LightMeasured]
TurnOnVariant: TypeAlias = Variant[Literal["turnOn"], TurnOn]
STREETLIGHT_MESSAGE_CODEC: Final[MessageCodec[StreetlightMessage]] = typed.UnionCodec(LIGHT_MEASURED_CODEC, TURN_ON_CODEC)


class NoteCodec:
    """A ``text`` message, to mix payload types in one union."""

    name = "note"
    payload_type = "text"

    def encode(self, message: str) -> typed.Encoded:
        return typed.Encoded(("note", message, "text"), {})

    def decode(self, received: Received) -> str:
        return typed.text_payload(received, "note")


NOTE_CODEC: Final[MessageCodec[str]] = NoteCodec()


async def received_of(payloads: Sequence[tuple[str, Any, str]], correlation_id: str | None = None) -> Received:
    """The envelope ``payloads`` would travel in, decoded again (no server)."""
    sent = await smartsend("streetlight.in.memory", list(payloads), publish=False, correlation_id=correlation_id)
    return await smartreceive(sent.json)


def round_trip(message: StreetlightMessage) -> StreetlightMessage:
    encoded = STREETLIGHT_MESSAGE_CODEC.encode(message)
    return STREETLIGHT_MESSAGE_CODEC.decode(run(received_of([encoded.payload])))


# --- in memory -----------------------------------------------------------------------------


def test_each_variant_round_trips_as_its_own_payload() -> None:
    assert STREETLIGHT_MESSAGE_CODEC.name == "lightMeasured | turnOn"
    assert STREETLIGHT_MESSAGE_CODEC.payload_type == "dictionary"
    assert isinstance(STREETLIGHT_MESSAGE_CODEC, MessageCodec)
    # Mixed payload types: the first variant's (used only in messages).
    assert typed.UnionCodec(NOTE_CODEC, LIGHT_MEASURED_CODEC).payload_type == "text"
    assert typed.UnionCodec(LIGHT_MEASURED_CODEC, NOTE_CODEC).payload_type == "dictionary"

    light: StreetlightMessage = LightMeasuredVariant("lightMeasured", {"lumens": 120})
    encoded = STREETLIGHT_MESSAGE_CODEC.encode(light)
    assert encoded.payload == ("lightMeasured", {"lumens": 120}, "dictionary")
    assert encoded.headers == {}
    assert round_trip(light) == light

    on: StreetlightMessage = TurnOnVariant("turnOn", {"reason": "dusk"})
    assert STREETLIGHT_MESSAGE_CODEC.encode(on).payload == ("turnOn", {"reason": "dusk"}, "dictionary")
    back = round_trip(on)
    assert back == on
    assert back.name == "turnOn" and back.value == {"reason": "dusk"}

    mixed: typed.UnionCodec[Variant[Literal["note"], str] | Variant[Literal["lightMeasured"], LightMeasured]] = (
        typed.UnionCodec(NOTE_CODEC, LIGHT_MEASURED_CODEC))
    assert mixed.decode(run(received_of([("note", "hello", "text")]))) == Variant("note", "hello")
    assert mixed.decode(run(received_of([("lightMeasured", {"lumens": 3}, "dictionary")]))) == Variant(
        "lightMeasured", {"lumens": 3})


def test_decode_uses_the_first_codec_in_the_given_order_with_a_payload_in_the_envelope() -> None:
    received = run(received_of([("other", 1, "dictionary"), ("turnOn", {}, "dictionary"),
                                ("lightMeasured", {"lumens": 7}, "dictionary")]))
    assert STREETLIGHT_MESSAGE_CODEC.decode(received) == Variant("lightMeasured", {"lumens": 7})
    reversed_codec: MessageCodec[StreetlightMessage] = typed.UnionCodec(TURN_ON_CODEC, LIGHT_MEASURED_CODEC)
    assert reversed_codec.decode(received) == Variant("turnOn", {})


def test_no_variant_payload_is_invalid_payload_type_and_a_variant_error_passes_unchanged() -> None:
    cid = new_uuid()
    with pytest.raises(NatsBridgeError) as e:
        STREETLIGHT_MESSAGE_CODEC.decode(run(received_of([("x", {"lumens": 1}, "dictionary")], cid)))
    assert e.value.code == ERROR_UNKNOWN_PAYLOAD_TYPE
    assert e.value.message == "the envelope has none of the payloads `lightMeasured`, `turnOn` (payloads: `x` (dictionary))"
    assert e.value.correlation_id == cid
    assert e.value.dataname == "lightMeasured | turnOn"

    # A variant's schema refuses the value: its DESERIALIZATION_ERROR, its dataname.
    with pytest.raises(NatsBridgeError) as e:
        STREETLIGHT_MESSAGE_CODEC.decode(run(received_of([("lightMeasured", {"lumens": -1}, "dictionary")])))
    assert (e.value.code, e.value.dataname) == (ERROR_BAD_BYTES, "lightMeasured")
    assert "lumens" in e.value.message
    # The right name with another payload type: the variant's INVALID_PAYLOAD_TYPE.
    with pytest.raises(NatsBridgeError) as e:
        STREETLIGHT_MESSAGE_CODEC.decode(run(received_of([("turnOn", "now", "text")])))
    assert (e.value.code, e.value.dataname) == (ERROR_UNKNOWN_PAYLOAD_TYPE, "turnOn")
    # Not a Received at all.
    with pytest.raises(NatsBridgeError) as e:
        STREETLIGHT_MESSAGE_CODEC.decode({})  # type: ignore[arg-type]
    assert e.value.code == ERROR_BAD_OPTION and "received" in e.value.message


def test_encode_refuses_a_value_naming_no_variant_with_serialization_error() -> None:
    with pytest.raises(NatsBridgeError) as e:
        STREETLIGHT_MESSAGE_CODEC.encode(Variant("turnOff", {}))  # type: ignore[arg-type]
    assert e.value.code == ERROR_WRITER_RULE
    assert e.value.message == "message `turnOff` is not one of `lightMeasured`, `turnOn`"
    not_a_name: Any = 3
    bad_values: list[Any] = [None, "turnOn", {"name": "turnOn", "value": {}}, ("turnOn", {}), Variant(not_a_name, {})]
    for bad in bad_values:
        with pytest.raises(NatsBridgeError) as e:
            STREETLIGHT_MESSAGE_CODEC.encode(bad)
        assert e.value.code == ERROR_WRITER_RULE, bad
        assert "`lightMeasured`, `turnOn`" in e.value.message, bad
    # The variant's own refusal, unchanged.
    with pytest.raises(NatsBridgeError) as e:
        STREETLIGHT_MESSAGE_CODEC.encode(LightMeasuredVariant("lightMeasured", {"lumens": -2}))
    assert (e.value.code, e.value.dataname) == (ERROR_WRITER_RULE, "lightMeasured")
    assert "not a valid LightMeasured" in e.value.message


def test_union_codec_refuses_no_codecs_non_codecs_and_duplicate_names() -> None:
    cases: list[tuple[Any, str]] = [
        (lambda: typed.UnionCodec(), "at least one message codec"),
        (lambda: typed.UnionCodec(LIGHT_MEASURED_CODEC, {"name": "x"}),  # type: ignore[arg-type]
         "`codecs[1]` must be a message codec"),
        (lambda: typed.UnionCodec(None), "`codecs[0]` must be a message codec"),  # type: ignore[arg-type]
        (lambda: typed.UnionCodec(LIGHT_MEASURED_CODEC, TURN_ON_CODEC,
                                  typed.JsonCodec("turnOn", "dictionary", "TurnOn", validate_turn_on)),
         "two codecs are named `turnOn`"),
        (lambda: typed.UnionCodec(LIGHT_MEASURED_CODEC, codecs=[TURN_ON_CODEC]),  # type: ignore[call-arg]
         "unknown option `codecs`"),
    ]
    for make, words in cases:
        with pytest.raises(NatsBridgeError) as e:
            make()
        assert e.value.code == ERROR_BAD_OPTION, words
        assert words in e.value.message and "UnionCodec" in e.value.message, e.value.message


def test_token_of_takes_a_value_of_the_enum_after_tokens_checks() -> None:
    allowed = ("red", "green")
    assert typed.token_of("color", "red", allowed) == "red"
    assert typed.token_of("color", "green", ["red", "green"], wildcard_ok=False) == "green"
    with pytest.raises(NatsBridgeError) as e:
        typed.token_of("color", "blue", allowed)
    assert (e.value.code, e.value.message) == (ERROR_BAD_OPTION, "parameter `color`: `blue` is not one of `red`, `green`")
    # What `token` refuses, with token's own error, even when listed.
    for value in ["a.b", "", ">", "two words", 7]:
        with pytest.raises(NatsBridgeError) as expected:
            typed.token("color", value)  # type: ignore[arg-type]
        with pytest.raises(NatsBridgeError) as e:
            typed.token_of("color", value, [*allowed, str(value)])  # type: ignore[arg-type]
        assert (e.value.code, e.value.message) == (expected.value.code, expected.value.message), value
    with pytest.raises(NatsBridgeError) as e:
        typed.token_of("color", "*", allowed)
    assert e.value.code == ERROR_BAD_OPTION and "one NATS subject token" in e.value.message
    assert typed.token_of("color", "*", allowed, True) == "*"
    with pytest.raises(NatsBridgeError) as e:
        typed.token_of("color", "blue", allowed, wildcard_ok=True)
    assert e.value.code == ERROR_BAD_OPTION and "`blue` is not one of" in e.value.message
    bad_args: list[tuple[Any, ...]] = [(1, "red", allowed, False), ("color", "red", "red", False), ("color", "red", [1], False),
                                       ("color", "red", allowed, "yes")]
    for args in bad_args:
        with pytest.raises(NatsBridgeError) as e:
            typed.token_of(*args)
        assert e.value.code == ERROR_BAD_OPTION and "token_of" in e.value.message, args


# --- on a real nats-server ----------------------------------------------------------------


async def next_item(it: AsyncIterator[T], timeout: float = 5.0) -> T:
    return await asyncio.wait_for(anext(it), timeout)


def test_one_subscription_hands_each_message_its_own_type(nats_url: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            bridge = typed.Bridge(nc)
            lamps = ["lamp1", "lamp2"]
            subject = f"streetlight.{typed.token_of('lamp', 'lamp1', lamps)}.events"
            wildcard = f"streetlight.{typed.token_of('lamp', '*', lamps, wildcard_ok=True)}.events"
            sub = await typed.subscribe(bridge, wildcard, STREETLIGHT_MESSAGE_CODEC)
            cid = new_uuid()
            await typed.publish(bridge, subject, STREETLIGHT_MESSAGE_CODEC, LightMeasuredVariant("lightMeasured", {"lumens": 42}),
                                correlation_id=cid)
            await typed.publish(bridge, subject, STREETLIGHT_MESSAGE_CODEC, TurnOnVariant("turnOn", {}))
            # A message of neither kind, from plain smartsend: an error, and the subscription goes on.
            bad_cid = new_uuid()
            await smartsend(subject, [("turnOff", {}, "dictionary")], connection=nc, correlation_id=bad_cid)
            await smartsend(subject, [("turnOn", {"reason": "plain"}, "dictionary")], connection=nc)
            items = [await next_item(sub) for _ in range(4)]
            await sub.unsubscribe()

            first, second, third, fourth = items
            assert isinstance(first, typed.Incoming), first
            assert first.message == Variant("lightMeasured", {"lumens": 42})
            assert first.correlation_id == cid
            assert first.envelope["send_to"] == subject
            assert [(p.dataname, p.payload_type) for p in first.received.payloads] == [("lightMeasured", "dictionary")]
            assert isinstance(second, typed.Incoming), second
            assert second.message == Variant("turnOn", {})
            assert isinstance(third, NatsBridgeError), third
            assert (third.code, third.correlation_id) == (ERROR_UNKNOWN_PAYLOAD_TYPE, bad_cid)
            assert "none of the payloads `lightMeasured`, `turnOn` (payloads: `turnOff` (dictionary))" in third.message
            assert isinstance(fourth, typed.Incoming), fourth
            assert fourth.message == Variant("turnOn", {"reason": "plain"})
        finally:
            await nc.close()

    run(go())


def test_publishing_a_value_naming_no_variant_is_serialization_error_and_nothing_is_sent(nats_url: str) -> None:
    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            bridge = typed.Bridge(nc)
            subject = "streetlight.lamp2.events"
            sub = await typed.subscribe(bridge, subject, STREETLIGHT_MESSAGE_CODEC)
            cid = new_uuid()
            turn_off: Any = Variant("turnOff", {})
            with pytest.raises(NatsBridgeError) as e:
                await typed.publish(bridge, subject, STREETLIGHT_MESSAGE_CODEC, turn_off, correlation_id=cid)
            assert (e.value.code, e.value.correlation_id) == (ERROR_WRITER_RULE, cid)
            assert "`turnOff` is not one of `lightMeasured`, `turnOn`" in e.value.message
            with pytest.raises(NatsBridgeError) as e:
                await typed.publish(bridge, subject, STREETLIGHT_MESSAGE_CODEC,
                                    LightMeasuredVariant("lightMeasured", {"lumens": -1}))
            assert (e.value.code, e.value.dataname) == (ERROR_WRITER_RULE, "lightMeasured")
            with pytest.raises(asyncio.TimeoutError):
                await next_item(sub, 0.5)
            await sub.unsubscribe()
        finally:
            await nc.close()

    run(go())
