"""Application errors across request/reply (issue 26, D2): ``ApplicationError``, the pure
``error_response`` builder, ``smartreply_error`` with any exception, the ``serve`` responder
loop, and the requester's remote errors with their display rules. Against a real nats-server;
the cross-language test has a Python ``serve`` answer requesters in Python, TypeScript (the
built package and its CLI) and Rust (its CLI), each of which gets the error at once, never
after its timeout."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from natsbridge import (
    ApplicationError,
    NatsBridgeError,
    Received,
    SendOptions,
    decode_reply,
    error_response,
    serve,
    smartreceive,
    smartreply,
    smartreply_error,
    smartrequest,
    smartsend,
)
from natsbridge.wire import new_uuid
from natsbridge_types import validate_error_response_v1
from natsbridge_types.profile import (
    ERROR_APPLICATION,
    ERROR_BAD_OPTION,
    ERROR_DEADLINE,
    ERROR_HANDLER,
    ERROR_INTEGRITY,
    ERROR_NOT_ENVELOPE,
    ERROR_UPLOAD,
)

from .conftest import ROOT, cli_env, natsbridge_bin, python_cli, run

REQUEST: Any = {"correlation_id": "00000001-0000-4000-8000-000000000001", "msg_id": "00000002-0000-4000-8000-000000000002",
                "reply_to": "_INBOX.test", "sender_name": "asker", "sender_id": "asker-1"}
UNKNOWN = "no column `nope` in table `sales`"
TIMEOUT = 10.0
"""Every requester's timeout: the error must come in under half of it."""
TS_CLI = ROOT / "packages/typescript/dist/cli.js"
TS_NODE = ROOT / "packages/typescript/dist/node.js"


# --- ApplicationError and error_response: pure ------------------------------------------------


def test_an_application_error_carries_its_own_code() -> None:
    e = ApplicationError("UNKNOWN_COLUMN", UNKNOWN, details={"column": "nope"})
    assert isinstance(e, NatsBridgeError)
    assert (e.code, e.application_code, e.message, e.details, e.remote) == (
        ERROR_APPLICATION, "UNKNOWN_COLUMN", UNKNOWN, {"column": "nope"}, False)
    assert str(e) == f"APPLICATION_ERROR UNKNOWN_COLUMN: {UNKNOWN}"
    for code in ("orders.not_found", "a", "A1:b-c_d.e", "x" * 64):
        assert ApplicationError(code, "m").application_code == code
    for bad in ("", "1ABC", "_x", "has space", "x" * 65, "ünïcode", 7, None):
        with pytest.raises(NatsBridgeError) as err:
            ApplicationError(bad, "m")  # type: ignore[arg-type]
        assert err.value.code == ERROR_BAD_OPTION and repr(bad)[:20] in err.value.message


def test_error_response_answers_each_kind_of_error() -> None:
    app = error_response(REQUEST, ApplicationError("UNKNOWN_COLUMN", UNKNOWN, details={"column": "nope"},
                                                   dataname="query"))
    bridge = error_response(REQUEST, NatsBridgeError(ERROR_UPLOAD, "disk full", dataname="table"))
    raised = error_response(REQUEST, KeyError("nope"))
    for response in (app, bridge, raised):
        assert validate_error_response_v1(response) == []
        assert response["correlation_id"] == REQUEST["correlation_id"]
        assert response["send_to"] == REQUEST["reply_to"] and response["msg_id"] != REQUEST["msg_id"]
        assert response["error"].get("details", {})["correlation_id"] == REQUEST["correlation_id"]
    assert app["error"] == {"code": ERROR_APPLICATION, "application_code": "UNKNOWN_COLUMN", "message": UNKNOWN,
                            "details": {"column": "nope", "correlation_id": REQUEST["correlation_id"],
                                        "dataname": "query"}}
    assert bridge["error"] == {"code": ERROR_UPLOAD, "message": "disk full",
                               "details": {"correlation_id": REQUEST["correlation_id"], "dataname": "table"}}
    assert raised["error"]["code"] == ERROR_HANDLER and "application_code" not in raised["error"]
    assert raised["error"]["message"] == "the handler raised KeyError: 'nope'"


def test_the_wire_message_has_the_causes_but_no_code_payload_name_or_stack() -> None:
    try:
        try:
            raise KeyError("x")
        except KeyError as inner:
            raise ValueError("bad row") from inner
    except ValueError as e:
        message = error_response(REQUEST, e)["error"]["message"]
    assert message == "the handler raised ValueError: bad row: 'x'"
    try:
        raise NatsBridgeError(ERROR_UPLOAD, "uploading failed", dataname="t") from OSError("refused")
    except NatsBridgeError as e:
        body = error_response(REQUEST, e)["error"]
    assert body["message"] == "uploading failed: refused"
    assert "Traceback" not in message and "File " not in message
    assert error_response(REQUEST, RuntimeError())["error"]["message"] == "the handler raised RuntimeError"


def test_error_response_refuses_what_it_cannot_answer() -> None:
    with pytest.raises(NatsBridgeError) as e:
        error_response({**REQUEST, "reply_to": ""}, RuntimeError("x"))
    assert e.value.code == ERROR_NOT_ENVELOPE and e.value.correlation_id == REQUEST["correlation_id"]
    with pytest.raises(NatsBridgeError) as e:
        error_response(REQUEST, NatsBridgeError(ERROR_APPLICATION, "no code"))
    assert e.value.code == ERROR_BAD_OPTION and "ApplicationError(application_code, message)" in e.value.message
    with pytest.raises(NatsBridgeError) as e:
        error_response(REQUEST, "not an exception")  # type: ignore[arg-type]
    assert e.value.code == ERROR_BAD_OPTION and "`error`" in e.value.message


# --- the requester's side: decode_reply and the display rules -------------------------------


def _response_bytes(error: dict[str, Any]) -> bytes:
    return json.dumps({"correlation_id": REQUEST["correlation_id"], "msg_id": new_uuid(),
                       "timestamp": "2026-12-06T10:00:00.000Z", "send_to": "_INBOX.x", "error": error}).encode()


def _decoded_error(error: dict[str, Any]) -> NatsBridgeError:
    with pytest.raises(NatsBridgeError) as e:
        run(decode_reply(_response_bytes(error), REQUEST["correlation_id"]))
    return e.value


def test_remote_errors_read_as_the_display_rules_say() -> None:
    app = _decoded_error({"code": ERROR_APPLICATION, "application_code": "UNKNOWN_COLUMN", "message": UNKNOWN,
                          "details": {"column": "nope"}})
    assert isinstance(app, ApplicationError)
    assert (app.code, app.application_code, app.remote, app.message, app.details) == (
        ERROR_APPLICATION, "UNKNOWN_COLUMN", True, UNKNOWN, {"column": "nope"})
    assert app.correlation_id == REQUEST["correlation_id"]
    assert str(app) == f"APPLICATION_ERROR UNKNOWN_COLUMN from the responder: {UNKNOWN}"

    plain = _decoded_error({"code": ERROR_UPLOAD, "message": "disk full", "details": {"dataname": "table"}})
    assert not isinstance(plain, ApplicationError) and plain.application_code is None
    assert str(plain) == "UPLOAD_FAILED from the responder: disk full (payload `table`)"

    local = NatsBridgeError(ERROR_UPLOAD, "disk full", dataname="table")
    assert str(local) == "UPLOAD_FAILED: disk full (payload `table`)"


def test_an_old_responders_message_loses_its_repeated_code_and_payload_name() -> None:
    old = _decoded_error({"code": "DESERIALIZATION_ERROR", "message": "DESERIALIZATION_ERROR: bad (payload `query`)",
                          "details": {"dataname": "query"}})
    assert old.message == "bad"
    assert str(old) == "DESERIALIZATION_ERROR from the responder: bad (payload `query`)"  # each said once


def test_a_normal_reply_decodes() -> None:
    sent = run(smartsend("x", [("a", "b", "text")], publish=False))
    assert run(decode_reply(sent.json, sent.correlation_id)).tuples() == [("a", "b", "text")]
    with pytest.raises(NatsBridgeError) as e:
        run(decode_reply(b"not json", REQUEST["correlation_id"]))
    assert e.value.code == ERROR_NOT_ENVELOPE and not e.value.remote
    assert e.value.correlation_id == REQUEST["correlation_id"]


# --- serve against a real server ----------------------------------------------------------------


async def handler(request: Received) -> list[tuple[str, Any, str]] | None:
    """The test's responder: a column lookup."""
    query = request.payload("query")
    column = query.data.get("column") if query is not None and isinstance(query.data, dict) else None
    if column == "nope":
        raise ApplicationError("UNKNOWN_COLUMN", UNKNOWN, details={"column": column})
    if column == "boom":
        raise RuntimeError("the lookup table is not loaded")
    if column == "slow":
        await asyncio.sleep(1.0)
    if column == "wrong":
        return "not a list"  # type: ignore[return-value]
    if column == "silent":
        return None
    return [("result", {"column": column, "sum": 42}, "dictionary")]


async def ask(nc: Client, subject: str, column: str, timeout: float = TIMEOUT) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        outcome: Any = await smartrequest(nc, subject, [("query", {"column": column}, "dictionary")], timeout=timeout)
    except NatsBridgeError as e:
        outcome = e
    return outcome, time.monotonic() - started


def test_serve_answers_results_application_errors_and_what_a_handler_raises(
        nats_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> dict[str, tuple[Any, float]]:
        nc = await nats.connect(nats_url)
        try:
            async with await serve(nc, "svc.columns", handler, send=SendOptions(msg_purpose="ACK")):
                out = {c: await ask(nc, "svc.columns", c) for c in ("price", "nope", "boom", "wrong")}
                out["silent"] = await ask(nc, "svc.columns", "silent", timeout=0.5)
                out["after"] = await ask(nc, "svc.columns", "after")
            return out
        finally:
            await nc.close()

    with caplog.at_level(logging.WARNING, logger="natsbridge"):
        got = run(go())
    reply, _ = got["price"]
    assert isinstance(reply, Received) and reply.payload("result").data == {"column": "price", "sum": 42}  # type: ignore[union-attr]
    assert reply.envelope["msg_purpose"] == "ACK"

    app, elapsed = got["nope"]
    assert isinstance(app, ApplicationError) and app.remote and elapsed < TIMEOUT / 2
    assert (app.application_code, app.message, app.details) == ("UNKNOWN_COLUMN", UNKNOWN, {"column": "nope"})

    raised, elapsed = got["boom"]
    assert isinstance(raised, NatsBridgeError) and not isinstance(raised, ApplicationError)
    assert (raised.code, raised.remote, raised.application_code) == (ERROR_HANDLER, True, None)
    assert raised.message == "the handler raised RuntimeError: the lookup table is not loaded"
    assert elapsed < TIMEOUT / 2

    wrong, _ = got["wrong"]
    assert isinstance(wrong, NatsBridgeError) and wrong.code == ERROR_HANDLER and "str 'not a list'" in wrong.message

    silent, _ = got["silent"]  # None: no reply, so the requester's own timeout
    assert isinstance(silent, NatsBridgeError) and silent.code == ERROR_DEADLINE and not silent.remote
    assert isinstance(got["after"][0], Received)  # the loop goes on after every failure

    # The raising handler is logged here, at warning, with its correlation id and its stack.
    records = [r for r in caplog.records if "the handler failed" in r.getMessage() and "RuntimeError" in r.getMessage()]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert getattr(records[0], "correlation_id") == raised.correlation_id
    assert records[0].exc_info is not None and records[0].exc_info[0] is RuntimeError  # the stack, here only


def test_serve_answers_a_request_that_does_not_decode_and_skips_what_names_no_reply_to(
        nats_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> tuple[Any, Any]:
        nc = await nats.connect(nats_url)
        try:
            async with await serve(nc, "svc.bad", handler):
                # An envelope whose payload fails its digest: answered with INTEGRITY_MISMATCH.
                inbox = nc.new_inbox()
                sub = await nc.subscribe(inbox, max_msgs=1)
                sent = await smartsend("svc.bad", [("query", {"column": "x"}, "dictionary")], publish=False,
                                       reply_to=inbox)
                envelope = json.loads(sent.json)
                envelope["payloads"][0]["metadata"]["sha256"] = "0" * 64
                await nc.publish("svc.bad", json.dumps(envelope).encode())
                try:
                    answered: Any = await decode_reply(await sub.next_msg(timeout=5), sent.correlation_id)
                except NatsBridgeError as e:
                    answered = e
                # Garbage with no reply_to: logged and skipped; the loop still answers the next request.
                await nc.publish("svc.bad", b"\xff not json", headers={"Correlation-Id": "cid-of-garbage"})
                after, _ = await ask(nc, "svc.bad", "price")
                return answered, after
        finally:
            await nc.close()

    with caplog.at_level(logging.WARNING, logger="natsbridge"):
        answered, after = run(go())
    assert isinstance(answered, NatsBridgeError) and answered.remote and answered.code == ERROR_INTEGRITY
    assert isinstance(after, Received)
    skipped = [r for r in caplog.records if "names no reply_to" in r.getMessage()]
    assert skipped and getattr(skipped[0], "correlation_id") == "cid-of-garbage"


def test_serve_runs_handlers_concurrently_and_stop_waits_for_them(nats_url: str) -> None:
    async def go() -> tuple[float, list[Any]]:
        nc = await nats.connect(nats_url)
        try:
            server = await serve(nc, "svc.slow", handler, queue="workers")
            started = time.monotonic()
            results = await asyncio.gather(*(ask(nc, "svc.slow", "slow") for _ in range(5)))
            elapsed = time.monotonic() - started
            pending = asyncio.ensure_future(ask(nc, "svc.slow", "slow"))
            await asyncio.sleep(0.2)  # received, handler running
            await server.stop()  # waits for the running handler and its answer
            late = await pending
            await server.wait_closed()
            return elapsed, [r for r, _ in results] + [late[0]]
        finally:
            await nc.close()

    elapsed, results = run(go())
    assert all(isinstance(r, Received) for r in results), results
    assert elapsed < 3.0  # five one-second handlers at once, not one after the other


def test_smartreply_error_takes_any_exception(nats_url: str) -> None:
    async def go() -> Any:
        server_nc = await nats.connect(nats_url)
        nc = await nats.connect(nats_url)
        try:
            async def on_request(msg: Any) -> None:
                request = await smartreceive(msg)
                await smartreply_error(server_nc, request.envelope, ZeroDivisionError("division by zero"))

            await server_nc.subscribe("svc.any", cb=on_request)
            await server_nc.flush()
            await asyncio.sleep(0.05)
            return (await ask(nc, "svc.any", "x"))[0]
        finally:
            await nc.close()
            await server_nc.close()

    err = run(go())
    assert isinstance(err, NatsBridgeError) and err.code == ERROR_HANDLER
    assert str(err) == "HANDLER_FAILED from the responder: the handler raised ZeroDivisionError: division by zero"


def test_smartreply_still_answers_by_hand(nats_url: str) -> None:
    async def by_hand(request: Received) -> None:
        await smartreply(nc_holder[0], request.envelope, [("by", "hand", "text")])
        return None

    nc_holder: list[Client] = []

    async def go() -> Any:
        nc = await nats.connect(nats_url)
        nc_holder.append(nc)
        try:
            async with await serve(nc, "svc.hand", by_hand):
                return (await ask(nc, "svc.hand", "x"))[0]
        finally:
            await nc.close()

    assert run(go()).tuples() == [("by", "hand", "text")]


# --- across languages -----------------------------------------------------------------------------

NODE_REQUESTER = """
import { smartrequest, NatsBridgeError } from %(node)s;
import { connect } from "@nats-io/transport-node";
const nc = await connect({ servers: process.argv[2] });
const out = [];
for (const column of ["nope", "boom"]) {
  const started = Date.now();
  try {
    await smartrequest(nc, "svc.langs", [["query", { column }, "dictionary"]], { timeout: %(timeout_ms)d });
    out.push({ column, ok: true });
  } catch (e) {
    out.push({ column, elapsed_ms: Date.now() - started, name: e?.constructor?.name, code: e.code,
               remote: e.remote, applicationCode: e.applicationCode ?? null, message: e.message,
               display: String(e), isBridgeError: e instanceof NatsBridgeError });
  }
}
console.log(JSON.stringify(out));
await nc.close();
"""


async def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env=env, cwd=cwd)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode(), time.monotonic() - started


def _cli_request(command: list[str], nats_url: str, column: str) -> list[str]:
    return [*command, "request", "--server", nats_url, "--subject", "svc.langs", "--payload",
            f'query:dictionary:{{"column":"{column}"}}', "--timeout", f"{TIMEOUT:g}"]


def test_a_python_responder_answers_requesters_in_python_typescript_and_rust(nats_url: str, tmp_path: Path) -> None:
    if not TS_CLI.is_file() or not TS_NODE.is_file():
        pytest.fail(f"{TS_CLI} is missing: build the TypeScript package (npm run build in packages/typescript)")
    script = tmp_path / "requester.mjs"
    script.write_text(NODE_REQUESTER % {"node": json.dumps(TS_NODE.as_uri()), "timeout_ms": TIMEOUT * 1000})
    node_env = dict(os.environ)

    async def go() -> dict[str, Any]:
        nc = await nats.connect(nats_url)
        try:
            async with await serve(nc, "svc.langs", handler):
                out: dict[str, Any] = {}
                for column in ("nope", "boom"):
                    out[f"python:{column}"] = await ask(nc, "svc.langs", column)
                    for name, command, env in (
                        ("python-cli", python_cli(), cli_env()),
                        ("typescript-cli", ["node", str(TS_CLI)], node_env),
                        ("rust-cli", [natsbridge_bin()], None),
                    ):
                        out[f"{name}:{column}"] = await _run(*_cli_request(command, nats_url, column), env=env)
                # node resolves bare imports (@nats-io/...) from the script's directory upwards:
                # a script under the repository finds its node_modules.
                library = ROOT / "target" / "python-tests" / f"requester-{os.getpid()}.mjs"
                library.parent.mkdir(parents=True, exist_ok=True)
                library.write_text(script.read_text())
                try:
                    out["typescript"] = await _run("node", str(library), nats_url, env=node_env)
                finally:
                    library.unlink()
                return out
        finally:
            await nc.close()

    got = run(go())
    problems: list[str] = []

    # Python, the library.
    app, elapsed = got["python:nope"]
    assert isinstance(app, ApplicationError) and app.application_code == "UNKNOWN_COLUMN" and elapsed < TIMEOUT / 2
    raised, elapsed = got["python:boom"]
    assert isinstance(raised, NatsBridgeError) and raised.code == ERROR_HANDLER and elapsed < TIMEOUT / 2

    # The three CLIs: one error line each, exit 1, within half the timeout (a process start included).
    for name in ("python-cli", "typescript-cli", "rust-cli"):
        for column, code, application_code in (("nope", ERROR_APPLICATION, "UNKNOWN_COLUMN"), ("boom", ERROR_HANDLER, None)):
            status, out, err, took = got[f"{name}:{column}"]
            lines = [json.loads(line) for line in out.splitlines() if line.strip()]
            if status != 1 or len(lines) != 1:
                problems.append(f"{name} {column}: exit {status}, stdout {out!r}, stderr {err[-300:]!r}")
                continue
            line = lines[0]
            want_keys = ["error", "application_code", "correlation_id", "message", "remote"] if application_code \
                else ["error", "correlation_id", "message", "remote"]
            if list(line) != want_keys:
                problems.append(f"{name} {column}: keys {list(line)}, expected {want_keys}: {line}")
            if (line.get("error"), line.get("application_code"), line.get("remote")) != (code, application_code, True):
                problems.append(f"{name} {column}: {line}")
            wire = UNKNOWN if column == "nope" else "the handler raised RuntimeError: the lookup table is not loaded"
            if wire not in str(line.get("message")):
                problems.append(f"{name} {column}: message {line.get('message')!r} lacks {wire!r}")
            if took >= TIMEOUT / 2:
                problems.append(f"{name} {column}: took {took:.1f} s")
    python_line = json.loads(got["python-cli:nope"][1])
    assert python_line["message"] == f"APPLICATION_ERROR UNKNOWN_COLUMN from the responder: {UNKNOWN}"

    # TypeScript, the library (the brief's API: smartrequest(nc, s, p, { timeout })).
    status, out, err, _ = got["typescript"]
    if status != 0:
        problems.append(f"typescript library: exit {status}: {err[-500:]}")
    else:
        ts = {r["column"]: r for r in json.loads(out)}
        expected = {
            "nope": {"name": "ApplicationError", "code": ERROR_APPLICATION, "remote": True,
                     "applicationCode": "UNKNOWN_COLUMN", "message": UNKNOWN,
                     "display": f"APPLICATION_ERROR UNKNOWN_COLUMN from the responder: {UNKNOWN}"},
            "boom": {"code": ERROR_HANDLER, "remote": True, "applicationCode": None,
                     "message": "the handler raised RuntimeError: the lookup table is not loaded",
                     "display": "HANDLER_FAILED from the responder: the handler raised RuntimeError: the lookup table "
                                "is not loaded"},
        }
        for column, want in expected.items():
            r = ts.get(column, {})
            for key, value in want.items():
                if r.get(key) != value:
                    problems.append(f"typescript library {column}: {key} is {r.get(key)!r}, expected {value!r}")
            if not r.get("elapsed_ms", TIMEOUT * 1000) < TIMEOUT * 500:
                problems.append(f"typescript library {column}: took {r.get('elapsed_ms')} ms")
    assert not problems, "\n".join(problems)
