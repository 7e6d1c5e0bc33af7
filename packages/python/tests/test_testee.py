"""The Python conformance testee (conformance/testees/python_testee.py) answers `decode` of
`bytes` (base64 of the exact body, e.g. invalid UTF-8 or a BOM) as of `text`, and never dies:
every request line, whatever it holds, gets one answer line."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

from natsbridge_types.profile import ERROR_BAD_BYTES, ERROR_NOT_JSON, ERROR_WRITER_RULE

from .conftest import ROOT
from .test_strict_json import envelope, payload_envelope


def ask(lines: list[bytes]) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, str(ROOT / "conformance/testees/python_testee.py")],
                          input=b"\n".join(lines) + b"\n", capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return [json.loads(line) for line in proc.stdout.decode("ascii").splitlines()]


def decode_bytes(body: bytes) -> bytes:
    return json.dumps({"op": "decode", "bytes": base64.b64encode(body).decode()}).encode()


def test_decode_takes_bytes_or_text_and_every_line_is_answered() -> None:
    good = envelope()
    answers = ask([
        decode_bytes(good.encode()),
        json.dumps({"op": "decode", "text": good}).encode(),
        decode_bytes(b"\xef\xbb\xbf" + good.encode()),
        decode_bytes(good.encode().replace(b'"x"', b'"\xff"')),
        decode_bytes(payload_envelope("dictionary", '{"a":1,"a":2}').encode()),
        json.dumps({"op": "decode", "bytes": "not base64!"}).encode(),
        json.dumps({"op": "decode", "bytes": 5}).encode(),
        b"\xff\xfe not json",
        b"[" * 100_000,
        json.dumps({"op": "validate", "text": good.replace('"sender_name":"t"', '"sender_name":"t","sender_name":"t"')}).encode(),
        json.dumps({"op": "validate", "text": good}).encode(),
    ])
    assert len(answers) == 11, answers
    assert answers[0] == answers[1] and answers[0]["ok"] is True
    assert answers[0]["payloads"][0]["text"] == "hi"
    assert [a.get("error") for a in answers[2:5]] == [ERROR_NOT_JSON, ERROR_NOT_JSON, ERROR_BAD_BYTES]
    assert [a.get("error") for a in answers[5:9]] == ["INVALID_REQUEST"] * 4
    assert answers[9] == {"valid": False} and answers[10] == {"valid": True}


def test_hello_send_fetch_and_typed_are_answered() -> None:
    note = [{"dataname": "n", "payload_type": "text", "text": "hi"}]
    answers = ask([json.dumps(r).encode() for r in [
        {"op": "hello"},
        {"op": "send", "subject": "s", "payloads": note, "options": {"msg_purpose": "request"}},
        {"op": "send", "subject": "s", "payloads": note, "options": {"msg_purpose": "command", "sender_name": "w"}},
        {"op": "send", "subject": "s", "payloads": note, "options": {"fileserverUrl": "x"}},
        {"op": "send", "subject": "s", "payloads": [{"dataname": "b", "payload_type": "binary",
                                                     "fill": {"byte": 97, "count": 3}}], "options": {}},
        {"op": "fetch", "url": "ftp://127.0.0.1/x", "options": {"max_attempts": 1}},
        {"op": "typed", "spec": "simulation", "message": "command", "value": {"step_size": 0.5, "iterations": 0},
         "direction": "send"},
        {"op": "typed", "spec": "simulation", "message": "status", "value": {"state": "Paused"}, "direction": "receive"},
    ]])
    assert answers[0]["ok"] is True and answers[0]["lane"] == "python" and answers[0]["capabilities"]["typed"] == ["simulation"]
    assert answers[1]["error"] == ERROR_WRITER_RULE and "msg_purpose" in answers[1]["message"]
    sent = json.loads(answers[2]["text"])
    assert (sent["msg_purpose"], sent["sender_name"], sent["send_to"]) == ("command", "w", "s")
    assert answers[3]["error"] == "INVALID_REQUEST"
    assert base64.b64decode(json.loads(answers[4]["text"])["payloads"][0]["data"]) == b"aaa"
    assert answers[5]["ok"] is False and answers[5]["error"]
    assert answers[6] == {"ok": False, "error": ERROR_WRITER_RULE, "message": answers[6]["message"]}
    assert answers[7] == {"ok": True}
