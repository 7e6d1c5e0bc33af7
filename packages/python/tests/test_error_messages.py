"""Errors that say what to do (issue 26, D5): each row is a mistake or a failure a user runs
into, and the error it gives must carry the code and a message reading ``<what was attempted>
<where>: <why>. <what to try>``: the URL or subject, the concrete cause (refused connection,
HTTP status, DNS), where the URL came from (the argument, the environment variable, the
default), and never a credential. Real servers where a server is involved: a dead port, an
HTTP server answering 500, a nats-server."""

from __future__ import annotations

import asyncio
import datetime
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from aiohttp import web
from nats.aio.client import Client

import natsbridge as nb
from natsbridge import NatsBridgeError, config
from natsbridge_types.profile import (
    ENV_FILESERVER_URL,
    ENV_NATS_URL,
    ERROR_BAD_OPTION,
    ERROR_DEADLINE,
    ERROR_HOST_NOT_ALLOWED,
    ERROR_UPLOAD,
)

from .conftest import free_port, run

anything: Any = None
untyped: Any = nb
BIG = bytes(600_000)
"""Over the default threshold: uploaded, so the file server is used."""


def dead_port() -> int:
    """A loopback port nothing listens on."""
    port = free_port()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return port


@dataclass
class Row:
    what: str
    call: Callable[[], Awaitable[Any]]
    code: str
    says: list[str]
    """Substrings of the message: what, where, why, what to try (and the URL's source)."""
    never: tuple[str, ...] = ("secret",)


async def _failing_http(status: int) -> tuple[web.AppRunner, str]:
    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=status, text="disk full on /var/plik")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fail)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def rows(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> list[Row]:
    dead_files = f"http://127.0.0.1:{dead_port()}"
    dead_nats = f"nats://127.0.0.1:{dead_port()}"

    async def upload_to(url: str | None) -> Any:
        return await nb.smartsend("msgs.upload", [("table", BIG, "binary")], publish=False, fileserver_url=url)

    async def upload_env() -> Any:
        monkeypatch.setenv(ENV_FILESERVER_URL, dead_files)
        return await upload_to(None)

    async def upload_default() -> Any:
        monkeypatch.delenv(ENV_FILESERVER_URL, raising=False)
        monkeypatch.setattr(config, "DEFAULT_FILESERVER_URL", dead_files)
        return await upload_to(None)

    async def upload_500() -> Any:
        runner, url = await _failing_http(500)
        try:
            return await upload_to(url)
        finally:
            await runner.cleanup()

    async def nats_env() -> Any:
        monkeypatch.setenv(ENV_NATS_URL, dead_nats)
        return await nb.smartsend("msgs.nats", [("a", "b", "text")])

    async def request_nobody() -> Any:
        nc = await nats.connect(nats_url)
        try:
            return await nb.smartrequest(nc, "msgs.nobody", [("q", "x", "text")], timeout=0.3)
        finally:
            await nc.close()

    async def remote_error() -> Any:
        nc = await nats.connect(nats_url)

        async def refuse(request: nb.Received) -> None:
            raise nb.ApplicationError("UNKNOWN_COLUMN", "no column `nope`", dataname="query")

        try:
            async with await nb.serve(nc, "msgs.remote", refuse):
                return await nb.smartrequest(nc, "msgs.remote", [("query", "x", "text")], timeout=5)
        finally:
            await nc.close()

    async def receive_from(host: str) -> Any:
        sent = await nb.smartsend("msgs.link", [("blob", BIG, "binary")], publish=False,
                                  fileserver_url=fileserver_holder[0])
        return await nb.smartreceive(sent.json, nb.ReceiveOptions(allowed_hosts=[host]))

    async def sync(fn: Callable[[], Any]) -> Any:
        return fn()

    return [
        Row("dead file server, URL from the argument", lambda: upload_to(dead_files), ERROR_UPLOAD,
            ["uploading payload `table` (600000 bytes)", f"to {dead_files}/upload", "connection refused",
             "the argument `fileserver_url`", "Start the file server at", "pass another fileserver_url"]),
        Row("dead file server, URL from FILESERVER_URL", upload_env, ERROR_UPLOAD,
            ["uploading payload `table`", f"{dead_files}/upload", "connection refused",
             f"{ENV_FILESERVER_URL} (environment)", f"change {ENV_FILESERVER_URL}"]),
        Row("dead file server, the default URL", upload_default, ERROR_UPLOAD,
            ["uploading payload `table`", "connection refused", f"the default {dead_files}",
             f"{ENV_FILESERVER_URL} is unset", "Start a file server (`natsbridge fileserver`) or pass fileserver_url"]),
        Row("credentials in the file server URL", lambda: upload_to(dead_files.replace("//", "//user:secret@")),
            ERROR_UPLOAD, ["connection refused", f"{dead_files}/upload"]),
        Row("HTTP 500 from the upload", upload_500, ERROR_UPLOAD,
            ["uploading payload `table`", "/upload failed", "HTTP 500 Internal Server Error", "disk full on /var/plik",
             "see its log"]),
        Row("dead NATS server, URL from NATS_URL", nats_env, "NATS_CONNECTION_FAILED",
            [f"connecting to NATS at {dead_nats}", "connection refused", f"the servers are from {ENV_NATS_URL}",
             "credentials: none", f"Start the NATS server at {dead_nats} or change {ENV_NATS_URL}"]),
        Row("credentials in the NATS URL", lambda: nb.connect(dead_nats.replace("//", "//user:secret@")),
            "NATS_CONNECTION_FAILED", [f"connecting to NATS at {dead_nats}", "connection refused",
                                       "the servers are from --server",
                                       "credentials: user_password from the user info of --server"],
            ("secret",)),
        Row("two kinds of credentials", lambda: nb.connect(dead_nats, token="t0ken-x", creds="/nowhere/u.creds"),
            ERROR_BAD_OPTION, ["two kinds of credentials: token (--token) and creds (--creds); give one"],
            ("t0ken-x",)),
        Row("misspelt option", lambda: untyped.smartsend("s", [], publish=False, fileserverUrl="x"), ERROR_BAD_OPTION,
            ["smartsend", "unknown option `fileserverUrl`", "did you mean `fileserver_url`?"]),
        Row("misspelt request option", lambda: nb.smartrequest(Client(), "s", [], timout=1), ERROR_BAD_OPTION,
            ["smartrequest: unknown option `timout`", "did you mean `timeout`?"], ("smartsend",)),
        Row("wrong type", lambda: untyped.smartrequest(Client(), "s", [], timeout="5"), ERROR_BAD_OPTION,
            ["smartrequest", "`timeout` must be a number", "not str '5'"]),
        Row("a string where a list is expected", lambda: sync(lambda: untyped.ReceiveOptions(
            allowed_hosts="http://files:8080")), ERROR_BAD_OPTION,
            ["ReceiveOptions", "`allowed_hosts` must be a list", "wrap it in a list"]),
        Row("negative timeout", lambda: nb.smartrequest(Client(), "s", [], timeout=-1), ERROR_BAD_OPTION,
            ["smartrequest", "`timeout`", "more than 0", "not int -1"]),
        Row("bad start", lambda: sync(lambda: nb.EnvelopeConsumer(Client(), "S", start="New")), ERROR_BAD_OPTION,
            ["EnvelopeConsumer", "`start`", "'New'", "did you mean `new`?", "a start is `all`, `new`"]),
        Row("naive datetime", lambda: sync(lambda: nb.EnvelopeConsumer(
            Client(), "S", start=datetime.datetime(2026, 12, 6, 9))), ERROR_BAD_OPTION,
            ["EnvelopeConsumer", "naive datetime", "datetime.now(timezone.utc)"]),
        Row("bare allowed host", lambda: sync(lambda: nb.ReceiveOptions().allow_host("files:8080")), ERROR_BAD_OPTION,
            ["allow_host", "allowed host `files:8080` is not a URL", "write `http://files:8080` (or https://...)"]),
        Row("a link to a host not allowed", lambda: receive_from("http://elsewhere:1"), ERROR_HOST_NOT_ALLOWED,
            ["downloading http://127.0.0.1:", "are not allowed (allowed: elsewhere:1)", "allow it:",
             "--allow-host http://127.0.0.1:"]),
        Row("integer header value", lambda: untyped.smartsend("s", [("a", "b", "text")], publish=False,
                                                              headers={"X-Count": 1}), ERROR_BAD_OPTION,
            ["smartsend", "option `headers`", "the value of `X-Count` is int 1", "write it as text (str(1))"]),
        Row("remote application error", remote_error, "APPLICATION_ERROR",
            ["no column `nope`"]),
        Row("timeout", request_nobody, ERROR_DEADLINE,
            ["waiting for a reply on `msgs.nobody`", "none came within 0.3s",
             "Check that a responder is subscribed to it", "raise timeout"]),
    ]


fileserver_holder: list[str] = []


def test_every_error_says_what_where_why_and_what_to_try(
        nats_url: str, fileserver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fileserver_holder[:] = [fileserver]
    problems: list[str] = []
    for row in rows(nats_url, monkeypatch):
        with monkeypatch.context():
            try:
                run(asyncio.wait_for(row.call(), 30))
                problems.append(f"{row.what}: no error")
                continue
            except NatsBridgeError as e:
                err = e
            except Exception as e:  # noqa: BLE001
                problems.append(f"{row.what}: raw {type(e).__name__}: {e}")
                continue
        text = str(err)
        if err.code != row.code:
            problems.append(f"{row.what}: code {err.code}, expected {row.code}: {text}")
        for part in row.says:
            if part not in err.message:
                problems.append(f"{row.what}: the message lacks {part!r}: {err.message}")
        for part in row.never:
            if part in err.report():
                problems.append(f"{row.what}: the message shows {part!r}: {err.report()}")
    assert not problems, "\n".join(problems)


def test_a_remote_error_says_its_code_and_payload_once(nats_url: str) -> None:
    async def go() -> NatsBridgeError:
        nc = await nats.connect(nats_url)

        async def refuse(request: nb.Received) -> None:
            raise NatsBridgeError("DESERIALIZATION_ERROR", "iterations must be a positive number", dataname="query")

        try:
            async with await nb.serve(nc, "msgs.once", refuse):
                try:
                    await nb.smartrequest(nc, "msgs.once", [("query", "x", "text")], timeout=5)
                except NatsBridgeError as e:
                    return e
                raise AssertionError("no error")
        finally:
            await nc.close()

    err = run(go())
    text = str(err)
    assert text == "DESERIALIZATION_ERROR from the responder: iterations must be a positive number (payload `query`)"
    assert text.count("DESERIALIZATION_ERROR") == 1 and text.count("(payload") == 1
