"""Replay windows (issue 26, D1): one grammar for where a replay starts (``parse_start``), the
same in ``EnvelopeConsumer(start=...)``, ``ConsumerOptions`` and ``python -m natsbridge receive
--since``; a start outside it is ``INVALID_ARGUMENT`` naming it, raised before anything is asked
of the server; a naive datetime is refused in every time zone. Against a real nats-server:
each form replays what it says (a time, ``5m``, a sequence, ``new``, ``all``), through
``async with`` / ``async for``."""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from natsbridge import EnvelopeConsumer, NatsBridgeError, Start, ensure_stream, parse_start, publish_to_stream, typed
from natsbridge.start import SEQUENCE, TIME
from natsbridge_types.profile import DURATION_UNITS_MS, ERROR_BAD_OPTION, START_ALL, START_NEW

from .conftest import cli_env, python_cli, run

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
TOKYO = datetime.timezone(datetime.timedelta(hours=9))


def at(**delta: float) -> Start:
    return Start(TIME, time=NOW - datetime.timedelta(**delta))


@pytest.mark.parametrize("value, expected", [
    (START_ALL, Start(START_ALL)),
    (START_NEW, Start(START_NEW)),
    ("42", Start(SEQUENCE, sequence=42)),
    (42, Start(SEQUENCE, sequence=42)),
    ("1", Start(SEQUENCE, sequence=1)),
    ("250ms", at(milliseconds=250)),
    ("90s", at(seconds=90)),
    ("10m", at(minutes=10)),
    ("1h30m", at(minutes=90)),
    ("2d", at(days=2)),
    ("1d2h3m4s5ms", at(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
    ("0m30s", at(seconds=30)),
    ("2026-12-06T09:00:00Z", at(hours=1)),
    ("2026-12-06T18:00:00+09:00", at(hours=1)),
    ("2026-12-06T04:30:00-04:30", at(hours=1)),
    ("2026-12-06T09:59:59.5Z", at(milliseconds=500)),
    (datetime.datetime(2026, 12, 6, 19, 0, tzinfo=TOKYO), Start(TIME, time=NOW)),
    (datetime.timedelta(minutes=5), at(minutes=5)),
])
def test_the_accepted_forms(value: Any, expected: Start) -> None:
    got = parse_start(value, NOW)
    assert got == expected
    if got.kind == TIME:
        assert got.time is not None and got.time.tzinfo is UTC  # an aware UTC instant


def test_every_unit_of_the_profile_is_read() -> None:
    for unit, ms in DURATION_UNITS_MS.items():
        assert parse_start(f"3{unit}", NOW) == at(milliseconds=3 * ms), unit


@pytest.mark.parametrize("value, says", [
    ("New", "did you mean `new`?"),
    ("ALL", "did you mean `all`?"),
    ("5 m", "did you mean `5m`?"),
    (" 5m", "did you mean `5m`?"),
    ("-5m", "without a sign"),
    ("+5m", "without a sign"),
    ("5M", "did you mean `5m`?"),
    ("0s", "use `new`"),
    ("0ms0s", "use `new`"),
    ("5", None),  # a sequence, not an error: kept out below
    ("05", "is not a start"),
    ("1.5", "is not a start"),
    ("5min", "is not a start"),
    ("m", "is not a start"),
    ("", "is not a start"),
    ("yesterday", "is not a start"),
    ("2026-12-06", "a date without a time and an offset"),
    ("2026-12-06T09:00:00", "without an offset"),
    ("2026-12-06 09:00:00Z", "is not a start"),
    ("2026-12-06t09:00:00z", "did you mean `2026-12-06T09:00:00Z`?"),
    ("2026-02-30T09:00:00Z", "is not a valid date-time"),
    ("2026-12-06T25:00:00Z", "is not a valid date-time"),
    ("99999999999999999999999", "over the largest one"),
    ("99999999999d", "before the year 1"),
    (1.5, "is a float"),
    (0, "1 or more"),
    (-3, "1 or more"),
    (True, "is a bool"),
    (None, "is a NoneType"),
    ({}, "is a dict"),
    ([], "is a list"),
    (b"5m", "is a bytes"),
    (datetime.datetime(2026, 12, 6, 9, 0), "naive datetime"),
    (datetime.timedelta(0), "use `new`"),
    (datetime.timedelta(seconds=-1), "more than 0"),
    (Start(TIME), "not a consistent Start"),
    (Start("sequence", sequence=0), "not a consistent Start"),
])
def test_anything_else_is_invalid_argument_naming_the_value_and_the_forms(value: Any, says: str | None) -> None:
    if says is None:
        assert parse_start(value, NOW) == Start(SEQUENCE, sequence=int(value))
        return
    with pytest.raises(NatsBridgeError) as e:
        parse_start(value, NOW)
    assert e.value.code == ERROR_BAD_OPTION
    assert says in e.value.message, e.value.message
    assert repr(value)[:40] in e.value.message  # the value given, as Python writes it
    assert f"`{START_ALL}`, `{START_NEW}`, a stream sequence" in e.value.message  # the accepted forms


def test_a_naive_datetime_says_what_to_use_instead() -> None:
    with pytest.raises(NatsBridgeError) as e:
        parse_start(datetime.datetime.now())
    assert "datetime.now(timezone.utc)" in e.value.message and e.value.code == ERROR_BAD_OPTION


def test_now_must_be_aware_too() -> None:
    with pytest.raises(NatsBridgeError) as e:
        parse_start("5m", datetime.datetime(2026, 12, 6))
    assert e.value.code == ERROR_BAD_OPTION and "naive" in e.value.message
    with pytest.raises(NatsBridgeError) as e:
        parse_start("5m", "2026-12-06T10:00:00Z")  # type: ignore[arg-type]
    assert e.value.code == ERROR_BAD_OPTION and "`now`" in e.value.message


def test_a_duration_counts_back_from_the_current_time_by_default() -> None:
    before = datetime.datetime.now(UTC)
    got = parse_start("5m")
    after = datetime.datetime.now(UTC)
    assert got.time is not None
    assert before - datetime.timedelta(minutes=5) <= got.time <= after - datetime.timedelta(minutes=5)


def test_a_bad_start_fails_when_the_consumer_is_made_before_any_server_call() -> None:
    # A client that never connected: any server call would be NATS_CONNECTION_FAILED.
    never_connected = Client()
    for bad in ("New", "5 m", datetime.datetime(2026, 1, 1), 1.5, "", "2026-12-06"):
        with pytest.raises(NatsBridgeError) as e:
            EnvelopeConsumer(never_connected, "S", start=bad)  # type: ignore[arg-type]
        assert e.value.code == ERROR_BAD_OPTION, (bad, e.value)
        assert "EnvelopeConsumer" in e.value.message and "`start`" in e.value.message
        with pytest.raises(NatsBridgeError) as e:
            typed.ConsumerOptions(start=bad)  # type: ignore[arg-type]
        assert e.value.code == ERROR_BAD_OPTION, (bad, e.value)


def test_a_naive_datetime_is_refused_in_tokyo_too() -> None:
    """The issue's trap: a naive ``datetime.now()`` read as UTC replays nothing east of UTC."""
    code = ("import datetime, natsbridge\n"
            "from nats.aio.client import Client\n"
            "try:\n"
            "    natsbridge.EnvelopeConsumer(Client(), 'S', start=datetime.datetime.now() - datetime.timedelta(minutes=5))\n"
            "except natsbridge.NatsBridgeError as e:\n"
            "    print(e.code)\n")
    env = {**cli_env(), "TZ": "Asia/Tokyo"}
    out = subprocess.run([python_cli()[0], "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == ERROR_BAD_OPTION, out.stderr


async def _stream_of_five(nc: Client, name: str) -> tuple[list[int], datetime.datetime]:
    """Stream ``name`` with envelopes 1..5 on ``{name}.x``; returns their sequences and a time
    between the third and the fourth."""
    await ensure_stream(nc, name, [f"{name}.>"], max_age=600)
    seqs = []
    middle = NOW
    for i in range(1, 6):
        if i == 4:
            await asyncio.sleep(0.05)
            middle = datetime.datetime.now(TOKYO)  # an aware time in another zone names the same instant
            await asyncio.sleep(0.05)
        sent = await publish_to_stream(nc, f"{name}.x", [("i", {"i": i}, "dictionary")])
        assert sent.correlation_id == sent.envelope["correlation_id"] and sent.msg_id == sent.envelope["msg_id"]
        seqs.append(sent.stream_sequence)
    return seqs, middle


async def _replayed(nc: Client, name: str, start: Any, limit: int) -> list[int]:
    got: list[int] = []
    async with EnvelopeConsumer(nc, name, start=start, limit=limit, pull_expires=0.5) as consumer:
        async for d in consumer:
            assert not isinstance(d, NatsBridgeError), d
            got.append(d.received.payloads[0].data["i"])
            await d.ack()
    return got


def test_each_form_replays_what_it_says(nats_url: str) -> None:
    async def go() -> dict[str, Any]:
        nc = await nats.connect(nats_url)
        try:
            seqs, middle = await _stream_of_five(nc, "WINDOWS")
            out: dict[str, Any] = {
                "all": await _replayed(nc, "WINDOWS", START_ALL, 5),
                "5m": await _replayed(nc, "WINDOWS", "5m", 5),
                "timedelta": await _replayed(nc, "WINDOWS", datetime.timedelta(minutes=5), 5),
                "aware": await _replayed(nc, "WINDOWS", middle, 2),
                "rfc3339": await _replayed(nc, "WINDOWS", middle.isoformat(), 2),
                "sequence": await _replayed(nc, "WINDOWS", seqs[3], 2),
                "sequence text": await _replayed(nc, "WINDOWS", str(seqs[3]), 2),
            }
            # `new`: nothing of the five; only what is published after the consumer exists.
            consumer = EnvelopeConsumer(nc, "WINDOWS", start=START_NEW, pull_expires=0.5)
            await consumer.open()
            await publish_to_stream(nc, "WINDOWS.x", [("i", {"i": 6}, "dictionary")])
            d = await consumer.next(timeout=5)
            out["new"] = [d.received.payloads[0].data["i"]]
            await consumer.close()
            return out
        finally:
            await nc.close()

    got = run(go())
    assert got["all"] == got["5m"] == got["timedelta"] == [1, 2, 3, 4, 5]
    assert got["aware"] == got["rfc3339"] == got["sequence"] == got["sequence text"] == [4, 5]
    assert got["new"] == [6]


def test_the_cli_since_takes_the_same_grammar(nats_url: str) -> None:
    async def fill() -> list[int]:
        nc = await nats.connect(nats_url)
        try:
            return (await _stream_of_five(nc, "SINCE"))[0]
        finally:
            await nc.close()

    seqs = run(fill())

    def receive(since: str, count: int) -> list[dict[str, Any]]:
        out = subprocess.run(
            [*python_cli(), "receive", "--server", nats_url, "--subject", "SINCE.>", "--stream", "SINCE", "--since",
             since, "--count", str(count), "--timeout", "10"],
            env=cli_env(), capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines()]

    assert len(receive("5m", 5)) == 5
    assert len(receive(START_ALL, 5)) == 5
    assert len(receive(str(seqs[3]), 2)) == 2
    when = datetime.datetime.now(UTC) - datetime.timedelta(hours=1)
    assert len(receive(when.strftime("%Y-%m-%dT%H:%M:%SZ"), 5)) == 5
    # Usage errors name the value (exit 2, nothing on stdout).
    bad = subprocess.run([*python_cli(), "receive", "--server", nats_url, "--subject", "s", "--stream", "SINCE",
                          "--since", "5 minutes"], env=cli_env(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "'5 minutes'" in bad.stderr and bad.stdout == ""


def test_ensure_stream_takes_the_connection_or_its_jetstream_context(nats_url: str) -> None:
    async def go() -> tuple[str, str]:
        nc = await nats.connect(nats_url)
        try:
            a = await ensure_stream(nc, "BYNC", ["bync.>"], max_age=60)
            b = await ensure_stream(nc.jetstream(), "BYJS", ["byjs.>"], max_age=60)
            return a.config.name or "", b.config.name or ""
        finally:
            await nc.close()

    assert run(go()) == ("BYNC", "BYJS")

