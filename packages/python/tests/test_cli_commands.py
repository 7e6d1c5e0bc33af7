"""``python -m natsbridge`` against the Rust ``natsbridge`` CLI, the reference (issue 25, three
CLIs one contract), on a real nats-server: the same arguments must print the same lines
(up to timestamps and generated ids) and write the same files.

- ``send --no-publish`` with every envelope field, ``--metadata``/``--metadata-json`` merged,
  ``--from-stdin``: the same envelope, nothing connected;
- ``receive --envelope --out``: the same digest and envelope lines, the same file names and
  bytes (extensions, unsafe names, duplicates); ``--allow-dir`` reads ``file://`` links;
- ``receive --stream --since 10m`` and ``--durable`` (the next run goes on at once);
- ``request`` and ``reply`` (``--fail``, ``--payload``, echo, ``--queue``), the remote error
  line, a request nobody answers;
- each command's ``--help`` names every flag the Rust CLI's does; usage errors.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import nats
import pyarrow as pa
import pytest

from natsbridge import encode_table, smartsend
from natsbridge.cli.logs import levels
from natsbridge.cli.output import file_name
from natsbridge_types.profile import ERROR_BAD_BYTES, ERROR_DEADLINE, ERROR_HOST_NOT_ALLOWED

from .conftest import cli_env, natsbridge_bin, python_cli, run

CID = "00000003-0000-4000-8000-000000000003"
MSG_ID = "00000004-0000-4000-8000-000000000004"
CIDS = [f"0000000{i}-0000-4000-8000-00000000000{i}" for i in range(3)]


def rust() -> list[str]:
    return [natsbridge_bin()]


def lines_of(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines()]


def cli(cmd: list[str], *args: str, stdin: bytes | None = None) -> tuple[int, list[Any], str]:
    """Runs a CLI to its end: (exit status, stdout lines as JSON, stderr)."""
    out = subprocess.run([*cmd, *args], input=stdin, capture_output=True, env=cli_env(), timeout=120)
    return out.returncode, lines_of(out.stdout.decode()), out.stderr.decode()


def start(cmd: list[str], *args: str) -> subprocess.Popen[bytes]:
    """Starts a ``receive`` or ``reply`` and waits for its readiness line."""
    proc = subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    assert proc.stderr is not None
    seen = b""
    while b"subscribed" not in seen:
        line = proc.stderr.readline()
        assert line, f"exited before subscribing: {seen.decode()}"
        seen += line
    return proc


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, list[Any]]:
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, lines_of(out.decode())


def normalized(value: Any) -> Any:
    """A line without what is new on every run: timestamps, payload ids, ids the test did not set."""
    if isinstance(value, dict):
        value = dict(value)
        value.pop("timestamp", None)
        for key in ("correlation_id", "msg_id"):
            if key in value and value[key] not in (CID, MSG_ID, *CIDS):
                value.pop(key)
        if isinstance(value.get("payloads"), list):
            value["payloads"] = [{k: v for k, v in p.items() if k != "id"} for p in value["payloads"]]
    return value


def listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# --- send --------------------------------------------------------------------------------


def test_send_no_publish_prints_every_envelope_field_as_the_rust_cli_does(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    args = [
        "send", "--subject", "every", "--no-publish",  # nothing connects
        "--correlation-id", CID, "--msg-id", MSG_ID, "--purpose", "command", "--sender-name", "script",
        "--sender-id", "script-1", "--receiver-name", "peer", "--receiver-id", "peer-1", "--reply-to", "r",
        "--reply-to-msg-id", "00000005-0000-4000-8000-000000000005", "--metadata", "run=7", "--metadata", "who=me",
        "--metadata", "flag=true", "--metadata", 'quoted="7"', "--metadata-json", '{"tags":["a"],"run":1,"x":{"y":1.5}}',
        "--threshold", "1000000", "--payload", "note:text:hello, wörld", "--payload", 'cfg:dictionary:{"a":[1,2]}',
        "--payload", f"blob:binary:@{blob}", "--payload", 'rows:jsontable:[{"k":1},{"k":2}]',
        "--from-stdin", "piped:audio",
    ]
    outputs = [cli(cmd, *args, stdin=b"\x00\x01 from stdin") for cmd in (rust(), python_cli())]
    (rust_code, rust_lines, rust_err), (code, lines, err) = outputs
    assert (rust_code, code) == (0, 0), (rust_err, err)
    assert len(lines) == 1
    envelope = lines[0]
    assert envelope["metadata"] == {"tags": ["a"], "run": 7, "x": {"y": 1.5}, "who": "me", "flag": True, "quoted": "7"}
    assert [(p["dataname"], p["payload_type"], p["size"]) for p in envelope["payloads"]] == [
        ("note", "text", len("hello, wörld".encode())), ("cfg", "dictionary", 11), ("blob", "binary", 256),
        ("rows", "jsontable", 17), ("piped", "audio", 13)]
    assert (envelope["msg_purpose"], envelope["reply_to"], envelope["sender_id"]) == ("command", "r", "script-1")
    assert [normalized(v) for v in lines] == [normalized(v) for v in rust_lines]


def test_send_no_publish_names_the_server_it_would_use_without_credentials() -> None:
    for cmd in (rust(), python_cli()):
        code, lines, err = cli(cmd, "send", "--server", "nats://alice:pw-np@127.0.0.1:1,tls://b:4443",
                               "--subject", "np", "--no-publish", "--payload", "a:text:b")
        assert code == 0, err
        assert lines[0]["broker_url"] == "nats://127.0.0.1:1,tls://b:4443", cmd
        assert "pw-np" not in json.dumps(lines) + err


def test_send_publishes_with_headers_and_a_one_shot_link_ttl(nats_url: str, fileserver: str) -> None:
    rx = start(python_cli(), "receive", "--server", nats_url, "--subject", "send.hdr", "--count", "1", "--timeout", "30",
               "--show-header", "X-Trace", "--allow-host", fileserver, "--envelope")
    code, sent, err = cli(python_cli(), "send", "--server", nats_url, "--subject", "send.hdr", "--header", "X-Trace=abc",
                          "--fileserver", fileserver, "--threshold", "10", "--one-shot", "--link-ttl", "120",
                          "--payload", "big:text:" + "x" * 100, "--correlation-id", CID)
    assert code == 0, err
    code, got = finish(rx)
    assert code == 0 and len(got) == 2
    assert got[0]["headers"] == {"X-Trace": "abc"}
    assert {k: v for k, v in got[0].items() if k != "headers"} == sent[0]
    assert got[0]["payloads"][0]["transport"] == "link"
    # One-shot: the file server gave the only download to the receiver.
    url = got[1]["payloads"][0]["data"]

    async def second_download() -> int:
        import aiohttp
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            return r.status

    assert run(second_download()) == 404


# --- receive -----------------------------------------------------------------------------


def test_receive_envelope_and_out_print_and_write_what_the_rust_cli_does(nats_url: str, tmp_path: Path) -> None:
    table = pa.table({"x": [1, 2, 3]})
    payloads: list[tuple[str, Any, str]] = [
        ("note", "hello ✓", "text"), ("cfg.json", {"a": [1, 2]}, "dictionary"), ("table", table, "arrowtable"),
        ("rows", [{"k": 1}], "jsontable"), ("voice.wav", b"RIFF....", "audio"), ("blob", bytes(range(256)), "binary"),
        ("blob", b"second", "binary"), ("../../etc/passwd", "no escape", "text"), ("", b"\x01", "image"),
    ]
    dirs = {lang: tmp_path / lang for lang in ("rust", "python")}
    receivers = {lang: start(cmd, "receive", "--server", nats_url, "--subject", "recv.out", "--count", "1",
                             "--timeout", "30", "--envelope", "--out", str(dirs[lang]))
                 for lang, cmd in (("rust", rust()), ("python", python_cli()))}

    async def send() -> None:
        nc = await nats.connect(nats_url)
        try:
            await smartsend("recv.out", payloads, connection=nc, correlation_id=CID, msg_id=MSG_ID, flush=True)
        finally:
            await nc.close()

    run(send())
    outputs = {lang: finish(proc) for lang, proc in receivers.items()}
    assert outputs["python"][0] == 0 and len(outputs["python"][1]) == 2
    assert [normalized(v) for v in outputs["python"][1]] == [normalized(v) for v in outputs["rust"][1]]
    digest, envelope = outputs["python"][1]
    assert envelope["correlation_id"] == CID and len(envelope["payloads"]) == len(payloads)
    files = listing(dirs["python"])
    assert files == listing(dirs["rust"])
    assert list(files) == ["_.._etc_passwd.txt", "blob-2.bin", "blob.bin", "cfg.json", "note.txt", "payload.bin",
                           "rows.json", "table.arrows", "voice.wav"]
    assert files["table.arrows"] == encode_table(table) and files["note.txt"] == "hello ✓".encode()
    by_sha = {hashlib.sha256(b).hexdigest() for b in files.values()}
    assert {p["sha256"] for p in digest["payloads"]} == by_sha


def test_file_names_are_safe_and_typed() -> None:
    assert file_name("table", "arrowtable") == "table.arrows"
    assert file_name("cfg.json", "dictionary") == "cfg.json"
    assert file_name("rows", "jsontable") == "rows.json"
    assert file_name("voice.wav", "audio") == "voice.wav"
    assert file_name("blob", "binary") == "blob.bin"
    assert file_name("../../etc/passwd", "text") == "_.._etc_passwd.txt"
    assert file_name("", "image") == "payload.bin"
    assert file_name("ünï", "text") == "_n_.txt"


def test_allow_dir_reads_file_links_under_it_only(nats_url: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    # The Rust CLI writes file:// links into a directory (--store dir:PATH).
    code, sent, err = cli(rust(), "send", "--server", nats_url, "--subject", "files.x", "--store", f"dir:{store}",
                          "--threshold", "10", "--payload", "big:binary:" + "y" * 200, "--correlation-id", CID,
                          "--no-publish")
    assert code == 0, err
    link = sent[0]["payloads"][0]
    assert link["transport"] == "link" and link["data"].startswith("file://")
    body = json.dumps(sent[0]).encode()
    for extra in ([], ["--allow-dir", str(tmp_path / "elsewhere")], ["--allow-dir", str(store)]):
        outputs = []
        for cmd in (rust(), python_cli()):
            rx = start(cmd, "receive", "--server", nats_url, "--subject", "files.x", "--count", "1", "--timeout", "30",
                       *extra)

            async def publish() -> None:
                nc = await nats.connect(nats_url)
                await nc.publish("files.x", body)
                await nc.close()

            run(publish())
            outputs.append(finish(rx))
        (_, rust_lines), (py_code, py_lines) = outputs
        assert py_code == 0
        if str(store) in extra:
            assert py_lines[0]["payloads"][0]["sha256"] == hashlib.sha256(b"y" * 200).hexdigest()
            assert py_lines == rust_lines
        else:
            assert py_lines[0]["error"] == ERROR_HOST_NOT_ALLOWED == rust_lines[0]["error"]


def test_stream_since_and_a_durable_consumer_that_goes_on(nats_url: str) -> None:
    for i, cid in enumerate(CIDS):
        code, _, err = cli(python_cli(), "send", "--server", nats_url, "--subject", "cli.health", "--stream", "CLIH",
                           "--max-age", "600", "--correlation-id", cid, "--payload", f"n:text:{i}")
        assert code == 0, err
    async def created() -> tuple[float, int]:
        nc = await nats.connect(nats_url)
        try:
            config = (await nc.jetstream().stream_info("CLIH")).config
            return float(config.max_age or 0), int(config.num_replicas or 0)
        finally:
            await nc.close()

    assert run(created()) == (600.0, 1)  # --max-age, and the default --replicas
    replay = ["receive", "--server", nats_url, "--subject", "cli.health", "--stream", "CLIH", "--since", "10m",
              "--count", "3", "--timeout", "30"]
    (code, lines, _), (rust_code, rust_lines, _) = cli(python_cli(), *replay), cli(rust(), *replay)
    assert (code, rust_code) == (0, 0)
    assert [line["correlation_id"] for line in lines] == CIDS and lines == rust_lines
    # An RFC 3339 time works too.
    code, lines, _ = cli(python_cli(), *replay[:-5], "2000-01-01T00:00:00+01:00", "--count", "3", "--timeout", "30")
    assert code == 0 and [line["correlation_id"] for line in lines] == CIDS

    durable = ["receive", "--server", nats_url, "--subject", "cli.health", "--stream", "CLIH", "--durable", "cli-d",
               "--timeout", "30"]
    code, first, _ = cli(python_cli(), *durable, "--count", "2")
    assert code == 0 and [line["correlation_id"] for line in first] == CIDS[:2]
    started = time.monotonic()
    code, second, _ = cli(python_cli(), *durable, "--count", "1")
    # Right after the last one printed, at once (not after the consumer's ack_wait).
    assert code == 0 and [line["correlation_id"] for line in second] == CIDS[2:]
    assert time.monotonic() - started < 20
    code, third, _ = cli(python_cli(), *durable[:-1], "2", "--count", "1")
    assert (code, third) == (1, [])


# --- request and reply -------------------------------------------------------------------


def test_reply_fail_answers_a_remote_error_both_requesters_print_alike(nats_url: str) -> None:
    responder = start(python_cli(), "reply", "--server", nats_url, "--subject", "rr.fail", "--count", "2",
                      "--timeout", "30", "--fail", f"{ERROR_BAD_BYTES}:no thanks")
    asked = [cli(cmd, "request", "--server", nats_url, "--subject", "rr.fail", "--correlation-id", CID,
                 "--payload", "q:text:hi", "--timeout", "10") for cmd in (python_cli(), rust())]
    code, printed = finish(responder)
    assert code == 0 and len(printed) == 2 and printed[0]["payloads"][0]["dataname"] == "q"
    (py_code, py_lines, _), (rust_code, rust_lines, _) = asked
    assert (py_code, rust_code) == (1, 1)
    # The remote error reads `CODE from the responder: message` (no code or payload name repeated).
    assert py_lines == rust_lines == [{
        "error": ERROR_BAD_BYTES, "correlation_id": CID, "remote": True,
        "message": f"{ERROR_BAD_BYTES} from the responder: no thanks"}]

    responder = start(python_cli(), "reply", "--server", nats_url, "--subject", "rr.fail2", "--count", "1",
                      "--timeout", "30", "--fail", ERROR_DEADLINE)
    code, lines, _ = cli(python_cli(), "request", "--server", nats_url, "--subject", "rr.fail2", "--payload", "q:text:hi")
    assert code == 1 and lines[0]["error"] == ERROR_DEADLINE and lines[0]["remote"] is True
    assert lines[0]["message"].endswith("the responder was told to fail")
    assert finish(responder)[0] == 0


def test_reply_answers_with_its_payloads_or_echoes_the_request(nats_url: str, tmp_path: Path) -> None:
    responder = start(python_cli(), "reply", "--server", nats_url, "--subject", "rr.ok", "--count", "2",
                      "--timeout", "30", "--payload", 'status:dictionary:{"status":"Running"}')
    asked = [cli(cmd, "request", "--server", nats_url, "--subject", "rr.ok", "--correlation-id", CID, "--msg-id",
                 MSG_ID, "--sender-name", "asker", "--payload", "q:text:hi", "--timeout", "10", "--envelope",
                 "--out", str(tmp_path / name)) for cmd, name in ((python_cli(), "py"), (rust(), "rust"))]
    assert finish(responder)[0] == 0
    (code, lines, _), (rust_code, rust_lines, _) = asked
    assert (code, rust_code) == (0, 0)
    digest, envelope = lines
    assert digest["msg_purpose"] == "ACK" and digest["correlation_id"] == CID
    assert [p["dataname"] for p in digest["payloads"]] == ["status"]
    assert (envelope["sender_name"], envelope["receiver_name"], envelope["reply_to_msg_id"]) == (
        "natsbridge reply", "asker", MSG_ID)
    # The reply goes to each requester's own inbox, named after each requester's sender_id.
    for line in (envelope, rust_lines[1]):
        del line["send_to"], line["receiver_id"]
    assert [normalized(v) for v in lines] == [normalized(v) for v in rust_lines]
    assert listing(tmp_path / "py") == listing(tmp_path / "rust") == {"status.json": b'{"status":"Running"}'}

    # Without --payload, the request's own payloads come back.
    responder = start(python_cli(), "reply", "--server", nats_url, "--subject", "rr.echo", "--count", "1",
                      "--timeout", "30")
    code, sent, _ = cli(python_cli(), "request", "--server", nats_url, "--subject", "rr.echo", "--payload",
                        "a:text:echo me", "--payload", 'b:dictionary:{"k":[1]}')
    code_r, printed = finish(responder)
    assert (code, code_r) == (0, 0)
    assert sent[0]["payloads"] == printed[0]["payloads"]


def test_reply_queue_shares_the_requests(nats_url: str) -> None:
    group = ["reply", "--server", nats_url, "--subject", "rr.q", "--queue", "workers", "--timeout", "6"]
    responders = [start(python_cli(), *group) for _ in range(2)]
    for _ in range(4):
        code, _, err = cli(python_cli(), "request", "--server", nats_url, "--subject", "rr.q", "--payload", "q:text:x",
                           "--timeout", "5")
        assert code == 0, err
    handled = [finish(r) for r in responders]
    assert [code for code, _ in handled] == [0, 0]
    assert sum(len(lines) for _, lines in handled) == 4  # each request answered once


def test_a_request_nobody_answers_prints_a_timeout_line(nats_url: str) -> None:
    code, lines, _ = cli(python_cli(), "request", "--server", nats_url, "--subject", "rr.nobody", "--correlation-id",
                         CID, "--payload", "q:text:x", "--timeout", "1")
    assert code == 1
    assert lines == [{"error": ERROR_DEADLINE, "correlation_id": CID,
                      "message": f"{ERROR_DEADLINE}: waiting for a reply on `rr.nobody`: none came within 1s. Check "
                                 "that a responder is subscribed to it (e.g. serve()), or raise timeout if it needs "
                                 "longer"}]


# --- help and usage ----------------------------------------------------------------------


def _flags(text: str) -> set[str]:
    """The flags a help text mentions anywhere."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


def _defined_flags(text: str) -> set[str]:
    """The flags a help text defines: those opening a line (``  -q, --quiet``, ``      --out <DIR>``)."""
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", text, re.MULTILINE))


@pytest.mark.parametrize("command", ["send", "receive", "request", "reply"])
def test_help_names_every_flag_of_the_rust_cli(command: str) -> None:
    rust_help = subprocess.run([*rust(), command, "--help"], capture_output=True, text=True, check=True).stdout
    help_text = subprocess.run([*python_cli(), command, "--help"], capture_output=True, text=True, env=cli_env(),
                               check=True).stdout
    rust_flags = _defined_flags(rust_help)
    assert len(rust_flags) > 10 and rust_flags <= _flags(help_text), rust_flags - _flags(help_text)


def test_usage_errors_name_what_is_wrong() -> None:
    cases = [
        (["reply", "--subject", "s", "--fail", "NOPE"], "the code is not one of"),
        (["send", "--subject", "s", "--no-publish", "--purpose", "request", "--payload", "x:text:y"], "is not one of ACK"),
        (["send", "--subject", "s", "--no-publish", "--metadata", "nokv", "--payload", "x:text:y"], "is not KEY=VALUE"),
        (["send", "--subject", "s", "--no-publish", "--metadata-json", "[1]", "--payload", "x:text:y"],
         "--metadata-json must be a JSON object"),
        (["send", "--subject", "s", "--no-publish", "--header", "nokv", "--payload", "x:text:y"], "is not K=V"),
        (["send", "--subject", "s", "--no-publish", "--store", "dir:/tmp", "--payload", "x:text:y"], "(plik)"),
        (["send", "--subject", "s", "--no-publish"], "give at least one --payload"),
        (["send", "--subject", "s", "--no-publish", "--payload", "x:dictionary:{"], "x: not JSON"),
    ]
    for args, message in cases:
        code, lines, err = cli(python_cli(), *args)
        assert code == 2 and lines == [] and message in err, (args, code, err)
    # A writer rule the runtime checks: exit 1, the code on stderr.
    code, _, err = cli(python_cli(), "send", "--subject", "s", "--no-publish", "--correlation-id", "nope",
                       "--payload", "x:text:y")
    assert code == 1 and "SERIALIZATION_ERROR" in err and "correlation_id" in err


def test_global_flags_go_before_or_after_the_command_and_a_filter_never_fails() -> None:
    for args in (["--log-level", "natsbridge=debug,warn", "send"], ["send", "-q", "--log-format", "json",
                                                                       "--log-level", "nonsense"]):
        code, lines, err = cli(python_cli(), *args, "--subject", "s", "--no-publish", "--payload", "x:text:y")
        assert code == 0 and len(lines) == 1, err
    assert levels("natsbridge=debug,warn") == {"natsbridge": 10, "": 30}
    assert levels("INFO") == {"": 20} and levels("") == {"": 30} and levels("what") == {"": 30}
