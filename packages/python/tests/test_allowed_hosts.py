"""Allowed hosts in one form (issue 26, D3): an http(s) URL or origin, or ``*``, everywhere (the
``allowed_hosts`` option, ``.allow_host()``, the CLI's ``--allow-host``); ``allowed_host``
normalizes one to ``host:port``; a bare ``files:8080``, another scheme, an empty string, a
list where one host is expected or a string where a list is expected is ``INVALID_ARGUMENT``
saying what to write. Against the embedded file server: a link is downloaded exactly when its
host is allowed in that form."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

import natsbridge as nb_module
from natsbridge import NatsBridgeError, ReceiveOptions, allowed_host, smartreceive, smartsend
from natsbridge_types.profile import ERROR_BAD_OPTION, ERROR_HOST_NOT_ALLOWED

from .conftest import cli_env, python_cli, run

anything: Any = None
untyped: Any = nb_module


@pytest.mark.parametrize("value, host", [
    ("http://files:8080", "files:8080"),
    ("http://files:8080/", "files:8080"),
    ("http://files:8080/upload/x?y=1", "files:8080"),
    ("http://files", "files:80"),
    ("https://secure.example", "secure.example:443"),
    ("HTTPS://Secure.Example:8443", "secure.example:8443"),
    ("http://user:secret@files:8080", "files:8080"),
    ("http://[::1]:9000", "[::1]:9000"),
    ("http://127.0.0.1:8080", "127.0.0.1:8080"),
    ("*", "*"),
])
def test_a_url_or_origin_is_normalized_to_host_and_port(value: str, host: str) -> None:
    assert allowed_host(value) == host


@pytest.mark.parametrize("value, says", [
    ("files:8080", "allowed host `files:8080` is not a URL; write `http://files:8080` (or https://...)"),
    ("bare-host", "write `http://bare-host`"),
    ("ftp://x", "is not an http(s) URL; write `http://x`"),
    ("", "is empty"),
    ("http://", "names no host"),
    ("http://files:99999", "its port"),
    ("user:secret@files:8080", "`files:8080`"),
    (["http://a"], "not a list"),
    (("http://a",), "not a tuple"),
    (8080, "not int 8080"),
    (None, "not NoneType"),
    (b"http://a", "not bytes"),
])
def test_anything_else_is_invalid_argument_saying_what_to_write(value: Any, says: str) -> None:
    with pytest.raises(NatsBridgeError) as e:
        allowed_host(value)
    assert e.value.code == ERROR_BAD_OPTION
    assert says in e.value.message, e.value.message
    assert "secret" not in e.value.message  # credentials are never repeated


def test_the_options_and_allow_host_take_the_same_form() -> None:
    with pytest.raises(NatsBridgeError) as e:
        ReceiveOptions(allowed_hosts=("files:8080",))
    assert e.value.code == ERROR_BAD_OPTION and "write `http://files:8080`" in e.value.message
    assert "ReceiveOptions" in e.value.message and "allowed_hosts" in e.value.message
    with pytest.raises(NatsBridgeError) as e:
        ReceiveOptions().allow_host("files:8080")
    assert e.value.code == ERROR_BAD_OPTION and "allow_host" in e.value.message
    with pytest.raises(NatsBridgeError) as e:
        untyped.ReceiveOptions(allowed_hosts="http://files:8080")  # a string, not a list: never split
    assert e.value.code == ERROR_BAD_OPTION and "wrap it in a list" in e.value.message
    with pytest.raises(NatsBridgeError) as e:
        untyped.ReceiveOptions().allow_host(["http://files:8080"])
    assert e.value.code == ERROR_BAD_OPTION
    assert ReceiveOptions(allowed_hosts=["*"]).hosts == {"*"}


def test_a_link_is_downloaded_exactly_when_its_host_is_allowed(fileserver: str) -> None:
    sent = run(smartsend("hosts.link", [("blob", bytes(2000), "binary")], publish=False, size_threshold=1000,
                         fileserver_url=fileserver))
    host = fileserver.split("://", 1)[1]
    for allowed in ([fileserver], [fileserver + "/any/path"], ["*"]):
        received = run(smartreceive(sent.json, ReceiveOptions(allowed_hosts=allowed)))
        assert received.payloads[0].data == bytes(2000), allowed
    received = run(smartreceive(sent.json, ReceiveOptions(allowed_hosts=()).allow_host(fileserver)))
    assert len(received.payloads[0].raw) == 2000
    with pytest.raises(NatsBridgeError) as e:
        run(smartreceive(sent.json, ReceiveOptions(allowed_hosts=("http://elsewhere:8080",))))
    assert e.value.code == ERROR_HOST_NOT_ALLOWED
    assert host in e.value.message and f'"http://{host}"' in e.value.message  # what to allow, in the one form


def test_the_cli_allow_host_takes_the_same_form() -> None:
    out = subprocess.run([*python_cli(), "receive", "--subject", "s", "--allow-host", "files:8080"], env=cli_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "write `http://files:8080`" in out.stderr and out.stdout == ""
