"""plik_upload against a fake Plik server on loopback (aiohttp.web, started in the test): the TTL
the server grants in its ``POST /upload`` answer must cover the TTL asked."""

from __future__ import annotations

import math

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from natsbridge import NatsBridgeError, PlikUpload, plik_upload
from natsbridge_types.profile import ERROR_UPLOAD

from .conftest import free_port, run


@asynccontextmanager
async def fake_plik(status: int, answer: dict[str, Any]) -> AsyncIterator[tuple[str, list[Any]]]:
    """Answers ``POST /upload`` with ``answer`` (HTTP ``status``), ``POST /file/u1`` with
    ``{"id": "f1"}``; yields the URL and the list of what it received."""
    seen: list[Any] = []

    async def upload(request: web.Request) -> web.StreamResponse:
        seen.append(await request.json())
        return web.json_response(answer, status=status)

    async def file(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        return web.json_response({"id": "f1"})

    app = web.Application()
    app.router.add_post("/upload", upload)
    app.router.add_post("/file/u1", file)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def upload(status: int, answer: dict[str, Any], ttl: float | None = 120) -> tuple[PlikUpload | NatsBridgeError, list[Any]]:
    async def go() -> tuple[PlikUpload | NatsBridgeError, list[Any]]:
        async with fake_plik(status, answer) as (url, seen):
            try:
                return await plik_upload(url, "a.bin", b"abc", ttl=ttl, correlation_id="c-1"), seen
            except NatsBridgeError as e:
                return e, seen
    return run(go())


def test_a_shorter_granted_ttl_fails_the_upload() -> None:
    got, seen = upload(200, {"id": "u1", "uploadToken": "t1", "ttl": 10})
    assert isinstance(got, NatsBridgeError)
    assert got.code == ERROR_UPLOAD and got.correlation_id == "c-1"
    assert "granted a TTL of 10 s, 120 s was asked" in got.message
    assert seen == [{"oneShot": False, "ttl": 120}], "no file was sent"


@pytest.mark.parametrize("granted", [{"ttl": 120}, {"ttl": 7200}, {"ttl": 0}, {"ttl": -1}, {}])
def test_a_covering_or_unlimited_or_missing_ttl_proceeds(granted: dict[str, Any]) -> None:
    got, seen = upload(200, {"id": "u1", "uploadToken": "t1", **granted})
    assert isinstance(got, PlikUpload)
    assert got.url.endswith("/file/u1/f1/a.bin")
    assert seen == [{"oneShot": False, "ttl": 120}, "/file/u1"]


def test_no_ttl_asked_takes_any_granted() -> None:
    got, seen = upload(200, {"id": "u1", "uploadToken": "t1", "ttl": 10}, ttl=None)
    assert isinstance(got, PlikUpload) and seen == [{"oneShot": False}, "/file/u1"]


def test_a_refused_ttl_carries_the_servers_message() -> None:
    got, _ = upload(400, {"message": "ttl 120 s is above this server's maxTTL 60 s"})
    assert isinstance(got, NatsBridgeError)
    assert got.code == ERROR_UPLOAD and got.correlation_id == "c-1"
    assert "HTTP 400" in got.message and "maxTTL 60 s" in got.message


def test_a_fractional_ttl_is_asked_rounded_up() -> None:
    got, seen = upload(200, {"id": "u1", "uploadToken": "t1", "ttl": 10}, ttl=10.5)
    assert isinstance(got, NatsBridgeError), "10.5 s asked is more than 10 s granted"
    assert seen == [{"oneShot": False, "ttl": 11}]


@pytest.mark.parametrize("granted", [{"ttl": 0}, {"ttl": -1}, {}])
def test_for_ever_is_asked_as_plik_never_expires(granted: dict[str, Any]) -> None:
    got, seen = upload(200, {"id": "u1", "uploadToken": "t1", **granted}, ttl=math.inf)
    assert isinstance(got, PlikUpload), "a server granting never-expiring uploads"
    assert seen == [{"oneShot": False, "ttl": -1}, "/file/u1"]


def test_for_ever_is_more_than_any_granted_number() -> None:
    got, seen = upload(200, {"id": "u1", "uploadToken": "t1", "ttl": 10 ** 9}, ttl=math.inf)
    assert isinstance(got, NatsBridgeError)
    assert "granted a TTL of 1000000000 s, for ever was asked" in got.message
    assert seen == [{"oneShot": False, "ttl": -1}], "no file was sent"
