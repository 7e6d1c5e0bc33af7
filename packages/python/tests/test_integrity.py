"""Bad input from the network: each is a NatsBridgeError with its code and the correlation id,
never another exception. Links point at the real embedded file server."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

import pyarrow as pa

from natsbridge import NatsBridgeError, encode_table, ReceiveOptions, TableLimits, plik_upload, smartreceive, smartsend
from natsbridge_types.profile import (
    ENV_FILESERVER_URL,
    ERROR_BAD_BYTES,
    ERROR_DOWNLOAD,
    ERROR_HOST_NOT_ALLOWED,
    ERROR_INTEGRITY,
    ERROR_NOT_ENVELOPE,
    ERROR_PAYLOAD_TOO_LARGE,
    ERROR_TABLE_LIMITS,
    ERROR_UNKNOWN_PAYLOAD_TYPE,
    ERROR_UNKNOWN_TRANSPORT,
    ERROR_WRITER_RULE,
    HEADER_CORRELATION_ID,
    TABLE_MAX_BATCHES,
    TABLE_MAX_COLUMNS,
)
from natsbridge.wire import b64encode, sha256_hex

from .conftest import run

CID = "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20"


def base_envelope(fileserver: str) -> dict[str, Any]:
    async def go() -> Any:
        return await smartsend(
            "s", [("greeting", "Hello World", "text"), ("blob", b"\x01" * 5000, "binary")],
            publish=False, fileserver_url=fileserver, size_threshold=1000, correlation_id=CID,
        )

    env: dict[str, Any] = json.loads(run(go()).json)
    return env


def receive(env: dict[str, Any] | str | bytes, options: ReceiveOptions | None = None,
            headers: dict[str, str] | None = None) -> NatsBridgeError:
    body = env if isinstance(env, (str, bytes)) else json.dumps(env)
    with pytest.raises(NatsBridgeError) as e:
        run(smartreceive(body, options, headers=headers))
    return e.value


def set_direct(p: dict[str, Any], raw: bytes) -> None:
    p.update(data=b64encode(raw), size=len(raw), metadata={"sha256": sha256_hex(raw)})


Mutation = Callable[[dict[str, Any]], None]


def direct_as(kind: str, raw: bytes) -> Mutation:
    """The first payload replaced by `raw` (correctly sized and hashed) declared as `kind`."""
    def mutate(e: dict[str, Any]) -> None:
        e["payloads"][0]["payload_type"] = kind
        set_direct(e["payloads"][0], raw)
    return mutate


CASES: list[tuple[str, Mutation, str]] = [
    ("bad sha256", lambda e: e["payloads"][0]["metadata"].update(sha256="0" * 64), ERROR_INTEGRITY),
    ("size too small", lambda e: e["payloads"][0].update(size=10), ERROR_INTEGRITY),
    ("size too large", lambda e: e["payloads"][0].update(size=12), ERROR_INTEGRITY),
    ("bad base64 alphabet", lambda e: e["payloads"][0].update(data="SGVsbG8@V29ybGQ="), ERROR_BAD_BYTES),
    ("base64 not canonical", lambda e: e["payloads"][0].update(data="SGVsbG8gV29ybGR=", metadata={}),
     ERROR_BAD_BYTES),
    ("base64 with a newline", lambda e: e["payloads"][0].update(data="SGVsbG8gV29y\nGQ="), ERROR_BAD_BYTES),
    ("unknown payload_type", lambda e: e["payloads"][0].update(payload_type="hologram"), ERROR_UNKNOWN_PAYLOAD_TYPE),
    ("unknown transport", lambda e: e["payloads"][0].update(transport="pigeon"), ERROR_UNKNOWN_TRANSPORT),
    ("disallowed host", lambda e: e["payloads"][1].update(data="http://evil.example:8080/file/a/b/blob.bin"),
     ERROR_HOST_NOT_ALLOWED),
    ("userinfo trick", lambda e: e["payloads"][1].update(
        data=e["payloads"][1]["data"].replace("http://", "http://127.0.0.1@evil.example") ), ERROR_HOST_NOT_ALLOWED),
    ("not a URL", lambda e: e["payloads"][1].update(data="not a url"), ERROR_HOST_NOT_ALLOWED),
    ("file URL", lambda e: e["payloads"][1].update(data="file:///etc/passwd"), ERROR_HOST_NOT_ALLOWED),
    ("link size differs", lambda e: e["payloads"][1].update(size=4999), ERROR_INTEGRITY),
    ("link sha256 differs", lambda e: e["payloads"][1]["metadata"].update(sha256="f" * 64), ERROR_INTEGRITY),
    ("hostile size", lambda e: e["payloads"][0].update(size=1 << 40), ERROR_PAYLOAD_TOO_LARGE),
    ("dictionary not JSON", direct_as("dictionary", b"{not json"), ERROR_BAD_BYTES),
    ("dictionary with NaN", direct_as("dictionary", b'{"a":NaN}'), ERROR_BAD_BYTES),
    ("jsontable not rows", direct_as("jsontable", b"[1,2]"), ERROR_BAD_BYTES),
    ("text not UTF-8", direct_as("text", b"\xff\xfe"), ERROR_BAD_BYTES),
    ("arrow garbage", direct_as("arrowtable", b"garbage!" * 4), ERROR_BAD_BYTES),
    ("arrow stream cut off", direct_as("arrowtable", encode_table(pa.table({"x": list(range(100))}))[:-50]),
     ERROR_BAD_BYTES),
    ("missing required field", lambda e: e.pop("msg_id"), ERROR_NOT_ENVELOPE),
    ("payloads of the wrong type", lambda e: e.update(payloads={"a": 1}), ERROR_NOT_ENVELOPE),
    ("size of the wrong type", lambda e: e["payloads"][0].update(size="11"), ERROR_NOT_ENVELOPE),
]


@pytest.mark.parametrize(("name", "mutate", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_typed_error_with_the_correlation_id(
    fileserver: str, name: str, mutate: Mutation, code: str
) -> None:
    env = base_envelope(fileserver)
    bad = copy.deepcopy(env)
    mutate(bad)
    err = receive(bad, ReceiveOptions().allow_host(fileserver))
    assert err.code == code, f"{name}: {err.report()}"
    assert err.correlation_id == CID, name
    if code not in (ERROR_NOT_ENVELOPE,):
        assert err.dataname in ("greeting", "blob"), name
    assert str(err).startswith(code)


def test_the_unmodified_envelope_is_fine(fileserver: str) -> None:
    received = run(smartreceive(json.dumps(base_envelope(fileserver)), ReceiveOptions().allow_host(fileserver)))
    assert received.tuples() == [("greeting", "Hello World", "text"), ("blob", b"\x01" * 5000, "binary")]


def test_links_are_refused_by_default_unless_the_host_is_fileserver_url(
    fileserver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = base_envelope(fileserver)
    monkeypatch.setenv(ENV_FILESERVER_URL, "http://files.example:8080")
    assert receive(env).code == ERROR_HOST_NOT_ALLOWED
    monkeypatch.setenv(ENV_FILESERVER_URL, fileserver)
    assert run(smartreceive(json.dumps(env))).payloads[1].data == b"\x01" * 5000


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"not json", ERROR_NOT_ENVELOPE), (b"[]", ERROR_NOT_ENVELOPE), (b'{"correlation_id": 7}', ERROR_NOT_ENVELOPE),
     (b"\xff\xfe", ERROR_NOT_ENVELOPE), (b"[" * 100_000, ERROR_NOT_ENVELOPE)],
)
def test_unreadable_envelopes_take_the_correlation_id_from_the_header(body: bytes, code: str) -> None:
    err = receive(body, headers={HEADER_CORRELATION_ID: CID})
    assert err.code == code and err.correlation_id == CID


def test_limits_are_checked_before_parsing(fileserver: str) -> None:
    env = base_envelope(fileserver)
    err = receive(env, ReceiveOptions(max_envelope_bytes=100), headers={HEADER_CORRELATION_ID: CID})
    assert err.code == ERROR_PAYLOAD_TOO_LARGE and err.correlation_id == CID
    err = receive(env, ReceiveOptions(max_payloads=1))
    assert err.code == ERROR_PAYLOAD_TOO_LARGE and err.correlation_id == CID


def test_a_one_shot_link_is_gone_after_the_first_download(fileserver: str) -> None:
    env = base_envelope(fileserver)

    async def go() -> tuple[Any, NatsBridgeError]:
        upload = await plik_upload(fileserver, "once.bin", b"abc", one_shot=True)
        env["payloads"][1].update(data=upload.url, size=3, metadata={"sha256": sha256_hex(b"abc")})
        opts = ReceiveOptions().allow_host(fileserver)
        first = await smartreceive(json.dumps(env), opts)
        fast = ReceiveOptions(allowed_hosts=opts.allowed_hosts, fetch=type(opts.fetch)(max_attempts=2, base_delay=0.01))
        with pytest.raises(NatsBridgeError) as e:
            await smartreceive(json.dumps(env), fast)
        return first, e.value

    first, err = run(go())
    assert first.payloads[1].data == b"abc"
    assert err.code == ERROR_DOWNLOAD and err.correlation_id == CID and err.dataname == "blob"


def test_sending_bad_data_is_a_typed_error() -> None:
    async def go(payloads: list[Any], **kw: Any) -> NatsBridgeError:
        with pytest.raises(NatsBridgeError) as e:
            await smartsend("s", payloads, publish=False, **kw)
        return e.value

    cases: list[tuple[list[Any], str]] = [
        ([("x", "t", "hologram")], ERROR_UNKNOWN_PAYLOAD_TYPE),
        ([("x", 5, "text")], ERROR_WRITER_RULE),
        ([("x", {"a": float("nan")}, "dictionary")], ERROR_WRITER_RULE),
        ([("x", {"a": object()}, "dictionary")], ERROR_WRITER_RULE),
        ([("x", [1, 2], "jsontable")], ERROR_WRITER_RULE),
        ([("x", "not bytes", "image")], ERROR_WRITER_RULE),
        ([("x", [1], "arrowtable")], ERROR_WRITER_RULE),
    ]
    for payloads, code in cases:
        err = run(go(payloads))
        assert err.code == code and err.dataname == "x" and err.correlation_id, payloads
    err = run(go([("x", "t", "text")], correlation_id="not-a-uuid"))
    assert err.code == ERROR_WRITER_RULE and "`correlation_id`" in err.message
    err = run(go([], metadata={"bad": object()}))
    assert err.code == ERROR_WRITER_RULE and err.correlation_id


def test_a_table_over_its_limits_is_payload_too_large() -> None:
    """Rule 13: a table over ``TableLimits`` (the profile's ``TABLE_MAX_*``) is
    ``PAYLOAD_TOO_LARGE`` (``ERROR_TABLE_LIMITS``), naming the payload; within them it decodes."""
    batch = pa.record_batch({"a": [1, 2], "b": ["x", "y"]})
    two_batches = pa.Table.from_batches([batch, batch])

    async def go() -> str:
        sent = await smartsend("s", [("t", two_batches, "arrowtable")], publish=False, correlation_id=CID)
        return sent.json

    text = run(go())
    for limits in (TableLimits(max_columns=1), TableLimits(max_batches=1)):
        err = receive(text, ReceiveOptions(table_limits=limits))
        assert err.code == ERROR_TABLE_LIMITS, err
        assert err.dataname == "t" and err.correlation_id == CID
    received = run(smartreceive(text, ReceiveOptions(table_limits=TableLimits(max_columns=2, max_batches=2))))
    assert received.payloads[0].num_rows == 4
    assert TableLimits() == TableLimits(max_batches=TABLE_MAX_BATCHES, max_columns=TABLE_MAX_COLUMNS)
