"""Writers are strict (schema/README.md, rule 12): before anything is uploaded or published,
every sending call checks its envelope (or error response) as a v1 writer must write it and
refuses with ``SERIALIZATION_ERROR`` naming the field. Against a real nats-server: nothing
reaches the subject, and no upload is tried (the file server given is not there, so an
upload would fail with ``UPLOAD_FAILED`` first)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from natsbridge import NatsBridgeError, ReceiveOptions, schema_check, smartreceive, smartreply, smartreply_error, smartsend, typed
from natsbridge.jetstream import ensure_stream, publish_to_stream
from natsbridge.send import SendOptions
from natsbridge.transport import subscriptions_registered
from natsbridge.wire import new_uuid
from natsbridge_types import MSG_PURPOSE_VALUES, MsgEnvelopeV1
from natsbridge_types.profile import ERROR_DEADLINE, ERROR_WRITER_RULE

from .conftest import free_port, run

NOWHERE = f"http://127.0.0.1:{free_port()}"
"""A file server that is not there: an upload tried would be UPLOAD_FAILED."""
BIG = [("blob", b"x" * 64, "binary")]
"""A payload that goes by link with ``size_threshold=1``."""


async def refused_and_silent(nats_url: str, send: Callable[[Client, str], Awaitable[Any]]) -> NatsBridgeError:
    """Runs ``send(nc, subject)``; returns the error it raises after checking that nothing
    reached ``subject`` (a good envelope sent next arrives first)."""
    nc = await nats.connect(nats_url)
    subject = f"writer.{new_uuid()}"
    try:
        sub = await nc.subscribe(subject)
        await subscriptions_registered(nc)
        with pytest.raises(NatsBridgeError) as e:
            await send(nc, subject)
        good = await smartsend(subject, [("ok", "fine", "text")], connection=nc, flush=True)
        first = await sub.next_msg(timeout=5)
        assert (await smartreceive(first, ReceiveOptions(allowed_hosts=()))).correlation_id == good.envelope["correlation_id"]
        return e.value
    finally:
        await nc.close()


def writer_error(nats_url: str, send: Callable[[Client, str], Awaitable[Any]], field: str) -> NatsBridgeError:
    err = run(refused_and_silent(nats_url, send))
    assert err.code == ERROR_WRITER_RULE, err
    assert f"`{field}`" in err.message, err.message
    return err


@pytest.mark.parametrize("kwargs, field", [
    ({"msg_purpose": "request"}, "msg_purpose"),
    ({"msg_purpose": ""}, "msg_purpose"),
    ({"correlation_id": "not-a-uuid"}, "correlation_id"),
    ({"correlation_id": "00000001-0000-4000-8000-000000000001\n"}, "correlation_id"),
    ({"msg_id": "00000001-0000-4000-8000-00000000000"}, "msg_id"),
    ({"sender_name": ""}, "sender_name"),
])
def test_smartsend_refuses_an_envelope_a_v1_writer_must_not_write(nats_url: str, kwargs: dict[str, Any], field: str) -> None:
    async def send(nc: Client, subject: str) -> Any:
        return await smartsend(subject, BIG, connection=nc, fileserver_url=NOWHERE, size_threshold=1, **kwargs)

    writer_error(nats_url, send, field)


def test_an_empty_subject_is_an_empty_send_to(nats_url: str) -> None:
    async def send(nc: Client, subject: str) -> Any:
        return await smartsend("", BIG, connection=nc, fileserver_url=NOWHERE, size_threshold=1)

    writer_error(nats_url, send, "send_to")


def test_without_publishing_the_check_is_the_same() -> None:
    with pytest.raises(NatsBridgeError) as e:
        run(smartsend("s", [("a", "b", "text")], publish=False, msg_purpose="request"))
    assert e.value.code == ERROR_WRITER_RULE and "`msg_purpose`" in e.value.message and e.value.correlation_id


def test_every_v1_purpose_is_written() -> None:
    for purpose in MSG_PURPOSE_VALUES:
        sent = run(smartsend("s", [("a", "b", "text")], publish=False, msg_purpose=purpose))
        assert sent.envelope["msg_purpose"] == purpose


REQUEST: MsgEnvelopeV1 = {
    "correlation_id": "00000001-0000-4000-8000-000000000001", "msg_id": "00000002-0000-4000-8000-000000000002",
    "timestamp": "2026-01-01T00:00:00.000Z", "send_to": "svc", "msg_purpose": "command", "sender_name": "client",
    "sender_id": "c1", "receiver_name": "", "receiver_id": "", "reply_to": "", "reply_to_msg_id": "", "payloads": [],
}


def test_smartreply_is_checked_too(nats_url: str) -> None:
    async def send(nc: Client, subject: str) -> Any:
        return await smartreply(nc, {**REQUEST, "reply_to": subject}, BIG, msg_purpose="request",
                                fileserver_url=NOWHERE, size_threshold=1)

    err = writer_error(nats_url, send, "msg_purpose")
    assert err.correlation_id == REQUEST["correlation_id"]


def test_an_error_response_with_a_code_v1_does_not_know_is_not_written(nats_url: str) -> None:
    relayed = NatsBridgeError.from_error_body({"code": "QUOTA_EXCEEDED", "message": "try tomorrow"}, None)

    async def send(nc: Client, subject: str) -> Any:
        return await smartreply_error(nc, {**REQUEST, "reply_to": subject}, relayed)

    writer_error(nats_url, send, "error.code")


def test_an_error_response_v1_knows_is_written(nats_url: str) -> None:
    async def go() -> Any:
        nc = await nats.connect(nats_url)
        try:
            sub = await nc.subscribe("replies.ok")
            await subscriptions_registered(nc)
            await smartreply_error(nc, {**REQUEST, "reply_to": "replies.ok"}, NatsBridgeError(ERROR_DEADLINE, "busy"))
            return await sub.next_msg(timeout=5)
        finally:
            await nc.close()

    assert b'"code":"TIMEOUT"' in run(go()).data


def test_publish_to_stream_is_checked_too(nats_url: str) -> None:
    async def send(nc: Client, subject: str) -> Any:
        js = nc.jetstream()
        await ensure_stream(js, f"W{new_uuid()[:8]}", [subject], max_age=60, memory=True)
        return await publish_to_stream(js, subject, BIG, msg_purpose="request", fileserver_url=NOWHERE, size_threshold=1)

    writer_error(nats_url, send, "msg_purpose")


class TextCodec:
    """A minimal typed message: one text payload."""

    name = "note"
    payload_type = "text"

    def encode(self, message: str) -> typed.Encoded:
        return typed.Encoded((self.name, message, self.payload_type), {})

    def decode(self, received: Any) -> str:
        return typed.text_payload(received, self.name)


def test_a_typed_publish_is_checked_too(nats_url: str) -> None:
    async def send(nc: Client, subject: str) -> Any:
        bridge = typed.Bridge(nc, send=SendOptions(fileserver_url=NOWHERE, size_threshold=1))
        return await typed.publish(bridge, subject, TextCodec(), "hello", purpose="request")

    writer_error(nats_url, send, "msg_purpose")


def test_the_check_is_cheap_on_the_hot_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A good envelope never reaches the generated (jsonschema) validator when sending; a bad
    one does, as a writer (enums closed)."""
    calls: list[bool] = []
    original = getattr(schema_check, "validate_msg_envelope_v1")

    def counting(value: object, *, reader: bool = False) -> Any:
        calls.append(reader)
        return original(value, reader=reader)

    monkeypatch.setattr(schema_check, "validate_msg_envelope_v1", counting)
    run(smartsend("s", [("a", {"k": 1}, "dictionary")], publish=False))
    assert calls == []
    with pytest.raises(NatsBridgeError):
        run(smartsend("s", [("a", 1, "dictionary")], publish=False, msg_purpose="request"))
    assert calls == [False]


def test_flushing_is_asked_for_or_done_on_a_connection_of_its_own(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``flush`` defaults to false (profile ``DEFAULT_FLUSH``): smartsend flushes a caller's
    connection only when asked, and always flushes one it opened for the call."""
    flushed: list[Client] = []
    original = Client.flush

    async def counting(self: Client, timeout: int = 10) -> None:
        flushed.append(self)
        await original(self, timeout)

    monkeypatch.setattr(Client, "flush", counting)

    async def go() -> tuple[int, int, int, bytes]:
        nc = await nats.connect(nats_url)
        try:
            sub = await nc.subscribe("flush.test")
            await subscriptions_registered(nc)
            flushed.clear()
            await smartsend("flush.test", [("a", "1", "text")], connection=nc)
            default = len(flushed)
            await smartsend("flush.test", [("a", "2", "text")], connection=nc, flush=True)
            asked = len(flushed) - default
            before = len(flushed)
            await smartsend("flush.test", [("a", "3", "text")], connection=nats_url)
            own = len(flushed) - before
            msgs = [await sub.next_msg(timeout=5) for _ in range(3)]
            return default, asked, own, b"".join(m.data[-10:] for m in msgs)
        finally:
            await nc.close()

    default, asked, own, _ = run(go())
    assert (default, asked, own) == (0, 1, 1)


def test_an_unflushed_send_still_arrives(nats_url: str) -> None:
    async def go() -> list[str]:
        nc = await nats.connect(nats_url)
        other = await nats.connect(nats_url)
        try:
            sub = await other.subscribe("noflush")
            await subscriptions_registered(other)
            for i in range(20):
                await smartsend("noflush", [("i", str(i), "text")], connection=nc)
            got = []
            for _ in range(20):
                received = await smartreceive(await sub.next_msg(timeout=5))
                got.append(received.payloads[0].data)
            return got
        finally:
            await nc.close()
            await other.close()

    assert run(go()) == [str(i) for i in range(20)]
