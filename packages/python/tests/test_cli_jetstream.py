"""`python -m natsbridge send|receive --stream` on a real nats-server with JetStream: a send
creates the stream and is acked (sequence on stderr), a receiver started only afterwards
replays it with the sender's very digest line; `--since` replays from a time; `--count` and
`--timeout` behave as for core receive; usage errors exit 2 with a message."""

from __future__ import annotations

import datetime
import json
import subprocess
import time
from pathlib import Path

import nats
import pyarrow as pa
from nats.js import api

from natsbridge import encode_table
from natsbridge_types.profile import ERROR_NOT_ENVELOPE, HEADER_CORRELATION_ID, HEADER_SAMPLE_RATE

from .conftest import cli_env, python_cli, run


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*python_cli(), *args], capture_output=True, text=True, env=cli_env(), timeout=120)


def send(nats_url: str, subject: str, stream: str, *payload_args: str) -> tuple[str, dict[str, object]]:
    """Runs a stream send; returns its digest line (stdout's last line) and its ack line."""
    out = cli("send", "--server", nats_url, "--subject", subject, "--stream", stream, *payload_args)
    assert out.returncode == 0, out.stderr
    acks = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{") and "stream_sequence" in line]
    assert len(acks) == 1, out.stderr
    return out.stdout.splitlines()[-1], acks[0]


def receive(nats_url: str, subject: str, stream: str, *extra: str) -> tuple[int, list[str]]:
    """Runs a stream receive; checks its readiness line comes first on stderr."""
    proc = subprocess.Popen([*python_cli(), "receive", "--server", nats_url, "--subject", subject, "--stream", stream,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    assert proc.stderr is not None
    ready = proc.stderr.readline()
    assert json.loads(ready) == {"subscribed": True, "stream": stream}, ready + proc.stderr.read()
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.splitlines()


def test_a_late_receiver_replays_what_send_stream_published(nats_url: str, tmp_path: Path) -> None:
    (tmp_path / "t.arrows").write_bytes(encode_table(pa.table({"x": list(range(500)), "y": ["v"] * 500})))
    (tmp_path / "b.bin").write_bytes(bytes(range(256)) * 40)
    first, ack1 = send(nats_url, "jscli.orders", "JSCLI",
                       "--purpose", "event", "--header", "Sample-Rate=44100",
                       "--payload", "note:text:hello — ünïcödé", "--payload", 'cfg:dictionary:{"a":[1,2]}',
                       "--payload", f"t:arrowtable:@{tmp_path / 't.arrows'}", "--payload", 'rows:jsontable:[{"k":1}]',
                       "--payload", f"b:binary:@{tmp_path / 'b.bin'}")
    second, ack2 = send(nats_url, "jscli.orders", "JSCLI", "--payload", "note:text:second")
    assert ack1 == {"stream": "JSCLI", "stream_sequence": 1} and ack2 == {"stream": "JSCLI", "stream_sequence": 2}

    # The stream was created by the first send, with the subject and file storage, and reused.
    async def info() -> tuple[list[str], api.StorageType | None, int]:
        nc = await nats.connect(nats_url)
        try:
            i = await nc.jetstream().stream_info("JSCLI")
            return list(i.config.subjects or []), i.config.storage, int(i.state.messages)
        finally:
            await nc.close()

    subjects, storage, messages = run(info())
    assert subjects == ["jscli.orders"] and storage == api.StorageType.FILE and messages == 2

    # Started only now, it replays both, in order, with the sender's digest lines.
    code, lines = receive(nats_url, "jscli.orders", "JSCLI", "--count", "2", "--timeout", "30",
                          "--show-header", HEADER_SAMPLE_RATE)
    assert code == 0
    assert [json.loads(line).pop("headers") for line in lines] == [{HEADER_SAMPLE_RATE: "44100"}, {HEADER_SAMPLE_RATE: None}]
    assert [json.dumps({k: v for k, v in json.loads(line).items() if k != "headers"}, ensure_ascii=False,
                       separators=(",", ":")) for line in lines] == [first, second]
    parsed = json.loads(first)
    assert parsed["msg_purpose"] == "event"
    assert [(p["dataname"], p["transport"], p.get("num_rows")) for p in parsed["payloads"]] == [
        ("note", "direct", None), ("cfg", "direct", None), ("t", "direct", 500), ("rows", "direct", 1),
        ("b", "direct", None)]

    # Without --count it stops at --timeout, having printed everything there was.
    code, lines = receive(nats_url, "jscli.orders", "JSCLI", "--timeout", "2")
    assert code == 0 and len(lines) == 2

    # A stream that exists but does not capture the subject is refused, not altered.
    out = cli("send", "--server", nats_url, "--subject", "jscli.elsewhere", "--stream", "JSCLI",
              "--payload", "x:text:y")
    assert out.returncode == 1 and "PUBLISH_FAILED" in out.stderr and "does not capture" in out.stderr
    assert out.stdout == ""


def test_since_replays_from_a_time_and_count_is_honoured(nats_url: str) -> None:
    before, _ = send(nats_url, "jssince.readings", "JSSINCE", "--payload", "r:text:before")
    time.sleep(0.2)
    since = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    time.sleep(0.2)
    after, _ = send(nats_url, "jssince.readings", "JSSINCE", "--payload", "r:text:after")
    assert before != after

    code, lines = receive(nats_url, "jssince.readings", "JSSINCE", "--since", since, "--count", "1", "--timeout", "30")
    assert code == 0 and lines == [after]
    # Fewer than --count before --timeout: what came is printed, and the exit status is 1.
    code, lines = receive(nats_url, "jssince.readings", "JSSINCE", "--since", since, "--count", "2", "--timeout", "2")
    assert code == 1 and lines == [after]
    code, lines = receive(nats_url, "jssince.readings", "JSSINCE", "--count", "2", "--timeout", "30")
    assert code == 0 and lines == [before, after]


def test_an_envelope_that_does_not_decode_gets_an_error_line_and_the_replay_goes_on(nats_url: str) -> None:
    good, _ = send(nats_url, "jsbad.x", "JSBAD", "--payload", "a:text:ok")

    async def poison() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish("jsbad.x", b"{not an envelope", headers={HEADER_CORRELATION_ID: "c-bad"})
        finally:
            await nc.close()

    run(poison())
    later, _ = send(nats_url, "jsbad.x", "JSBAD", "--payload", "a:text:later")
    code, lines = receive(nats_url, "jsbad.x", "JSBAD", "--count", "3", "--timeout", "30")
    assert code == 0 and len(lines) == 3 and lines[0] == good and lines[2] == later
    error = json.loads(lines[1])
    assert error["error"] == ERROR_NOT_ENVELOPE and error["correlation_id"] == "c-bad"


def test_receive_from_a_missing_stream_fails(nats_url: str) -> None:
    out = cli("receive", "--server", nats_url, "--subject", "nobody.here", "--stream", "NO_SUCH_STREAM",
              "--timeout", "5")
    assert out.returncode == 1 and "NATS_CONNECTION_FAILED" in out.stderr and "NO_SUCH_STREAM" in out.stderr


def test_usage_errors_exit_2_with_a_message() -> None:
    cases = [
        (["receive", "--subject", "s", "--since", "2026-01-31T12:00:00Z"], "--since needs --stream"),
        (["receive", "--subject", "s", "--stream", "S", "--since", "yesterday"], "replay start 'yesterday' is not a start"),
        (["receive", "--subject", "s", "--stream", "S", "--since", "10 minutes"], "a duration back from now (`90s`"),
        (["receive", "--subject", "s", "--stream", "S", "--since", "New"], "did you mean `new`?"),
        (["receive", "--subject", "s", "--stream", "S", "--since", "0s"], "use `new`"),
        (["receive", "--subject", "s", "--allow-host", "files:8080"], "write `http://files:8080`"),
        (["receive", "--subject", "s", "--durable", "D"], "--durable needs --stream"),
        (["send", "--subject", "s", "--max-age", "60", "--payload", "x:text:y"], "--max-age needs --stream"),
        (["send", "--subject", "s", "--replicas", "3", "--payload", "x:text:y"], "--replicas needs --stream"),
        (["send", "--subject", "s", "--stream", "S", "--no-publish", "--payload", "x:text:y"],
         "--no-publish cannot go with --stream"),
        (["receive", "--subject", "s", "--stream", "S", "--since", "2026-01-31T12:00:00"], "without an offset"),
        (["send", "--subject", "s", "--stream", "S", "--payload", "no-colons"], "is not NAME:TYPE:SOURCE"),
        (["send", "--subject", "s", "--stream"], "--stream"),
        (["send", "--subject", "s", "--stream", "A.B", "--payload", "x:text:y"], "is not a stream name"),
    ]
    for args, message in cases:
        out = cli("--log-level", "error", *args)
        assert out.returncode == 2, (args, out.returncode, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert out.stdout == "", args
