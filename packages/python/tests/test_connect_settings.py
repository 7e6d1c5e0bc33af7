"""Connection settings (schema/README.md rule 17): the conformance cases of
conformance/v1/arguments-connect.json through the resolver the CLI uses, the library's own
names and defaults, no secret in a repr or an error, and real nats-servers that want a token,
a user and password, an NKey or TLS (certificates made here with openssl), through the library
and the CLI. The `.creds` and operator-mode servers are tested from the Rust side."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nkeys  # type: ignore[import-untyped]
import pytest

import natsbridge as nb
from natsbridge import ConnectSettings, NatsBridgeError, resolve_connect_settings
from natsbridge.settings import resolve
from natsbridge_types.profile import (
    CONTEXT_DIR,
    CONTEXT_FILE_EXTENSION,
    CONTEXT_SELECTED_FILE,
    ENV_FILESERVER_TOKEN,
    ENV_HOME,
    ENV_NATS_CA,
    ENV_NATS_CONTEXT,
    ENV_NATS_CREDS,
    ENV_NATS_PASSWORD,
    ENV_NATS_TOKEN,
    ENV_NATS_URL,
    ENV_NATS_USER,
    ENV_XDG_CONFIG_HOME,
    ERROR_BAD_OPTION,
    ERROR_CONNECT_SETTINGS,
)

from .conftest import ROOT, NatsServer, cli_env, free_port, natsbridge_bin, python_cli, run

CASES = ROOT / "conformance/v1/arguments-connect.json"
CONTEXT_ENV = (ENV_NATS_URL, ENV_NATS_CONTEXT, ENV_NATS_USER, ENV_NATS_PASSWORD, ENV_NATS_TOKEN, ENV_NATS_CREDS,
               ENV_XDG_CONFIG_HOME, ENV_FILESERVER_TOKEN)


def _contains(got: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _contains(got[k], v) for k, v in want.items())
    return bool(got == want)


def _as_json(s: ConnectSettings) -> dict[str, Any]:
    auth: dict[str, Any] = {k: v for k, v in (("kind", s.auth.kind), ("source", s.auth.source), ("user", s.auth.user),
                              ("password", s.auth.password), ("token", s.auth.token), ("path", s.auth.path))
            if v is not None}
    if s.auth.inline:
        auth["inline"] = True
    tls: dict[str, Any] = {k: v for k, v in (("ca", s.tls.ca), ("cert", s.tls.cert), ("key", s.tls.key)) if v}
    tls.update(first=s.tls.first, required=s.tls.required)
    return {"servers": list(s.servers), "servers_source": s.servers_source, "context": s.context, "auth": auth,
            "tls": tls, "shown": repr(s)}


def test_the_conformance_cases(tmp_path: Path) -> None:
    """Each case of the `connect_settings` group, its files written as the runner writes them."""
    problems = []
    cases = json.loads(CASES.read_text())["cases"]
    assert len(cases) >= 45
    for i, raw in enumerate(cases):
        root = tmp_path / str(i)
        case = json.loads(json.dumps(raw).replace("{{ROOT}}", str(root)))
        for path, text in case["files"].items():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
        expect = case["expect"]
        try:
            got = _as_json(resolve(case["flags"], case["env"]))
        except NatsBridgeError as e:
            if expect["ok"] or e.code != expect["error"]:
                problems.append(f"{case['id']}: {e.code}: {e.message}")
            missing = [m for m in expect.get("mentions", []) if m not in e.message]
            leaked = [s for s in case.get("secrets", []) if s in e.message]
            if missing or leaked:
                problems.append(f"{case['id']}: lacks {missing}, shows {leaked}: {e.message}")
            continue
        if not expect["ok"] or not _contains(got, expect["settings"]):
            problems.append(f"{case['id']}: {got}")
        leaked = [s for s in case.get("secrets", []) if s in got["shown"]]
        if leaked:
            problems.append(f"{case['id']}: shows {leaked}: {got['shown']}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No NATS variable set, a home of its own (no context selected)."""
    for name in CONTEXT_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv(ENV_HOME, str(home))
    return home


def _context(home: Path, name: str, fields: dict[str, Any], select: bool = True) -> None:
    directory = home / ".config" / CONTEXT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}{CONTEXT_FILE_EXTENSION}").write_text(json.dumps(fields, indent=2))
    if select:
        (home / ".config" / CONTEXT_SELECTED_FILE).write_text(name + "\n")


def test_the_process_environment_is_the_default(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NATS_URL, "nats://a:1, b:2")
    monkeypatch.setenv(ENV_NATS_TOKEN, "tok-env-1")
    s = resolve_connect_settings()
    assert s.servers == ("nats://a:1", "nats://b:2") and s.servers_source == ENV_NATS_URL
    assert (s.auth.kind, s.auth.token, s.auth.source) == ("token", "tok-env-1", ENV_NATS_TOKEN)
    assert repr(s) == str(s) == "servers=nats://a:1,nats://b:2 auth=token from NATS_TOKEN"
    # An argument wins over its variable; env= replaces the process's environment whole.
    assert resolve_connect_settings("nats://c:3", token="tok-arg").auth.source == "--token"  # as the CLIs name it
    assert resolve_connect_settings(env={}).servers == ("nats://localhost:4222",)


def test_the_selected_context_applies_to_the_library(clean_env: Path) -> None:
    _context(clean_env, "prod", {"url": "tls://u:ctx-pw-1@prod:4222", "ca": "~/ca.pem", "tls_first": False})
    s = resolve_connect_settings()
    assert (s.context, s.servers, s.auth.kind, s.auth.user) == ("prod", ("tls://prod:4222",), "user_password", "u")
    assert s.tls.ca == f"{clean_env}/ca.pem" and s.tls.required
    assert repr(s) == "servers=tls://prod:4222 auth=user_password from the user info of context 'prod' `url` " \
                      "context=prod tls"
    assert resolve_connect_settings(no_context=True).context is None
    # The envelope of a send that connects to nothing names the context's server, without user info.
    sent = run(nb.smartsend("s", [("a", "b", "text")], publish=False))
    assert sent.envelope["broker_url"] == "tls://prod:4222" and "ctx-pw-1" not in sent.json


def test_no_secret_in_a_repr_or_an_error(clean_env: Path) -> None:
    secrets = ["pw-secret-9", "tok-secret-9", "U0VDUkVU"]
    settings = [
        resolve_connect_settings("nats://h:1", user="alice", password="pw-secret-9"),
        resolve_connect_settings("nats://tok-secret-9@h:1"),
        resolve_connect_settings("nats://h:1?x=pw-secret-9", token="tok-secret-9", tls_first=True),
        resolve_connect_settings(creds="data:;base64,U0VDUkVU"),
    ]
    options = [nb.SendOptions(connection="nats://a:pw-secret-9@h:1", fileserver_url="http://u:pw-secret-9@f:8080",
                              fileserver_token="tok-secret-9"), nb.SendOptions(connection=settings[0])]
    printed = " ".join([*(repr(s) for s in settings), *(repr(s.auth) for s in settings), *(str(s) for s in settings),
                        *(repr(o) for o in options)])
    assert not [s for s in secrets if s in printed], printed
    assert "auth=creds from --creds" in printed and "inline" in printed
    errors = []
    calls: list[Callable[[], object]] = [
        lambda: resolve_connect_settings(password="pw-secret-9"),
        lambda: resolve_connect_settings("nats://a:pw-secret-9@h:1", token="tok-secret-9"),
        lambda: resolve_connect_settings("nats://a:pw-secret-9@h:notaport"),
        lambda: resolve_connect_settings(token="op://vault/tok-secret-9"),
    ]
    for call in calls:
        with pytest.raises(NatsBridgeError) as e:
            call()
        assert e.value.code == ERROR_CONNECT_SETTINGS == ERROR_BAD_OPTION
        errors.append(e.value.report())
    assert not [s for s in secrets if s in " ".join(errors)], errors
    assert "--password needs a user too" in errors[0]
    assert "two kinds of credentials: user_password (the user info of --server) and token (--token); give one" \
        in errors[1]


def test_credential_files_are_checked_before_connecting(tmp_path: Path, clean_env: Path) -> None:
    not_creds = tmp_path / "u.creds"
    not_creds.write_text("no JWT here\n")  # nats-py would read it for ever
    seed = tmp_path / "bad.nk"
    seed.write_text("SUNOTASEED\n")
    account_seed = tmp_path / "account.nk"  # a valid seed, but not a user's
    account_seed.write_bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT))
    bad_seed_block = tmp_path / "bad-seed.creds"
    bad_seed_block.write_text("-----BEGIN NATS USER JWT-----\neyJhbGc.e30.sig\n------END NATS USER JWT------\n\n"
                              "-----BEGIN USER NKEY SEED-----\nSUNOTASEED\n------END USER NKEY SEED------\n")
    for kwargs, says in (({"creds": tmp_path / "missing.creds"}, f"--creds names {tmp_path}/missing.creds, which "
                                                                  "cannot be read: No such file or directory"),
                         ({"creds": f"file:{tmp_path}"}, f"--creds names {tmp_path}, which cannot be read"),
                         ({"creds": not_creds}, f"--creds names {not_creds}, which is not a .creds file (no "
                                                "`BEGIN NATS USER JWT` block)"),
                         ({"creds": bad_seed_block}, "whose seed block holds no NKey user seed (a line starting SU)"),
                         ({"nkey": seed}, f"--nkey names {seed}, which holds no NKey user seed (a line starting SU)"),
                         ({"nkey": account_seed}, "which holds no NKey user seed"),
                         ({"tls_ca": tmp_path / "missing.pem"}, f"--tls-ca names {tmp_path}/missing.pem, which cannot "
                                                                 "be read"),
                         ({"tls_ca": not_creds}, f"--tls-ca names {not_creds}, which holds no PEM certificate"),
                         ({"url": "ws://h:1", "tls_ca": not_creds}, "use wss://")):
        with pytest.raises(NatsBridgeError) as e:
            run(asyncio.wait_for(nb.connect(**kwargs), 10))
        assert e.value.code == ERROR_CONNECT_SETTINGS and says in e.value.message, e.value.message
        assert "SUNOTASEED" not in e.value.report() and "no JWT here" not in e.value.report()


def test_an_unreadable_selected_context_is_named(clean_env: Path) -> None:
    """context.txt that is there but cannot be read is an error naming it; only a missing or
    empty one selects nothing."""
    selected = clean_env / ".config" / CONTEXT_SELECTED_FILE
    selected.parent.mkdir(parents=True)
    assert resolve_connect_settings().context is None  # missing
    selected.write_text(" \n")
    assert resolve_connect_settings().context is None  # empty
    def a_directory() -> None:
        selected.unlink()
        selected.mkdir()

    for make in (lambda: selected.write_bytes(b"\xff\xfeprod\n"), a_directory):
        make()
        with pytest.raises(NatsBridgeError) as e:
            resolve_connect_settings()
        assert e.value.code == ERROR_CONNECT_SETTINGS and str(selected) in e.value.message, e.value.message
    if os.geteuid() != 0:  # root reads any file
        selected.rmdir()
        selected.write_text("prod\n")
        selected.chmod(0)
        with pytest.raises(NatsBridgeError) as e:
            resolve_connect_settings()
        assert str(selected) in e.value.message and "cannot be read" in e.value.message


def test_a_secret_of_the_wrong_type_is_named_by_its_type_only() -> None:
    calls: list[Callable[[], object]] = [
        lambda: resolve_connect_settings(password=["pw-secret-4"]),  # type: ignore[arg-type]
        lambda: resolve_connect_settings(token=b"tok-secret-4"),  # type: ignore[arg-type]
        lambda: nb.SendOptions(fileserver_token=("tok-secret-4",)),  # type: ignore[arg-type]
    ]
    for call, kind in zip(calls, ("list", "bytes", "tuple")):
        with pytest.raises(NatsBridgeError) as e:
            call()
        assert e.value.code == ERROR_BAD_OPTION and e.value.message.endswith(f", not {kind}"), e.value.message
        assert "secret-4" not in e.value.report()
    with pytest.raises(NatsBridgeError) as e:
        resolve_connect_settings(user=["alice-4"])  # type: ignore[arg-type]
    assert "alice-4" in e.value.message  # not a secret: shown as other values are


def test_an_unpublished_envelope_names_the_seeds_as_written(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = run(nb.smartsend("s", [("a", "b", "text")], publish=False,
                            connection="TLS://u:pw-secret-3@Nats.Example:4443/?k=pw-secret-3, h2"))
    assert sent.envelope["broker_url"] == "tls://Nats.Example:4443/?REDACTED,nats://h2"
    monkeypatch.setenv(ENV_NATS_URL, "nats://tok-secret-3@a:1")
    sent = run(nb.smartsend("s", [("a", "b", "text")], publish=False))  # none given: the environment's
    assert sent.envelope["broker_url"] == "nats://a:1" and "secret-3" not in sent.json


def test_the_cli_exit_statuses(clean_env: Path, tmp_path: Path) -> None:
    """Settings that cannot be used: exit 1, as a failed send; a usage error (a flag given
    twice, --context with --no-context, an abbreviation or a short spelling): exit 2."""
    env = {**cli_env(), ENV_HOME: str(clean_env)}
    env.pop(ENV_NATS_URL, None)
    base = ["send", "--subject", "s", "--no-publish", "--payload", "a:text:b"]
    for args, status, says in (
        ([], 0, ""),
        (["--user", "alice"], 1, "--user needs a password too"),
        (["--nkey", str(tmp_path / "none.nk")], 0, ""),  # --no-publish reads no credential file
        (["--context", "nope"], 1, "--context: the nats CLI context 'nope' does not exist"),
        (["--server", "a", "--server", "b"], 2, "--server: is given twice"),
        (["--tls-first", "--tls-first"], 2, "--tls-first: is given twice"),
        (["--context", "x", "--no-context"], 2, "--context and --no-context cannot be used together"),
        (["--serv", "a"], 2, "unrecognized arguments: --serv"),
        (["-s", "a"], 2, "unrecognized arguments: -s"),
        (["--tlsca", "x"], 2, "unrecognized arguments: --tlsca"),
    ):
        done = subprocess.run([*python_cli(), *base, *args], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == status and says in done.stderr, (args, done.returncode, done.stderr)


def test_an_unknown_keyword_is_refused_and_settings_go_alone() -> None:
    with pytest.raises(NatsBridgeError) as e:
        run(nb.connect(tls_cafile="x"))  # type: ignore[call-arg]
    assert e.value.code == ERROR_BAD_OPTION and "did you mean `tls_ca`?" in e.value.message
    with pytest.raises(NatsBridgeError) as e:
        run(nb.connect(resolve_connect_settings(env={}), token="t"))
    assert e.value.code == ERROR_CONNECT_SETTINGS and "`token`" in e.value.message


# --- real servers ---------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    d = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for name in ("ca", "wrong-ca"):
        _openssl("req", "-x509", *ec, "-days", "2", "-keyout", f"{name}-key.pem", "-out", f"{name}.pem",
                 "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE", cwd=d)
    (d / "server.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                                  "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", *ec, "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-days", "2", "-extfile", "server.ext", "-out", "server-cert.pem", cwd=d)
    return d


TOKEN = "tls-tok-7d1e"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, certs: Path) -> Any:
    """A nats-server that requires TLS and a token."""
    server = NatsServer(tmp_path_factory.mktemp("secured"), config=(
        f'tls {{ cert_file: "{certs}/server-cert.pem", key_file: "{certs}/server-key.pem" }}\n'
        f'authorization {{ token: "{TOKEN}" }}\n'))
    yield server
    server.stop()


async def _echo(nc: Any) -> bytes:
    sub = await nc.subscribe("echo.x")
    await nc.publish("echo.x", b"hi")
    msg = await sub.next_msg(timeout=5)
    return bytes(msg.data)


def test_tls_and_a_token(secured: NatsServer, certs: Path, clean_env: Path) -> None:
    url = f"tls://127.0.0.1:{secured.port}"

    async def ok() -> bytes:
        nc = await nb.connect(url, token=TOKEN, tls_ca=certs / "ca.pem")
        try:
            return await _echo(nc)
        finally:
            await nc.close()

    assert run(ok()) == b"hi"

    def refused(**kwargs: Any) -> NatsBridgeError:
        with pytest.raises(NatsBridgeError) as e:
            run(asyncio.wait_for(nb.connect(**kwargs), 30))
        assert e.value.code == "NATS_CONNECTION_FAILED" and TOKEN not in e.value.report() and "wrong" not in \
            e.value.report().replace("wrong-ca", ""), e.value.report()
        return e.value

    e = refused(url=url, token=TOKEN, tls_ca=certs / "wrong-ca.pem")
    assert "TLS failed" in e.message and "wrong-ca.pem" in e.message
    e = refused(url=url, token="wrong-token", tls_ca=certs / "ca.pem")
    assert "the server refused the credentials (token from --token)" in e.message
    e = refused(url=url, tls_ca=certs / "ca.pem")
    assert "the server wants credentials and none were given" in e.message


def test_a_tls_url_is_not_sent_in_the_clear(tmp_path: Path, clean_env: Path) -> None:
    """nats-py alone would send the token over plain TCP to a server that asks for no TLS."""
    server = NatsServer(tmp_path, config='authorization { token: "plain-tok-3" }\n')
    try:
        with pytest.raises(NatsBridgeError) as e:
            run(asyncio.wait_for(nb.connect(f"tls://127.0.0.1:{server.port}", token="plain-tok-3",
                                            connect_timeout=2), 30))
        assert e.value.code == "NATS_CONNECTION_FAILED" and "plain-tok-3" not in e.value.report()
    finally:
        server.stop()


def test_user_password_and_nkey(tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    (tmp_path / "u.nk").write_bytes(seed + b"\n")
    server = NatsServer(tmp_path, config=(
        'authorization { users: [ { user: "alice", password: "correct horse" }, '
        f'{{ nkey: "{public}" }} ] }}\n'))
    embedded = "data:;base64," + base64.b64encode(seed).decode()

    async def echo(**kwargs: Any) -> bytes:
        nc = await nb.connect(server.url, **kwargs)
        try:
            return await _echo(nc)
        finally:
            await nc.close()

    try:
        assert run(echo(user="alice", password="correct horse")) == b"hi"
        assert run(echo(nkey=tmp_path / "u.nk")) == b"hi"
        assert run(echo(nkey=embedded)) == b"hi"
        monkeypatch.setenv(ENV_NATS_USER, "alice")
        monkeypatch.setenv(ENV_NATS_PASSWORD, "correct horse")
        assert run(echo()) == b"hi"  # from the environment
        sent = run(nb.smartsend("s", [("a", "b", "text")], connection=server.url))  # the send connects with them
        assert sent.envelope["broker_url"] == server.url
        monkeypatch.setenv(ENV_NATS_PASSWORD, "wrong horse")
        with pytest.raises(NatsBridgeError) as e:
            run(echo())
        assert "(user_password from NATS_USER)" in e.value.message and "horse" not in e.value.report()
    finally:
        server.stop()


def test_the_cli_with_tls_a_token_and_a_file_server_token(secured: NatsServer, certs: Path, tmp_path: Path) -> None:
    """`receive` and `send` with --tls-ca and NATS_TOKEN, a link uploaded to a file server
    that wants a token (FILESERVER_TOKEN); nothing prints a secret."""
    files = tmp_path / "files"
    files.mkdir()
    port = free_port()
    fs = subprocess.Popen([natsbridge_bin(), "fileserver", "--listen", f"127.0.0.1:{port}", "--dir", str(files),
                           "--token", "fs-tok-5"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          env={k: v for k, v in os.environ.items() if k != ENV_FILESERVER_TOKEN})
    assert fs.stdout is not None
    fileserver = json.loads(fs.stdout.readline())["fileserver"]
    env = {**cli_env(), ENV_NATS_TOKEN: TOKEN, ENV_HOME: str(tmp_path)}
    common = ["--server", f"tls://127.0.0.1:{secured.port}", "--tls-ca", str(certs / "ca.pem"), "--subject", "sec.x"]
    try:
        rx = subprocess.Popen([*python_cli(), "receive", *common, "--count", "1", "--timeout", "30", "--allow-host",
                               fileserver], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert rx.stderr is not None
        assert json.loads(rx.stderr.readline()) == {"subscribed": True}
        sent = subprocess.run([*python_cli(), "--log-level", "debug", "send", *common, "--fileserver", fileserver,
                               "--threshold", "10", "--payload", "big:text:" + "x" * 100],
                              capture_output=True, text=True, timeout=60, env={**env, ENV_FILESERVER_TOKEN: "fs-tok-5"})
        out, err = rx.communicate(timeout=60)
        assert sent.returncode == 0 and rx.returncode == 0, (sent.stderr, err)
        digest = json.loads(out.decode().splitlines()[0])
        assert digest["payloads"][0]["transport"] == "link"
        printed = sent.stdout + sent.stderr + out.decode() + err.decode()
        assert TOKEN not in printed and "fs-tok-5" not in printed
        # Without the file server's token the upload is refused, naming the variable to set.
        refused = subprocess.run([*python_cli(), "send", *common, "--fileserver", fileserver, "--threshold", "10",
                                  "--payload", "big:text:" + "x" * 100], capture_output=True, text=True, timeout=60,
                                 env=env)
        assert refused.returncode == 1 and ENV_FILESERVER_TOKEN in refused.stderr, refused.stderr
        # Two kinds of credentials: settings that cannot be used (exit 1) naming both sources.
        both = subprocess.run([*python_cli(), "send", *common, "--creds", str(tmp_path / "x.creds"), "--payload",
                               "a:text:b"], capture_output=True, text=True, timeout=60, env=env)
        assert both.returncode == 1 and "--creds" in both.stderr and ENV_NATS_TOKEN in both.stderr, both.stderr
        assert TOKEN not in both.stderr
    finally:
        fs.kill()
        fs.wait()


def test_the_readme_example_of_a_secured_server(secured: NatsServer, certs: Path, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "packages/python/README.md").read_text(), re.S)
    example = next(b for b in blocks if "resolve_connect_settings" in b)
    url = f"tls://127.0.0.1:{secured.port}"
    env = {**cli_env(), ENV_NATS_URL: url, ENV_NATS_TOKEN: TOKEN, ENV_NATS_CA: str(certs / "ca.pem"),
           ENV_HOME: str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", example], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"servers={url} auth=token from {ENV_NATS_TOKEN} tls", f"sent to {url}"]
    assert TOKEN not in out.stdout + out.stderr
