"""fetch_with_backoff against a small real HTTP server on loopback (aiohttp.web, started in
the test), scripted per path: statuses, Retry-After, redirects, wrong lengths."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from natsbridge import FetchOptions, NatsBridgeError, fetch_with_backoff
from natsbridge.fetch import backoff_cap, parse_retry_after, retryable_status
from natsbridge.wire import sha256_hex
from natsbridge.fetch import fetch_hashed
from natsbridge_types.profile import (
    ERROR_DEADLINE,
    ERROR_DOWNLOAD,
    ERROR_HOST_NOT_ALLOWED,
    ERROR_INTEGRITY,
    ERROR_PAYLOAD_TOO_LARGE,
    FETCH_RETRY_AFTER_CAP_SECONDS,
)

from .conftest import free_port, run

BODY = bytes(range(256)) * 40
Script = list[Callable[[web.Request], Awaitable[web.StreamResponse]]]


def status(code: int, headers: dict[str, str] | None = None) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def h(_: web.Request) -> web.StreamResponse:
        return web.Response(status=code, headers=headers or {}, text="no")
    return h


def ok(body: bytes = BODY) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def h(_: web.Request) -> web.StreamResponse:
        return web.Response(body=body)
    return h


def chunked(body: bytes) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def h(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(body), 1000):
            await resp.write(body[i:i + 1000])
        await resp.write_eof()
        return resp
    return h


class Server:
    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.hits: dict[str, list[float]] = {}
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits.setdefault(path, []).append(time.monotonic())
        script = self.scripts.get(path, [])
        step = script.pop(0) if len(script) > 1 else (script[0] if script else status(404))
        return await step(request)


@asynccontextmanager
async def http_server(**scripts: Script) -> AsyncIterator[Server]:
    server = Server()
    server.scripts = {f"/{k}": v for k, v in scripts.items()}
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


FAST = FetchOptions(base_delay=0.01, max_delay=0.05)


def test_503_with_retry_after_then_200() -> None:
    async def go() -> tuple[bytearray, list[float]]:
        async with http_server(blob=[status(503, {"Retry-After": "1"}), ok()]) as s:
            data = await fetch_with_backoff(f"{s.url}/blob", expected_size=len(BODY), correlation_id="c-1")
            return data, s.hits["/blob"]

    data, hits = run(go())
    assert data == BODY
    assert len(hits) == 2
    assert hits[1] - hits[0] >= 0.95, "Retry-After: 1 was honoured"


@pytest.mark.parametrize("code", [404, 408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(code: int) -> None:
    async def go() -> tuple[bytearray, int]:
        async with http_server(b=[status(code), status(code), ok()]) as s:
            return await fetch_with_backoff(f"{s.url}/b", options=FAST), len(s.hits["/b"])

    data, hits = run(go())
    assert data == BODY and hits == 3


@pytest.mark.parametrize("code", [400, 401, 403, 410, 501])
def test_permanent_statuses_fail_at_once(code: int) -> None:
    async def go() -> tuple[NatsBridgeError, int]:
        async with http_server(b=[status(code), ok()]) as s:
            with pytest.raises(NatsBridgeError) as e:
                await fetch_with_backoff(f"{s.url}/b", options=FAST, correlation_id="c-2")
            return e.value, len(s.hits["/b"])

    err, hits = run(go())
    assert err.code == ERROR_DOWNLOAD and err.correlation_id == "c-2" and hits == 1


def test_five_attempts_then_download_failed() -> None:
    async def go() -> tuple[NatsBridgeError, int]:
        async with http_server(b=[status(503)]) as s:
            with pytest.raises(NatsBridgeError) as e:
                await fetch_with_backoff(f"{s.url}/b", options=FAST, correlation_id="c-3")
            return e.value, len(s.hits["/b"])

    err, hits = run(go())
    assert err.code == ERROR_DOWNLOAD and hits == 5 and "after 5 attempts" in err.message


def test_redirects_are_not_followed() -> None:
    async def go() -> tuple[NatsBridgeError, int]:
        async with http_server(r=[status(302, {"Location": "/b"})], b=[ok()]) as s:
            with pytest.raises(NatsBridgeError) as e:
                await fetch_with_backoff(f"{s.url}/r", options=FAST)
            return e.value, len(s.hits.get("/b", []))

    err, followed = run(go())
    assert err.code == ERROR_HOST_NOT_ALLOWED and followed == 0


def test_lengths_and_the_size_cap() -> None:
    async def go() -> list[str]:
        codes: list[str] = []
        async with http_server(b=[ok()], c=[chunked(BODY)]) as s:
            cases: list[tuple[str, dict[str, Any]]] = [
                (f"{s.url}/b", {"expected_size": len(BODY) - 1}),
                (f"{s.url}/b", {"expected_size": len(BODY) + 1}),
                (f"{s.url}/c", {"expected_size": len(BODY) - 1}),
                (f"{s.url}/c", {"expected_size": len(BODY) + 1}),
                (f"{s.url}/c", {"options": FetchOptions(max_bytes=100)}),
                (f"{s.url}/b", {"options": FetchOptions(max_bytes=100)}),
                (f"{s.url}/b", {"expected_size": 1 << 40}),
            ]
            for url, kw in cases:
                with pytest.raises(NatsBridgeError) as e:
                    await fetch_with_backoff(url, **kw)
                codes.append(e.value.code)
            assert await fetch_with_backoff(f"{s.url}/c", expected_size=len(BODY)) == BODY
            fetched = await fetch_hashed(f"{s.url}/c")
            assert fetched.sha256 == sha256_hex(BODY)
        return codes

    assert run(go()) == [ERROR_INTEGRITY] * 4 + [ERROR_PAYLOAD_TOO_LARGE] * 3


def test_the_overall_deadline_bounds_everything() -> None:
    async def go() -> tuple[NatsBridgeError, float]:
        async with http_server(b=[status(503, {"Retry-After": "30"})]) as s:
            started = time.monotonic()
            with pytest.raises(NatsBridgeError) as e:
                await fetch_with_backoff(f"{s.url}/b", options=FetchOptions(deadline=1.0), correlation_id="c-4")
            return e.value, time.monotonic() - started

    err, took = run(go())
    assert err.code == ERROR_DEADLINE and err.correlation_id == "c-4" and "deadline" in err.message
    assert took < 1.0


def test_connection_refused_is_retried_then_fails() -> None:
    port = free_port()
    with pytest.raises(NatsBridgeError) as e:
        run(fetch_with_backoff(f"http://127.0.0.1:{port}/x", options=FAST))
    assert e.value.code == ERROR_DOWNLOAD and "5 attempts" in e.value.message


def test_schedule_rules() -> None:
    opts = FetchOptions()
    assert [round(backoff_cap(a, opts) * 1000) for a in range(7)] == [100, 200, 400, 800, 1600, 3200, 5000]
    assert [retryable_status(s) for s in (404, 408, 429, 500, 503, 501, 400, 410)] == [True] * 5 + [False] * 3
    values: dict[str, Any] = {"3": 3.0, " 120 ": 120.0, "86400000": float(FETCH_RETRY_AFTER_CAP_SECONDS), "Wed, 21 Oct 2015 07:28:00 GMT": None,
                              "-1": None, "": None}
    for text, expected in values.items():
        assert parse_retry_after(text) == expected, text
