"""``file://`` link payloads (``ReceiveOptions.allow_dir``), read as the Rust runtime reads
them: only from under an allowed directory (before and after symbolic links are followed,
never a ``..``), exactly the declared size; an unknown option stays an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from natsbridge import NatsBridgeError, ReceiveOptions, smartreceive
from natsbridge.file_links import read_file_link
from natsbridge.wire import new_uuid, now_timestamp, sha256_hex
from natsbridge_types.profile import ERROR_DOWNLOAD, ERROR_HOST_NOT_ALLOWED, ERROR_INTEGRITY

from .conftest import run


def code_of(url: str, size: int, dirs: list[str]) -> str:
    with pytest.raises(NatsBridgeError) as raised:
        run(read_file_link(url, size, dirs))
    return str(raised.value.code)


def test_a_file_under_an_allowed_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "a b.bin").write_bytes(b"12345")
    assert run(read_file_link((tmp_path / "a b.bin").as_uri(), 5, [str(tmp_path)])) == b"12345"
    assert run(read_file_link(f"file://localhost{tmp_path}/a%20b.bin", 5, [str(tmp_path)])) == b"12345"


def test_what_is_refused_and_why(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "f").write_bytes(b"abc")
    (tmp_path / "secret").write_bytes(b"s")
    (allowed / "escape").symlink_to(tmp_path / "secret")
    dirs = [str(allowed)]
    assert code_of((tmp_path / "secret").as_uri(), 1, dirs) == ERROR_HOST_NOT_ALLOWED  # outside
    assert code_of(f"file://{allowed}/../secret", 1, dirs) == ERROR_HOST_NOT_ALLOWED  # a `..`
    assert code_of((allowed / "escape").as_uri(), 1, dirs) == ERROR_HOST_NOT_ALLOWED  # a symlink out
    assert code_of(f"file://elsewhere{allowed}/f", 3, dirs) == ERROR_HOST_NOT_ALLOWED  # another host
    assert code_of((allowed / "f").as_uri(), 3, []) == ERROR_HOST_NOT_ALLOWED  # no directory allowed
    assert code_of((allowed / "f").as_uri(), 4, dirs) == ERROR_INTEGRITY  # not the declared size
    assert code_of((allowed / "missing").as_uri(), 1, dirs) == ERROR_DOWNLOAD


def _envelope(url: str, data: bytes) -> bytes:
    payload = {"id": new_uuid(), "dataname": "f", "payload_type": "binary", "transport": "link", "encoding": "none",
               "size": len(data), "data": url, "metadata": {"sha256": sha256_hex(data)}}
    return json.dumps({
        "correlation_id": new_uuid(), "msg_id": new_uuid(), "timestamp": now_timestamp(), "send_to": "s",
        "msg_purpose": "event", "sender_name": "t", "sender_id": "t", "receiver_name": "", "receiver_id": "",
        "reply_to": "", "reply_to_msg_id": "", "metadata": {}, "payloads": [payload],
    }).encode()


def test_smartreceive_reads_a_file_link_only_with_allow_dir(tmp_path: Path) -> None:
    data = b"\x00file bytes\xff"
    (tmp_path / "f.bin").write_bytes(data)
    body = _envelope((tmp_path / "f.bin").as_uri(), data)
    with pytest.raises(NatsBridgeError) as raised:
        run(smartreceive(body))
    assert raised.value.code == ERROR_HOST_NOT_ALLOWED
    received = run(smartreceive(body, ReceiveOptions().allow_dir(str(tmp_path))))
    assert received.payloads[0].data == data and received.payloads[0].transport == "link"
    # The sha256 is checked as for any link.
    (tmp_path / "f.bin").write_bytes(b"X" + data[1:])
    with pytest.raises(NatsBridgeError) as raised:
        run(smartreceive(body, ReceiveOptions(allowed_dirs=[str(tmp_path)])))
    assert raised.value.code == ERROR_INTEGRITY
