"""No raw exception escapes a public call (issue 26, D4). Every public function, constructor
and method of ``natsbridge`` (and the typed operations) gets a bad value of every kind —
``None``, an int, a float, NaN, a string, a bool, a list, a dict, a function, bytes, an object —
in every parameter, the others good, and must answer with a :class:`NatsBridgeError` carrying a
wire code (``INVALID_ARGUMENT`` when the value is of a type the parameter does not take),
within seconds. Values a parameter does take (a string for a subject) may succeed or fail,
but only with a :class:`NatsBridgeError`. Unknown keywords, missing and surplus arguments are
``INVALID_ARGUMENT`` naming the call.

The result types (``Sent``, ``Received``, ``Delivered``, ...) are made by the runtime, not by
callers, and are left out; so is ``typed``'s codec helpers, which generated code calls."""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import pyarrow as pa
import pytest
from nats.aio.client import Client

import natsbridge as nb
from natsbridge import NatsBridgeError, typed
from natsbridge_types import ERROR_CODE_VALUES
from natsbridge_types.profile import ERROR_BAD_OPTION

from .conftest import run

REQUEST: Any = {"correlation_id": "00000001-0000-4000-8000-000000000001", "msg_id": "00000002-0000-4000-8000-000000000002",
                "reply_to": "_INBOX.bad-arguments", "sender_name": "asker", "sender_id": "asker-1"}
CID = REQUEST["correlation_id"]
DEAD = "http://127.0.0.1:9"
"""A URL nothing listens on: calls fail fast (connection refused)."""


def _function() -> None:
    return None


BAD: dict[str, Any] = {
    "none": None, "int": 7, "float": 1.5, "nan": math.nan, "str": "x", "bool": True, "list": ["x"],
    "dict": {"k": "v"}, "func": _function, "bytes": b"x", "object": object(),
}
"""One bad value of each kind, by tag."""
NUMBER = {"int", "float"}
"""What a float parameter takes (not NaN, not a bool)."""


@dataclass
class Case:
    """A public call: ``make(args)`` calls it; ``good`` are arguments it takes; ``accepts`` says,
    per parameter, which tags of :data:`BAD` are of a type it takes."""

    name: str
    make: Callable[[dict[str, Any]], Any]
    good: dict[str, Any]
    accepts: dict[str, set[str]] = field(default_factory=dict)


class FakeCodec:
    name = "thing"
    payload_type = "dictionary"

    def encode(self, message: Any) -> typed.Encoded:
        return typed.Encoded((self.name, message, self.payload_type), {})

    def decode(self, received: Any) -> Any:
        return typed.json_payload(received, self.name)


async def _handler(request: Any) -> None:
    return None


def cases(nc: Client) -> list[Case]:
    js = nc.jetstream()
    bridge = nb.Bridge(nc)
    incoming = typed.Incoming({"a": 1}, nb.Received(REQUEST, []))
    received = nb.Received(REQUEST, [])
    consumer = nb.EnvelopeConsumer(nc, "NO_SUCH_STREAM", pull_expires=0.2)
    send = {
        "connection": None, "fileserver_url": DEAD, "fileserver_token": "t", "size_threshold": 1000,
        "correlation_id": CID, "msg_id": None, "msg_purpose": "event", "sender_name": "me", "sender_id": "me-1",
        "receiver_name": "", "receiver_id": "", "reply_to": "", "reply_to_msg_id": "", "metadata": {"k": 1},
        "headers": {"X-A": "1"}, "publish": False, "flush": False, "max_payload": 100_000, "link_ttl": 60.0,
        "one_shot": False, "jetstream": None, "http": None,
    }
    text = {"str"}
    opt_text = {"str", "none"}
    connect_settings = {"context": None, "no_context": True, "user": None, "password": None, "token": None,
                        "creds": None, "nkey": None, "tls_ca": None, "tls_cert": None, "tls_key": None,
                        "tls_first": False}
    connect_accepts = {**{k: opt_text for k in connect_settings}, "no_context": {"bool"}, "tls_first": {"bool"}}
    return [
        Case("smartsend", lambda a: nb.smartsend(**a), {"subject": "d4.s", "payloads": [("a", "b", "text")], **send},
             {"subject": text, "payloads": {"list"}, "connection": opt_text, "fileserver_url": opt_text,
              "fileserver_token": opt_text, "size_threshold": {"int", "none"}, "correlation_id": opt_text,
              "msg_id": opt_text, "msg_purpose": text, "sender_name": text, "sender_id": opt_text,
              "receiver_name": text, "receiver_id": text, "reply_to": text, "reply_to_msg_id": text,
              "metadata": {"dict", "none"}, "headers": {"dict", "none"}, "publish": {"bool"}, "flush": {"bool"},
              "max_payload": {"int", "none"}, "link_ttl": NUMBER | {"none"}, "one_shot": {"bool"},
              "jetstream": {"none"}, "http": {"none"}}),
        Case("smartreceive", lambda a: nb.smartreceive(**a), {"msg": b"{}", "options": None, "headers": None},
             {"msg": {"str", "bytes"}, "options": {"none"}, "headers": {"dict", "none"}}),
        Case("smartrequest", lambda a: nb.smartrequest(**a),
             {"nc": nc, "subject": "d4.nobody", "payloads": [("a", "b", "text")], "timeout": 0.2,
              "receive_options": None, "msg_purpose": "command", "headers": {"X-A": "1"}},
             {"subject": text, "payloads": {"list"}, "timeout": NUMBER, "receive_options": {"none"},
              "msg_purpose": text, "headers": {"dict", "none"}}),
        Case("smartreply", lambda a: nb.smartreply(**a),
             {"nc": nc, "request": REQUEST, "payloads": [("a", "b", "text")], "msg_purpose": "ACK"},
             {"request": {"dict"}, "payloads": {"list"}, "msg_purpose": text}),
        Case("smartreply_error", lambda a: nb.smartreply_error(**a),
             {"nc": nc, "request": REQUEST, "error": RuntimeError("x"), "flush": False},
             {"request": {"dict"}, "flush": {"bool"}}),
        Case("error_response", lambda a: nb.error_response(**a), {"request": REQUEST, "error": RuntimeError("x")},
             {"request": {"dict"}}),
        Case("decode_reply", lambda a: nb.decode_reply(**a),
             {"msg": b"{}", "correlation_id": CID, "options": None, "headers": None},
             {"msg": {"str", "bytes"}, "correlation_id": opt_text, "options": {"none"}, "headers": {"dict", "none"}}),
        Case("serve", lambda a: nb.serve(**a),
             {"nc": nc, "subject": "d4.serve", "handler": _handler, "queue": None, "send": None, "receive": None},
             {"subject": text, "handler": {"func"}, "queue": opt_text, "send": {"none"}, "receive": {"none"}}),
        Case("connect", lambda a: nb.connect(**a), {"url": DEAD.replace("http", "nats"), **connect_settings,
                                                     "name": "n", "connect_timeout": 2.0},
             {"url": opt_text, **connect_accepts, "name": text, "connect_timeout": NUMBER}),
        Case("resolve_connect_settings", lambda a: nb.resolve_connect_settings(**a),
             {"url": DEAD.replace("http", "nats"), **connect_settings, "env": {}},
             {"url": opt_text, **connect_accepts, "env": {"dict", "none"}}),
        Case("publish_message", lambda a: nb.publish_message(**a),
             {"connection": nc, "subject": "d4.pm", "text": "{}", "correlation_id": CID, "headers": None,
              "flush": False},
             {"connection": text, "subject": text, "text": {"str", "bytes"}, "correlation_id": text,
              "headers": {"dict", "none"}, "flush": {"bool"}}),
        Case("subscriptions_registered", lambda a: nb.subscriptions_registered(**a), {"nc": nc, "timeout": 2.0},
             {"timeout": NUMBER}),
        Case("ensure_stream", lambda a: nb.ensure_stream(**a),
             {"nc": nc, "name": "D4S", "subjects": ["d4s.>"], "max_age": 60.0, "max_bytes": None,
              "duplicate_window": 10.0, "memory": True, "replicas": 1},
             {"name": text, "subjects": {"list"}, "max_age": NUMBER, "max_bytes": {"int", "none"},
              "duplicate_window": NUMBER, "memory": {"bool"}, "replicas": {"int"}}),
        Case("publish_to_stream", lambda a: nb.publish_to_stream(**a),
             {"nc": nc, "subject": "d4s.x", "payloads": [("a", "b", "text")], "msg_purpose": "event"},
             {"subject": text, "payloads": {"list"}, "msg_purpose": text}),
        Case("EnvelopeConsumer", lambda a: nb.EnvelopeConsumer(**a),
             {"js": js, "stream": "D4S", "start": "5m", "durable_name": None, "filter_subject": None,
              "max_messages": 8, "ack_wait": 30.0, "max_ack_pending": 100, "nak_delay": 1.0, "pull_expires": 1.0,
              "receive_options": None, "limit": None},
             {"stream": text, "start": {"str", "int"}, "durable_name": opt_text, "filter_subject": opt_text,
              "max_messages": {"int"}, "ack_wait": NUMBER, "max_ack_pending": {"int"}, "nak_delay": NUMBER,
              "pull_expires": NUMBER, "receive_options": {"none"}, "limit": {"int", "none"}}),
        Case("EnvelopeConsumer.next", lambda a: consumer.next(**a), {"timeout": 0.3}, {"timeout": NUMBER | {"none"}}),
        Case("fetch_with_backoff", lambda a: nb.fetch_with_backoff(**a),
             {"url": DEAD, "expected_size": None, "options": nb.FetchOptions(max_attempts=1, deadline=2),
              "correlation_id": None, "session": None},
             {"url": text, "expected_size": {"int", "none"}, "correlation_id": opt_text, "session": {"none"}}),
        Case("plik_upload", lambda a: nb.plik_upload(**a),
             {"fileserver_url": DEAD, "name": "n", "data": b"abc", "one_shot": False, "ttl": None, "token": None,
              "correlation_id": None, "session": None},
             {"fileserver_url": text, "name": text, "data": {"bytes"}, "one_shot": {"bool"},
              "ttl": NUMBER | {"none"}, "token": opt_text, "correlation_id": opt_text, "session": {"none"}}),
        Case("plik_oneshot_upload", lambda a: nb.plik_oneshot_upload(**a),
             {"fileserver_url": DEAD, "dataname": "n", "data": b"abc"},
             {"fileserver_url": text, "dataname": text, "data": {"bytes"}}),
        Case("encode_table", lambda a: nb.encode_table(**a), {"table": pa.table({"x": [1]})}, {}),
        Case("report", lambda a: nb.report(**a), {"error": RuntimeError("x")}, {}),
        Case("parse_start", lambda a: nb.parse_start(**a),
             {"value": "5m", "now": datetime.datetime(2026, 12, 6, tzinfo=datetime.timezone.utc)},
             {"value": {"int"}, "now": {"none"}}),
        Case("allowed_host", lambda a: nb.allowed_host(**a), {"value": "http://files:8080"}, {}),
        Case("NatsBridgeError", lambda a: NatsBridgeError(**a),
             {"code": "TIMEOUT", "message": "m", "correlation_id": None, "dataname": None},
             {"message": text, "correlation_id": opt_text, "dataname": opt_text}),
        Case("ApplicationError", lambda a: nb.ApplicationError(**a),
             {"application_code": "UNKNOWN_COLUMN", "message": "m", "details": None, "dataname": None,
              "correlation_id": None},
             {"application_code": text, "message": text, "details": {"dict", "none"}, "dataname": opt_text,
              "correlation_id": opt_text}),
        Case("ReceiveOptions", lambda a: nb.ReceiveOptions(**a),
             {"allowed_hosts": ("http://files:8080",), "allowed_dirs": (), "fetch": nb.FetchOptions(),
              "max_envelope_bytes": 1000, "max_payloads": 10, "table_limits": nb.TableLimits(), "verify_sha256": True,
              "http": None},
             {"allowed_dirs": {"list"}, "max_envelope_bytes": {"int"}, "max_payloads": {"int"},
              "verify_sha256": {"bool"}, "http": {"none"}}),
        Case("ReceiveOptions.allow_host", lambda a: nb.ReceiveOptions().allow_host(**a), {"url": "http://a:1"}, {}),
        Case("ReceiveOptions.allow_dir", lambda a: nb.ReceiveOptions().allow_dir(**a), {"directory": "/tmp"},
             {"directory": text}),
        Case("Received.payload", lambda a: received.payload(**a), {"dataname": "a"}, {"dataname": text}),
        Case("SendOptions", lambda a: nb.SendOptions(**a), {k: v for k, v in send.items() if k != "correlation_id"},
             {"connection": opt_text, "fileserver_url": opt_text, "fileserver_token": opt_text,
              "size_threshold": {"int", "none"}, "msg_id": opt_text, "msg_purpose": text, "sender_name": text,
              "sender_id": opt_text, "receiver_name": text, "receiver_id": text, "reply_to": text,
              "reply_to_msg_id": text, "metadata": {"dict", "none"}, "headers": {"dict", "none"}, "publish": {"bool"},
              "flush": {"bool"}, "max_payload": {"int", "none"}, "link_ttl": NUMBER | {"none"}, "one_shot": {"bool"},
              "jetstream": {"none"}, "http": {"none"}}),
        Case("FetchOptions", lambda a: nb.FetchOptions(**a),
             {"max_attempts": 1, "base_delay": 0.1, "max_delay": 1.0, "deadline": 2.0, "max_bytes": 10,
              "connect_timeout": 1.0, "read_timeout": 1.0},
             {"max_attempts": {"int"}, "base_delay": NUMBER, "max_delay": NUMBER, "deadline": NUMBER,
              "max_bytes": {"int"}, "connect_timeout": NUMBER, "read_timeout": NUMBER}),
        Case("TableLimits", lambda a: nb.TableLimits(**a), {"max_batches": 1, "max_columns": 1},
             {"max_batches": {"int"}, "max_columns": {"int"}}),
        Case("Bridge", lambda a: nb.Bridge(**a),
             {"client": nc, "send": nb.SendOptions(), "receive": nb.ReceiveOptions(), "timeout": 1.0},
             {"timeout": NUMBER}),
        Case("ConsumerOptions", lambda a: typed.ConsumerOptions(**a),
             {"start": "new", "durable_name": None, "max_messages": 1, "ack_wait": 1.0, "max_ack_pending": 1,
              "nak_delay": 1.0, "pull_expires": 1.0, "limit": None},
             {"start": {"str", "int"}, "durable_name": opt_text, "max_messages": {"int"}, "ack_wait": NUMBER,
              "max_ack_pending": {"int"}, "nak_delay": NUMBER, "pull_expires": NUMBER, "limit": {"int", "none"}}),
        Case("CorrelationFilter.filter", lambda a: nb.CorrelationFilter().filter(**a),
             {"record": logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None)}, {}),
        Case("typed.publish", lambda a: typed.publish(**a),
             {"bridge": bridge, "subject": "d4.typed", "codec": FakeCodec(), "message": {"a": 1}, "purpose": "event",
              "correlation_id": None},
             {"subject": text, "codec": set(BAD), "message": set(BAD), "purpose": text, "correlation_id": opt_text}),
        Case("typed.request", lambda a: typed.request(**a),
             {"bridge": bridge, "subject": "d4.typed.nobody", "codec": FakeCodec(), "message": {"a": 1},
              "reply_codec": FakeCodec(), "purpose": "command", "correlation_id": None, "timeout": 0.2},
             {"subject": text, "codec": set(BAD), "message": set(BAD), "reply_codec": set(BAD), "purpose": text,
              "correlation_id": opt_text, "timeout": NUMBER | {"none"}}),
        Case("typed.subscribe", lambda a: typed.subscribe(**a),
             {"bridge": bridge, "subject": "d4.typed.sub", "codec": FakeCodec(), "queue": None},
             {"subject": text, "codec": set(BAD), "queue": opt_text}),
        Case("typed.reply", lambda a: typed.reply(**a),
             {"bridge": bridge, "to": incoming, "codec": FakeCodec(), "message": {"a": 1}, "purpose": "event"},
             {"codec": set(BAD), "message": set(BAD), "purpose": text}),
        Case("typed.reply_error", lambda a: typed.reply_error(**a),
             {"bridge": bridge, "to": incoming, "error": RuntimeError("x")}, {}),
        Case("typed.publish_to_stream", lambda a: typed.publish_to_stream(**a),
             {"bridge": bridge, "subject": "d4s.typed", "codec": FakeCodec(), "message": {"a": 1},
              "purpose": "event", "correlation_id": None, "msg_id": None},
             {"subject": text, "codec": set(BAD), "message": set(BAD), "purpose": text, "correlation_id": opt_text,
              "msg_id": opt_text}),
        Case("typed.replay", lambda a: typed.replay(**a),
             {"bridge": bridge, "stream": "D4S", "codec": FakeCodec(), "filter_subject": None, "options": None},
             {"stream": text, "codec": set(BAD), "filter_subject": opt_text, "options": {"none"}}),
    ]


async def _outcome(case: Case, args: dict[str, Any]) -> Any:
    """What the call gave back (a coroutine awaited, resources it made released), or the
    exception it raised."""
    try:
        result = case.make(args)
        if asyncio.iscoroutine(result):
            result = await asyncio.wait_for(result, 20)
    except BaseException as e:  # noqa: BLE001 - the point is to see what escapes
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return e
    if isinstance(result, nb.Server):
        await result.stop()
    elif isinstance(result, Client):
        await result.close()
    elif isinstance(result, (nb.EnvelopeConsumer, typed.Replay)):
        await result.close()
    elif isinstance(result, typed.Subscription):
        await result.unsubscribe()
    return result


def test_no_raw_exception_escapes_a_public_call(nats_url: str) -> None:
    async def go() -> tuple[list[str], int]:
        nc = await nats.connect(nats_url)
        problems: list[str] = []
        calls = 0
        try:
            await nb.ensure_stream(nc, "D4S", ["d4s.>"], max_age=60, memory=True)
            for case in cases(nc):
                unknown = set(case.accepts) - set(case.good)
                assert not unknown, (case.name, unknown)
                for param in case.good:
                    for tag, value in BAD.items():
                        calls += 1
                        got = await _outcome(case, {**case.good, param: value})
                        where = f"{case.name}({param}={tag})"
                        if isinstance(got, NatsBridgeError):
                            if got.code not in ERROR_CODE_VALUES:
                                problems.append(f"{where}: code {got.code!r}")
                            elif tag not in case.accepts.get(param, set()) and got.code != ERROR_BAD_OPTION:
                                problems.append(f"{where}: {got.code}, not {ERROR_BAD_OPTION}: {got}")
                        elif isinstance(got, BaseException):
                            problems.append(f"{where}: raw {type(got).__name__}: {got}")
                        elif tag not in case.accepts.get(param, set()):
                            problems.append(f"{where}: accepted")
        finally:
            await nc.close()
        return problems, calls

    problems, calls = run(go())
    assert calls > 500
    assert not problems, f"{len(problems)} of {calls} calls:\n" + "\n".join(problems)


REQUIRED = {
    "smartsend": "payloads", "smartreceive": "msg", "smartrequest": "nc", "smartreply": "request",
    "smartreply_error": "error", "error_response": "error", "decode_reply": "correlation_id", "serve": "handler",
    "publish_message": "correlation_id", "ensure_stream": "max_age", "publish_to_stream": "subject",
    "EnvelopeConsumer": "stream", "fetch_with_backoff": "url", "plik_upload": "data", "encode_table": "table",
    "report": "error", "parse_start": "value", "allowed_host": "value", "NatsBridgeError": "message",
    "ApplicationError": "application_code", "Bridge": "client", "typed.request": "reply_codec",
}
"""A required argument of each call that has one."""


def test_unknown_and_missing_arguments_name_the_call(nats_url: str) -> None:
    async def go() -> list[str]:
        nc = await nats.connect(nats_url)
        problems: list[str] = []
        try:
            for case in cases(nc):
                short = case.name.split(".")[-1]
                got = await _outcome(case, {**case.good, "sizeThreshhold": 1})
                if not (isinstance(got, NatsBridgeError) and got.code == ERROR_BAD_OPTION and short in got.message
                        and "`sizeThreshhold`" in got.message):
                    problems.append(f"{case.name}(sizeThreshhold=1): {type(got).__name__}: {got}")
                if case.name in REQUIRED:
                    param = REQUIRED[case.name]
                    got = await _outcome(case, {k: v for k, v in case.good.items() if k != param})
                    if not (isinstance(got, NatsBridgeError) and got.code == ERROR_BAD_OPTION
                            and f"`{param}` is missing" in got.message and short in got.message):
                        problems.append(f"{case.name} without {param}: {type(got).__name__}: {got}")
        finally:
            await nc.close()
        return problems

    problems = run(go())
    assert not problems, "\n".join(problems)


def test_surplus_positional_arguments_are_named() -> None:
    with pytest.raises(NatsBridgeError) as e:
        run(nb.smartsend("s", [], "surplus"))  # type: ignore[call-arg]
    assert e.value.code == ERROR_BAD_OPTION and "positional" in e.value.message and "smartsend" in e.value.message
    with pytest.raises(NatsBridgeError) as e:
        nb.FetchOptions(1, 2, 3, 4, 5, 6, 7, 8)  # type: ignore[call-arg]
    assert e.value.code == ERROR_BAD_OPTION and "FetchOptions" in e.value.message


def test_an_integer_header_value_is_named() -> None:
    bad: Any = {"X-Count": 1}
    with pytest.raises(NatsBridgeError) as e:
        run(nb.smartsend("s", [("a", "b", "text")], publish=False, headers=bad))
    assert e.value.code == ERROR_BAD_OPTION
    assert "`headers`" in e.value.message and "`X-Count` is int 1" in e.value.message and "str(1)" in e.value.message
