"""The server's max_payload budget: a nats-server started with `max_payload: 65536`; direct
payloads that would overflow it (base64 growth and headers counted) move to link, largest
first, and every message is accepted by the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nats
import pytest

from natsbridge import NatsBridgeError, ReceiveOptions, smartreceive, smartsend
from natsbridge.send import LINK_URL_ALLOWANCE
from natsbridge_types import profile
from natsbridge_types.profile import ERROR_PAYLOAD_TOO_LARGE

from .conftest import NatsServer, run

MAX_PAYLOAD = 65536


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("small"), config=f"max_payload: {MAX_PAYLOAD}\n")
    yield server
    server.stop()


async def roundtrip(url: str, fileserver: str, sizes: list[int], headers: dict[str, str] | None = None) -> Any:
    nc = await nats.connect(url)
    try:
        assert nc.max_payload == MAX_PAYLOAD
        sub = await nc.subscribe("budget")
        payloads = [(f"p{i}", bytes([i % 256]) * n, "binary") for i, n in enumerate(sizes)]
        sent = await smartsend("budget", payloads, connection=nc, fileserver_url=fileserver, headers=headers)
        msg = await sub.next_msg(timeout=10)
        header_bytes = 12 + sum(len(k) + len(v) + 4 for k, v in (msg.headers or {}).items())
        assert len(msg.data) + header_bytes <= MAX_PAYLOAD
        received = await smartreceive(msg, ReceiveOptions().allow_host(fileserver))
        assert [p.data for p in received.payloads] == [d for _, d, _ in payloads]
        assert nc.is_connected, "the server did not close the connection for a max_payload violation"
        return [p["transport"] for p in sent.envelope["payloads"]]
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([100, 200, 300], ["direct"] * 3),
        ([30_000, 31_000, 29_000], ["link", "link", "direct"]),
        ([60_000], ["link"]),
        ([10, 48_000, 10], ["direct"] * 3),
        ([10, 49_500, 10], ["direct", "link", "direct"]),
    ],
)
def test_the_largest_payloads_move_to_link_until_the_message_fits(
    small_server: NatsServer, fileserver: str, sizes: list[int], expected: list[str]
) -> None:
    assert run(roundtrip(small_server.url, fileserver, sizes)) == expected


def test_headers_count_against_the_budget(small_server: NatsServer, fileserver: str) -> None:
    # 48 000 bytes fit alone (64 000 base64 characters), but not with 2 KB of headers.
    assert run(roundtrip(small_server.url, fileserver, [48_000])) == ["direct"]
    big = {"X-Pad": "h" * 2000}
    assert run(roundtrip(small_server.url, fileserver, [48_000], headers=big)) == ["link"]


def test_an_envelope_too_big_on_its_own_is_payload_too_large(small_server: NatsServer, fileserver: str) -> None:
    async def go() -> None:
        nc = await nats.connect(small_server.url)
        try:
            await smartsend("budget", [("a", b"x", "binary")], connection=nc, fileserver_url=fileserver,
                            metadata={"pad": "m" * MAX_PAYLOAD})
        finally:
            await nc.close()

    with pytest.raises(NatsBridgeError) as e:
        run(go())
    assert e.value.code == ERROR_PAYLOAD_TOO_LARGE and e.value.correlation_id
    assert LINK_URL_ALLOWANCE == profile.LINK_URL_ALLOWANCE, "the runtime's allowance is the profile's"
