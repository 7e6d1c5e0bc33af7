"""Every payload type through a real nats-server, direct and by link via the embedded file
server: the data comes back equal, the envelope is what a v1 writer must produce."""

from __future__ import annotations

import logging
from typing import Any

import nats
import pyarrow as pa
import pytest

import natsbridge_types as t
from natsbridge import ReceiveOptions, encode_table, smartreceive, smartsend
from natsbridge.transport import subscriptions_registered
from natsbridge_types.profile import (
    DEFAULT_SIZE_THRESHOLD,
    HEADER_CHANNELS,
    HEADER_CORRELATION_ID,
    HEADER_MSG_ID,
    HEADER_SAMPLE_RATE,
)

from .conftest import run


def sample(scale: int) -> list[tuple[str, Any, str]]:
    """All eight types; `scale` makes each serialized payload larger."""
    table = pa.table({"id": pa.array(range(100 * scale), pa.int64()), "name": [f"n{i}" for i in range(100 * scale)]})
    return [
        ("note", "héllo wörld 😀 " * scale, "text"),
        ("config", {"step_size": 0.01, "iterations": 1000, "tags": ["a", "ü"] * scale}, "dictionary"),
        ("table", table, "arrowtable"),
        ("rows", [{"a": i, "b": "x"} for i in range(10 * scale)], "jsontable"),
        ("image", bytes((i * 13) % 256 for i in range(200 * scale)), "image"),
        ("audio", bytes((i * 7) % 256 for i in range(300 * scale)), "audio"),
        ("video", bytes((i * 3) % 256 for i in range(250 * scale)), "video"),
        ("binary", bytes(range(256)) * scale, "binary"),
    ]


async def send_and_receive(nats_url: str, fileserver: str, payloads: list[tuple[str, Any, str]], threshold: int,
                           headers: dict[str, str] | None = None) -> tuple[Any, Any]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.subscribe("rt.test")
        sent = await smartsend("rt.test", payloads, connection=nc, fileserver_url=fileserver,
                               size_threshold=threshold, headers=headers)
        msg = await sub.next_msg(timeout=10)
        received = await smartreceive(msg, ReceiveOptions(allowed_hosts=()).allow_host(fileserver))
        return sent, received
    finally:
        await nc.close()


def check(sent: Any, received: Any, payloads: list[tuple[str, Any, str]], transport: str) -> None:
    assert t.validate_msg_envelope_v1(sent.envelope) == [], "a v1 writer's envelope"
    assert t.parse_msg_envelope_v1(sent.json) == sent.envelope
    assert received.envelope == sent.envelope
    assert received.headers[HEADER_MSG_ID] == sent.envelope["msg_id"]
    assert received.headers[HEADER_CORRELATION_ID] == sent.envelope["correlation_id"]
    for wire, got, (name, data, kind) in zip(sent.envelope["payloads"], received.payloads, payloads):
        assert wire["transport"] == transport, name
        assert wire["encoding"] == ("base64" if transport == "direct" else "none")
        assert wire["metadata"]["sha256"] == got.sha256
        assert got.as_tuple()[0] == name and got.payload_type == kind and got.transport == transport
        if kind == "arrowtable":
            assert got.data.equals(data)
            assert bytes(got.raw) == encode_table(data)
        else:
            assert got.data == data, name


@pytest.mark.parametrize("transport", ["direct", "link"])
def test_every_payload_type_round_trips(nats_url: str, fileserver: str, transport: str) -> None:
    payloads = sample(3)
    threshold = DEFAULT_SIZE_THRESHOLD if transport == "direct" else 1
    sent, received = run(send_and_receive(nats_url, fileserver, payloads, threshold))
    check(sent, received, payloads, transport)


def test_the_threshold_is_inclusive_and_per_payload(nats_url: str, fileserver: str) -> None:
    payloads = [("under", b"x" * 999, "binary"), ("at", b"y" * 1000, "binary"), ("over", b"z" * 1001, "binary")]
    sent, received = run(send_and_receive(nats_url, fileserver, payloads, 1000))
    assert [p["transport"] for p in sent.envelope["payloads"]] == ["direct", "link", "link"]
    assert [p.data for p in received.payloads] == [d for _, d, _ in payloads]


def test_extra_headers_travel_and_every_log_record_carries_the_correlation_id(
    nats_url: str, fileserver: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="natsbridge")
    payloads = [("pcm", b"\x01\x02" * 400_000, "audio"), ("cfg", {"a": 1}, "dictionary")]
    sent, received = run(send_and_receive(nats_url, fileserver, payloads, DEFAULT_SIZE_THRESHOLD,
                                          headers={HEADER_SAMPLE_RATE: "44100", HEADER_CHANNELS: "1"}))
    assert received.headers[HEADER_SAMPLE_RATE] == "44100" and received.headers[HEADER_CHANNELS] == "1"
    records = [r for r in caplog.records if r.name.startswith("natsbridge")]
    stages = {getattr(r, "stage") for r in records}
    assert {"serialize", "upload", "publish", "receive", "download", "deserialize"} <= stages, stages
    for r in records:
        assert getattr(r, "correlation_id") == sent.envelope["correlation_id"], r.getMessage()


def test_without_publishing_nothing_is_sent_but_the_envelope_is_whole(fileserver: str) -> None:
    async def go() -> Any:
        sent = await smartsend("nowhere", [("a", "text", "text"), ("b", b"\0" * 10, "binary")], publish=False,
                               fileserver_url=fileserver, correlation_id="5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20",
                               msg_purpose="command", metadata={"k": "v"})
        return sent, await smartreceive(sent.json)

    sent, received = run(go())
    assert sent.envelope["correlation_id"] == "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20"
    assert sent.envelope["msg_purpose"] == "command" and sent.envelope["metadata"] == {"k": "v"}
    assert received.tuples() == [("a", "text", "text"), ("b", b"\0" * 10, "binary")]


def test_a_url_connection_is_opened_and_closed_per_call(nats_url: str) -> None:
    async def go() -> Any:
        nc = await nats.connect(nats_url)
        sub = await nc.subscribe("by.url")
        await subscriptions_registered(nc)
        sent = await smartsend("by.url", [("n", 1, "dictionary")], connection=nats_url)
        msg = await sub.next_msg(timeout=5)
        await nc.close()
        return sent, msg

    sent, msg = run(go())
    assert msg.data.decode() == sent.json
    assert sent.envelope["broker_url"] == nats_url


def test_no_server_is_nats_connection_failed_quickly_and_without_credentials() -> None:
    from .conftest import free_port
    import time

    started = time.monotonic()
    with pytest.raises(Exception) as e:
        run(smartsend("x", [("a", "b", "text")], connection=f"nats://alice:s3cret@127.0.0.1:{free_port()}"))
    assert time.monotonic() - started < 10
    err = e.value
    assert getattr(err, "code") == "NATS_CONNECTION_FAILED" and getattr(err, "correlation_id")
    assert "s3cret" not in getattr(err, "report")() and "alice" not in repr(err)


def test_a_link_arrow_table_is_decoded_without_copying_its_columns(nats_url: str, fileserver: str) -> None:
    table = pa.table({"v": pa.array(range(200_000), pa.int64())})
    sent, received = run(send_and_receive(nats_url, fileserver, [("t", table, "arrowtable")], 1000))
    p = received.payloads[0]
    assert p.transport == "link" and isinstance(p.raw, bytearray)
    start = pa.py_buffer(p.raw).address
    column = p.data.column("v").chunk(0).buffers()[1]
    assert start <= column.address and column.address + column.size <= start + len(p.raw), "the column aliases the download"


def test_publish_message_sends_envelope_text_as_is(nats_url: str) -> None:
    from natsbridge import publish_message

    async def go() -> tuple[Any, Any]:
        nc = await nats.connect(nats_url)
        try:
            sub = await nc.subscribe("pm")
            sent = await smartsend("pm", [("a", "b", "text")], publish=False)
            await publish_message(nc, "pm", sent.json, sent.envelope["correlation_id"])
            msg = await sub.next_msg(timeout=5)
            return sent, msg
        finally:
            await nc.close()

    sent, msg = run(go())
    assert msg.data.decode() == sent.json
    assert msg.headers[HEADER_CORRELATION_ID] == sent.envelope["correlation_id"]
