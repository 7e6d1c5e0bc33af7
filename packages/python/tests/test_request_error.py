"""A responder that cannot handle a request answers with an ``error_response_v1``
(``smartreply_error``); ``smartrequest`` raises it as a remote NatsBridgeError. Against a real
nats-server: the requester gets the responder's code, message and the request's correlation
id; what is published validates against the generated writer schema; a normal reply is
untouched; a reply that is neither an envelope nor an error response stays INVALID_ENVELOPE.
The Rust CLI's ``natsbridge reply --fail`` answers this package's requests the same way."""

from __future__ import annotations

import asyncio
import json
import pickle
import re
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from natsbridge import NatsBridgeError, smartreceive, smartreply, smartreply_error, smartrequest
from natsbridge.transport import subscriptions_registered
from natsbridge.wire import new_uuid
from natsbridge_types import MsgEnvelopeV1, validate_error_response_v1
from natsbridge_types.profile import (
    ERROR_DEADLINE,
    ERROR_NOT_ENVELOPE,
    ERROR_UPLOAD,
    HEADER_CORRELATION_ID,
    HEADER_MSG_ID,
)

from .conftest import natsbridge_bin, run

Respond = Callable[[Client, MsgEnvelopeV1], Awaitable[None]]


async def request_answered_by(nats_url: str, respond: Respond, cid: str | None = None,
                              inbox: list[Msg] | None = None) -> tuple[Any, MsgEnvelopeV1 | None]:
    """Sends one request to a responder answering with ``respond``; returns the reply or the
    error raised, and the request as the responder saw it. With ``inbox``, everything published
    on reply inboxes is collected there, as the wire carries it."""
    server = await nats.connect(nats_url)
    client = await nats.connect(nats_url)
    seen: list[MsgEnvelopeV1] = []
    subject = f"svc.{new_uuid()}"

    async def handler(msg: Msg) -> None:
        request = await smartreceive(msg)
        seen.append(request.envelope)
        await respond(server, request.envelope)

    async def collect(msg: Msg) -> None:
        assert inbox is not None
        if msg.data:  # not subscriptions_registered's empty probe
            inbox.append(msg)

    await server.subscribe(subject, cb=handler)
    if inbox is not None:
        await server.subscribe("_INBOX.>", cb=collect)
    await subscriptions_registered(server)
    try:
        try:
            outcome: Any = await smartrequest(client, subject, [("config", {"a": 1}, "dictionary")], timeout=5,
                                              correlation_id=cid)
        except NatsBridgeError as e:
            outcome = e
        await server.flush()
        return outcome, seen[0] if seen else None
    finally:
        await client.close()
        await server.close()


def test_an_error_response_is_raised_as_a_remote_error_with_code_message_and_correlation_id(nats_url: str) -> None:
    cid = new_uuid()
    inbox: list[Msg] = []

    async def fail(nc: Client, request: MsgEnvelopeV1) -> None:
        await smartreply_error(nc, request, NatsBridgeError(ERROR_DEADLINE, "busy", dataname="config"))

    err, request = run(request_answered_by(nats_url, fail, cid, inbox))
    assert isinstance(err, NatsBridgeError), err
    assert err.code == ERROR_DEADLINE
    assert err.remote is True
    assert err.correlation_id == cid
    assert err.message == "busy"
    assert err.dataname == "config"
    assert str(err) == "TIMEOUT from the responder: busy (payload `config`)"
    assert err.application_code is None
    assert "remote=True" in repr(err)

    assert request is not None and len(inbox) == 1
    msg = inbox[0]
    assert msg.subject == request["reply_to"]
    response = json.loads(msg.data)
    assert validate_error_response_v1(response) == []
    assert response["correlation_id"] == cid
    assert response["send_to"] == request["reply_to"]
    assert response["msg_id"] != request["msg_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", response["timestamp"])
    assert response["error"] == {
        "code": ERROR_DEADLINE,
        "message": "busy",
        "details": {"correlation_id": cid, "dataname": "config"},
    }
    assert msg.headers is not None
    assert msg.headers[HEADER_MSG_ID] == response["msg_id"]
    assert msg.headers[HEADER_CORRELATION_ID] == cid


def test_smartreply_error_returns_what_it_published_with_the_requests_correlation_id(nats_url: str) -> None:
    returned: list[Any] = []

    async def fail(nc: Client, request: MsgEnvelopeV1) -> None:
        error = NatsBridgeError(ERROR_UPLOAD, "disk full", correlation_id=new_uuid())
        returned.append(await smartreply_error(nc, request, error))

    err, request = run(request_answered_by(nats_url, fail))
    assert isinstance(err, NatsBridgeError) and err.remote and err.code == ERROR_UPLOAD, err
    assert request is not None
    assert validate_error_response_v1(returned[0]) == []
    assert returned[0]["correlation_id"] == request["correlation_id"] == err.correlation_id
    assert returned[0]["error"]["details"]["correlation_id"] == request["correlation_id"]
    assert err.dataname is None


def test_a_normal_reply_still_works(nats_url: str) -> None:
    async def answer(nc: Client, request: MsgEnvelopeV1) -> None:
        await smartreply(nc, request, [("status", "Running", "text")], msg_purpose="ACK")

    cid = new_uuid()
    reply, _ = run(request_answered_by(nats_url, answer, cid))
    assert not isinstance(reply, BaseException), reply
    assert reply.tuples() == [("status", "Running", "text")]
    assert reply.correlation_id == cid


def _not_json(request: MsgEnvelopeV1) -> bytes:
    return b"not an envelope"


def _other_json(request: MsgEnvelopeV1) -> bytes:
    return b'{"hello": "world"}'


def _error_response_without_msg_id(request: MsgEnvelopeV1) -> bytes:
    return json.dumps({"correlation_id": request["correlation_id"], "timestamp": "2026-01-01T00:00:00.000Z",
                       "send_to": request["reply_to"], "error": {"code": ERROR_DEADLINE, "message": "m"}}).encode()


@pytest.mark.parametrize("body", [_not_json, _other_json, _error_response_without_msg_id])
def test_a_reply_that_is_neither_is_still_invalid_envelope(nats_url: str, body: Callable[[MsgEnvelopeV1], bytes]) -> None:
    async def answer(nc: Client, request: MsgEnvelopeV1) -> None:
        await nc.publish(request["reply_to"], body(request))

    cid = new_uuid()
    err, _ = run(request_answered_by(nats_url, answer, cid))
    assert isinstance(err, NatsBridgeError), err
    assert err.code == ERROR_NOT_ENVELOPE, (str(err), err.remote)
    assert err.remote is False
    assert err.correlation_id == cid


def test_a_remote_code_this_version_does_not_know_is_kept_as_sent(nats_url: str) -> None:
    async def answer(nc: Client, request: MsgEnvelopeV1) -> None:
        response = {
            "correlation_id": request["correlation_id"], "msg_id": new_uuid(), "timestamp": "2026-01-01T00:00:00.000Z",
            "send_to": request["reply_to"],
            "error": {"code": "QUOTA_EXCEEDED", "message": "try tomorrow", "details": {"dataname": "x"}},
        }
        await nc.publish(request["reply_to"], json.dumps(response).encode())

    err, _ = run(request_answered_by(nats_url, answer))
    assert isinstance(err, NatsBridgeError), err
    assert (err.code, err.message, err.dataname, err.remote) == ("QUOTA_EXCEEDED", "try tomorrow", "x", True)
    # Pickled (as multiprocessing does) and back, although the constructor does not know the code.
    back = pickle.loads(pickle.dumps(err))
    assert (back.code, back.message, back.dataname, back.remote, back.correlation_id) == (
        "QUOTA_EXCEEDED", "try tomorrow", "x", True, err.correlation_id)


def test_smartreply_error_needs_a_reply_to(nats_url: str) -> None:
    cid = new_uuid()
    request: Any = {"correlation_id": cid, "reply_to": ""}

    async def go() -> None:
        nc = await nats.connect(nats_url)
        try:
            await smartreply_error(nc, request, NatsBridgeError(ERROR_DEADLINE, "busy"))
        finally:
            await nc.close()

    with pytest.raises(NatsBridgeError) as e:
        run(go())
    assert e.value.code == ERROR_NOT_ENVELOPE and e.value.correlation_id == cid and not e.value.remote


def test_the_rust_cli_reply_fail_answers_smartrequest_with_a_remote_error(nats_url: str) -> None:
    async def go() -> tuple[Any, list[Msg], bytes]:
        proc = await asyncio.create_subprocess_exec(
            natsbridge_bin(), "reply", "--server", nats_url, "--subject", "rust.svc", "--fail", "TIMEOUT:busy",
            "--count", "1", "--timeout", "30", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None and proc.stdout is not None
        try:
            while b'"subscribed":true' not in (line := await asyncio.wait_for(proc.stderr.readline(), 20)):
                assert line, "natsbridge reply exited before it subscribed"
            nc = await nats.connect(nats_url)
            inbox: list[Msg] = []

            async def collect(msg: Msg) -> None:
                inbox.append(msg)

            try:
                await nc.subscribe("_INBOX.>", cb=collect)
                try:
                    outcome: Any = await smartrequest(nc, "rust.svc", [("config", {"a": 1}, "dictionary")],
                                                      correlation_id=cid, timeout=10)
                except NatsBridgeError as e:
                    outcome = e
                await nc.flush()
            finally:
                await nc.close()
            out = await asyncio.wait_for(proc.stdout.read(), 20)
            assert await asyncio.wait_for(proc.wait(), 20) == 0
            return outcome, inbox, out
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    cid = new_uuid()
    err, inbox, out = run(go())
    assert isinstance(err, NatsBridgeError), err
    assert (err.code, err.message, err.correlation_id, err.remote) == (ERROR_DEADLINE, "busy", cid, True)
    assert len(inbox) == 1
    response = json.loads(inbox[0].data)
    assert validate_error_response_v1(response) == []
    assert response["correlation_id"] == cid and response["error"]["details"]["correlation_id"] == cid
    assert inbox[0].headers is not None and inbox[0].headers[HEADER_CORRELATION_ID] == cid
    assert cid in out.decode()  # the CLI's digest line of the request


def test_errors_this_process_raises_are_not_remote() -> None:
    e = NatsBridgeError(ERROR_DEADLINE, "late")
    assert e.remote is False
    assert str(e) == "TIMEOUT: late"
    assert e.to_error_body() == {"code": ERROR_DEADLINE, "message": "late", "details": {}}
