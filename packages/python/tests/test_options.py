"""Option mistakes in every public call (schema/README.md, rule 12): an unknown key or a value
of the wrong type is ``SERIALIZATION_ERROR`` naming it and, for a misspelling, the closest
known key; never a raw ``TypeError`` / ``AttributeError``, never a silent default."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

import nats
import pytest

import natsbridge
from natsbridge import NatsBridgeError, typed
from natsbridge_types.profile import ENV_FILESERVER_URL, ERROR_BAD_OPTION, ERROR_WRITER_RULE

from .conftest import run

# The calls as an untyped caller (or one mypy does not check) makes them: every mistake below
# is one a type checker would catch, and the runtime must catch too.
nb: Any = natsbridge
replace: Any = dataclasses.replace
ConsumerOptions: Any = typed.ConsumerOptions

ENVELOPE: Any = {"correlation_id": "00000001-0000-4000-8000-000000000001", "msg_id": "00000002-0000-4000-8000-000000000002",
                 "reply_to": "_INBOX.x", "sender_name": "a", "sender_id": "b"}


def bad_option(call: Callable[[], Any]) -> NatsBridgeError:
    """The error ``call`` raises (a coroutine it returns is run); fails unless it is ``ERROR_BAD_OPTION``."""
    with pytest.raises(NatsBridgeError) as e:
        result = call()
        if isinstance(result, Coroutine):
            run(result)
    assert e.value.code == ERROR_BAD_OPTION, e.value
    return e.value


@pytest.mark.parametrize("key, guess", [
    ("fileserverUrl", "fileserver_url"), ("fileserver_ulr", "fileserver_url"), (ENV_FILESERVER_URL, "fileserver_url"),
    ("sizeThreshold", "size_threshold"), ("corelation_id", "correlation_id"), ("msgPurpose", "msg_purpose"),
])
def test_smartsend_names_an_unknown_key_and_the_key_it_likely_misspells(key: str, guess: str) -> None:
    err = bad_option(lambda: nb.smartsend("s", [("a", "b", "text")], publish=False, **{key: "x"}))
    assert f"unknown option `{key}`" in err.message and f"did you mean `{guess}`?" in err.message
    assert "smartsend" in err.message


def test_an_unknown_key_like_no_other_gets_no_guess() -> None:
    err = bad_option(lambda: nb.smartsend("s", [], publish=False, zzzzzz=1))
    assert "`zzzzzz`" in err.message and "did you mean" not in err.message


@pytest.mark.parametrize("kwargs, named", [
    ({"flush": "yes"}, "flush"), ({"size_threshold": True}, "size_threshold"), ({"size_threshold": 1.5}, "size_threshold"),
    ({"msg_purpose": 7}, "msg_purpose"), ({"headers": {"a": 1}}, "headers"), ({"metadata": [("a", 1)]}, "metadata"),
    ({"connection": 4222}, "connection"), ({"link_ttl": "1h"}, "link_ttl"), ({"sender_name": None}, "sender_name"),
])
def test_smartsend_names_a_value_of_the_wrong_type(kwargs: dict[str, Any], named: str) -> None:
    err = bad_option(lambda: nb.smartsend("s", [("a", "b", "text")], publish=False, **kwargs))
    assert f"option `{named}` must be" in err.message


def test_the_right_types_pass_ints_for_floats_included() -> None:
    sent = run(nb.smartsend("s", [("a", "b", "text")], publish=False, link_ttl=60, size_threshold=10, flush=False,
                         headers={"X-A": "1"}, metadata={"k": [1]}))
    assert sent.envelope["metadata"] == {"k": [1]}


def test_a_subject_that_is_not_a_string_is_named() -> None:
    err = bad_option(lambda: nb.smartsend(b"subject", [("a", "b", "text")], publish=False))
    assert "`subject`" in err.message


def test_receive_options_refuse_unknown_keys_and_wrong_types() -> None:
    err = bad_option(lambda: nb.ReceiveOptions(allowed_host=("a",)))
    assert "did you mean `allowed_hosts`?" in err.message
    err = bad_option(lambda: nb.ReceiveOptions(allowed_hosts="http://files.example:8080"))
    assert "`allowed_hosts` must be a list of str" in err.message and "wrap it in a list" in err.message
    bad_option(lambda: nb.ReceiveOptions(max_payloads="10"))
    bad_option(lambda: nb.ReceiveOptions(verify_sha256=1))
    bad_option(lambda: nb.ReceiveOptions(fetch={"max_attempts": 1}))
    bad_option(lambda: replace(nb.ReceiveOptions(), allowed_hots=()))


def test_a_list_of_hosts_is_kept_as_a_tuple() -> None:
    options = nb.ReceiveOptions(allowed_hosts=["http://a:1", "https://b"])
    assert options.allowed_hosts == ("http://a:1", "https://b")
    assert options.hosts == {"a:1", "b:443"}
    more = options.allow_host("http://c:2/x")
    assert more.allowed_hosts == ("http://a:1", "https://b", "http://c:2/x") and more.hosts == {"a:1", "b:443", "c:2"}
    assert more.allow_host("http://c:2") is more
    assert nb.ReceiveOptions(("http://x",)).hosts == {"x:80"}
    assert "given twice" in bad_option(lambda: nb.ReceiveOptions(("http://x",), allowed_hosts=("http://y",))).message


def test_smartreceive_refuses_what_it_cannot_read_as_options() -> None:
    err = bad_option(lambda: nb.smartreceive(b"{}", options={"allowed_hosts": ()}))
    assert "`options`" in err.message
    err = bad_option(lambda: nb.smartreceive(b"{}", {"allowed_hosts": ()}))
    assert "`options`" in err.message
    bad_option(lambda: nb.smartreceive({"not": "bytes"}))
    err = bad_option(lambda: nb.smartreceive(b"{}", header={}))
    assert "did you mean `headers`?" in err.message


def test_the_other_option_types_refuse_unknown_keys() -> None:
    assert "did you mean `max_attempts`?" in bad_option(lambda: nb.FetchOptions(max_attempt=3)).message
    bad_option(lambda: nb.FetchOptions(deadline="soon"))
    assert "did you mean `max_columns`?" in bad_option(lambda: nb.TableLimits(maxColumns=3)).message
    assert "did you mean `fileserver_url`?" in bad_option(lambda: nb.SendOptions(fileserverUrl="x")).message
    assert "did you mean `durable_name`?" in bad_option(lambda: ConsumerOptions(durable="d")).message
    bad_option(lambda: ConsumerOptions(max_messages=True))


def test_connection_calls_refuse_mistakes(nats_url: str) -> None:
    async def go() -> list[NatsBridgeError]:
        nc = await nats.connect(nats_url)
        errors: list[NatsBridgeError] = []
        calls: list[Callable[[], Any]] = [
            lambda: nb.smartrequest(nc, "s", [], timout=1),
            lambda: nb.smartrequest(nc, "s", [], timeout="1"),
            lambda: nb.smartrequest(nc, "s", [], fileserverUrl="x"),
            lambda: nb.smartrequest(nc, "s", [], reply_to="elsewhere"),
            lambda: nb.smartreply(nc, ENVELOPE, [], msg_purpse="event"),
            lambda: nb.smartreply(nc, ENVELOPE, [], correlation_id=ENVELOPE["correlation_id"]),
            lambda: nb.publish_to_stream(nc.jetstream(), "s", [], one_shot=True),
            lambda: nb.publish_to_stream(nc.jetstream(), "s", [], msgid="x"),
            lambda: nb.EnvelopeConsumer(nc.jetstream(), "S", durable="d"),
            lambda: nb.EnvelopeConsumer(nc.jetstream(), "S", max_messages="64"),
            lambda: nb.Bridge(nc, timeout="10"),
            lambda: nb.Bridge(nc, sendOptions=nb.SendOptions()),
        ]
        try:
            for call in calls:
                with pytest.raises(NatsBridgeError) as e:
                    result = call()
                    if isinstance(result, Coroutine):
                        await result
                errors.append(e.value)
        finally:
            await nc.close()
        return errors

    errors = run(go())
    assert all(e.code == ERROR_BAD_OPTION for e in errors), errors
    messages = [e.message for e in errors]
    assert "did you mean `timeout`?" in messages[0] and "`timeout` must be a number" in messages[1]
    assert "did you mean `fileserver_url`?" in messages[2] and "unknown option `reply_to`" in messages[3]
    assert "did you mean `msg_purpose`?" in messages[4] and "unknown option `correlation_id`" in messages[5]
    assert "unknown option `one_shot`" in messages[6] and "did you mean `msg_id`?" in messages[7]
    assert "did you mean `durable_name`?" in messages[8] and "`max_messages` must be an int" in messages[9]
    assert "`timeout` must be a number" in messages[10] and "unknown option `sendOptions`" in messages[11]


def test_connect_takes_one_url_string_not_a_list() -> None:
    err = bad_option(lambda: nb.connect(["nats://a:4222", "nats://b:4222"]))
    assert "`url` must be a str" in err.message
    assert "did you mean `connect_timeout`?" in bad_option(lambda: nb.connect("nats://a:4222", timeout=1)).message
