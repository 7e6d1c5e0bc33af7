"""Cross-language: this package against the Rust `natsbridge` CLI over one real nats-server
and the embedded file server, in both directions, library and CLI. The digest lines must be
equal byte for byte. Each envelope carries all eight types, a 1-million-row Arrow table and
5 MB of audio by link."""

from __future__ import annotations

import asyncio
import json
import math
import struct
import subprocess
from pathlib import Path
from typing import Any

import nats
import pyarrow as pa

from natsbridge import ReceiveOptions, encode_table, smartreceive, smartsend
from natsbridge import digest
from natsbridge.transport import subscriptions_registered
from natsbridge_types.profile import HEADER_CHANNELS, HEADER_SAMPLE_RATE

from .conftest import cli_env, natsbridge_bin, python_cli, run

ROWS = 1_000_000
AUDIO_BYTES = 5_000_000


def big_table() -> pa.Table:
    return pa.table({"id": pa.array(range(ROWS), pa.int64()), "value": pa.array([i / 3 for i in range(ROWS)], pa.float64())})


def pcm() -> bytes:
    return b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * i / 44100))) for i in range(AUDIO_BYTES // 2))


def payloads() -> list[tuple[str, Any, str]]:
    return [
        ("note", "Hello from Python — ünïcödé 😀", "text"),
        ("config", {"step_size": 0.01, "iterations": 1000}, "dictionary"),
        ("table", big_table(), "arrowtable"),
        ("rows", [{"a": 1, "b": "x"}, {"a": 2, "b": "ü"}], "jsontable"),
        ("image", bytes((i * 13) % 256 for i in range(2000)), "image"),
        ("audio", pcm(), "audio"),
        ("video", bytes((i * 7) % 256 for i in range(3000)), "video"),
        ("binary", bytes(range(256)), "binary"),
    ]


def rows_of(items: list[tuple[str, Any, str]]) -> list[int | None]:
    return [d.num_rows if k == "arrowtable" else (len(d) if k == "jsontable" else None) for _, d, k in items]


async def start_receiver(args: list[str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    assert proc.stderr is not None
    line = await asyncio.wait_for(proc.stderr.readline(), 30)
    assert json.loads(line) == {"subscribed": True}, line
    return proc


async def finish(proc: asyncio.subprocess.Process) -> str:
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_python_smartsend_to_rust_receive(nats_url: str, fileserver: str) -> None:
    items = payloads()

    async def go() -> tuple[str, str, dict[str, Any]]:
        proc = await start_receiver([natsbridge_bin(), "receive", "--server", nats_url, "--subject", "interop.py2rs",
                                     "--count", "1", "--timeout", "60", "--allow-host", fileserver,
                                     "--show-header", HEADER_SAMPLE_RATE, "--show-header", HEADER_CHANNELS])
        sent = await smartsend("interop.py2rs", items, connection=nats_url, fileserver_url=fileserver,
                               headers={HEADER_SAMPLE_RATE: "44100", HEADER_CHANNELS: "1"}, msg_purpose="event")
        return await finish(proc), digest.of_sent(sent.envelope, rows_of(items)), dict(sent.envelope)

    theirs, ours, envelope = run(go())
    transports = {p["dataname"]: p["transport"] for p in envelope["payloads"]}
    assert transports["table"] == "link" and transports["audio"] == "link" and transports["note"] == "direct"
    assert json.loads(theirs).pop("headers") == {HEADER_SAMPLE_RATE: "44100", HEADER_CHANNELS: "1"}
    assert theirs == digest.with_headers(ours, {HEADER_SAMPLE_RATE: "44100", HEADER_CHANNELS: "1"}, [HEADER_SAMPLE_RATE, HEADER_CHANNELS])


def test_rust_send_to_python_smartreceive(nats_url: str, fileserver: str, tmp_path: Path) -> None:
    (tmp_path / "table.arrows").write_bytes(encode_table(big_table()))
    (tmp_path / "audio.pcm").write_bytes(pcm())
    (tmp_path / "image.bin").write_bytes(bytes((i * 13) % 256 for i in range(2000)))
    specs = [
        "note:text:Hello from Rust — ünïcödé 😀", 'config:dictionary:{"step_size":0.01,"iterations":1000}',
        f"table:arrowtable:@{tmp_path / 'table.arrows'}", 'rows:jsontable:[{"a":1,"b":"x"},{"a":2,"b":"ü"}]',
        f"image:image:@{tmp_path / 'image.bin'}", f"audio:audio:@{tmp_path / 'audio.pcm'}",
        "video:video:raw video bytes", "binary:binary:\u0001\u0002",
    ]

    async def go() -> tuple[str, str, Any]:
        nc = await nats.connect(nats_url)
        try:
            sub = await nc.subscribe("interop.rs2py")
            await subscriptions_registered(nc)
            args = [natsbridge_bin(), "send", "--server", nats_url, "--subject", "interop.rs2py",
                    "--fileserver", fileserver, "--header", "Sample-Rate=44100", "--header", "Channels=1"]
            for s in specs:
                args += ["--payload", s]
            proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            theirs = await finish(proc)
            msg = await sub.next_msg(timeout=30)
            received = await smartreceive(msg, ReceiveOptions().allow_host(fileserver))
            return theirs, digest.of_received(received), received
        finally:
            await nc.close()

    theirs, ours, received = run(go())
    assert ours == theirs
    assert received.headers[HEADER_SAMPLE_RATE] == "44100"
    table = received.payload("table")
    assert table.transport == "link" and table.data.num_rows == ROWS
    assert table.data.column("value")[3].as_py() == 1.0
    assert received.payload("audio").transport == "link" and received.payload("audio").data == pcm()
    assert received.payload("config").data == {"step_size": 0.01, "iterations": 1000}


def test_python_cli_and_rust_cli_agree_both_ways(nats_url: str, fileserver: str, tmp_path: Path) -> None:
    (tmp_path / "t.arrows").write_bytes(encode_table(pa.table({"x": list(range(1000))})))
    (tmp_path / "a.pcm").write_bytes(b"\x01\x02" * 300_000)
    payload_args = ["--payload", "hello:text:hi there", "--payload", 'cfg:dictionary:{"a":[1,2]}',
                    "--payload", f"t:arrowtable:@{tmp_path / 't.arrows'}", "--payload", f"a:audio:@{tmp_path / 'a.pcm'}",
                    "--payload", 'rows:jsontable:[{"k":1}]']

    async def pair(sender: list[str], receiver: list[str], subject: str) -> tuple[str, str]:
        recv = await start_receiver(receiver + ["receive", "--server", nats_url, "--subject", subject, "--count", "1",
                                                "--timeout", "60", "--allow-host", fileserver])
        send = await asyncio.create_subprocess_exec(
            *sender, "send", "--server", nats_url, "--subject", subject, "--fileserver", fileserver,
            "--purpose", "command", *payload_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
        return await finish(send), await finish(recv)

    async def go() -> list[tuple[str, str]]:
        rust, py = [natsbridge_bin()], python_cli()
        return [await pair(py, rust, "cli.py2rs"), await pair(rust, py, "cli.rs2py"), await pair(py, py, "cli.py2py")]

    for sent_line, received_line in run(go()):
        assert sent_line == received_line
        parsed = json.loads(sent_line)
        assert parsed["msg_purpose"] == "command"
        assert [p["transport"] for p in parsed["payloads"]] == ["direct", "direct", "direct", "link", "direct"]
        assert parsed["payloads"][2]["num_rows"] == 1000 and parsed["payloads"][4]["num_rows"] == 1
