"""The strict JSON reader (schema/README.md, reader rules 8-10), rule by rule, each with both
verdicts: on its own (:func:`natsbridge.strict_json.loads`), through ``smartreceive`` for an
envelope (``INVALID_ENVELOPE``) and for ``dictionary`` / ``jsontable`` payload bytes
(``DESERIALIZATION_ERROR``, depth counted from the payload's root, no integer rule), and on
the writer's side (what a strict reader would refuse is never written)."""

from __future__ import annotations

import base64
import json
import timeit
from typing import Any

import pytest

from natsbridge import NatsBridgeError, smartreceive, smartsend, strict_json
from natsbridge_types.profile import (
    ERROR_BAD_BYTES,
    ERROR_NOT_ENVELOPE,
    ERROR_NOT_JSON,
    ERROR_WRITER_RULE,
    HEADER_CORRELATION_ID,
    JSON_MAX_DEPTH,
)

from .conftest import run

CID = "00000001-0000-4000-8000-000000000001"


def refused(data: bytes | str) -> str:
    """Why ``loads`` refuses ``data`` (fails the test when it accepts it)."""
    with pytest.raises(strict_json.StrictJsonError) as e:
        strict_json.loads(data)
    return str(e.value)


def nested(depth: int, inner: str = "1") -> str:
    """``inner`` inside ``depth`` arrays (depth 1: ``[1]``)."""
    return "[" * depth + inner + "]" * depth


# --- loads, rule by rule ------------------------------------------------------------------


def test_a_byte_order_mark_is_refused_as_bytes_and_as_text_and_elsewhere_is_text() -> None:
    assert "byte-order mark" in refused(b'\xef\xbb\xbf{"a":1}')
    assert "byte-order mark" in refused('\ufeff{"a":1}')
    assert strict_json.loads('{"a":"\ufeff"}') == {"a": "\ufeff"}  # inside a string it is a character


@pytest.mark.parametrize("data", [
    b'["\xff"]', b'["\xc0\xaf"]', b'["\xe0\x80\xaf"]',  # invalid byte, overlong forms
    b'["\xed\xa0\x80"]', b'["\xf0\x9f\x98"]',  # an encoded surrogate, a truncated sequence
    '{"a":1}'.encode("utf-16-le"), '{"a":1}'.encode("utf-32"),  # other encodings json.loads would detect
])
def test_bytes_must_be_strict_utf8(data: bytes) -> None:
    refused(data)


def test_utf8_of_every_plane_is_accepted() -> None:
    assert strict_json.loads('["é€😀"]'.encode()) == ["é€😀"]
    assert strict_json.loads(bytearray(b'[1]')) == [1] and strict_json.loads(memoryview(b'[2]')) == [2]


def test_text_holding_a_surrogate_code_point_is_refused() -> None:
    assert "surrogate" in refused('["\ud800"]')


@pytest.mark.parametrize("text", [
    '{"a":1,"a":1}', '{"a":1,"\\u0061":2}', '{"x":{"b":[{"c":1,"c":2}]}}', '[{"k":1},{"k":1,"k":2}]',
])
def test_duplicate_member_names_are_refused_at_any_depth_after_unescaping(text: str) -> None:
    assert "duplicate member name" in refused(text)


def test_the_same_name_in_different_objects_is_fine() -> None:
    assert strict_json.loads('{"a":{"a":1},"b":[{"a":2},{"a":3}]}') == {"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}


@pytest.mark.parametrize("text", [
    "[NaN]", "[Infinity]", "[-Infinity]", "[1e400]", "[-1e400]", "[1E309]", "[" + "9" * 400 + "]",
    "[-" + "9" * 400 + "]", "[" + "9" * 5000 + "]",
])
def test_numbers_must_be_finite_as_doubles(text: str) -> None:
    refused(text)


def test_finite_numbers_of_every_form_are_accepted() -> None:
    big = "1" + "0" * 308  # 1e308, below the largest double
    assert strict_json.loads(f"[1e308, -1.5e-3, 1e-400, {big}, 0.5, -7]") == [1e308, -1.5e-3, 0.0, 10**308, 0.5, -7]


def test_integer_literals_are_ints_and_every_other_form_is_a_float() -> None:
    values = strict_json.loads("[0, 5, -5, 5.0, 5e0, 1E2, -0, -0.0]")
    assert [type(v) for v in values] == [int, int, int, float, float, float, float, float]
    assert values[6] == 0 and str(values[6]) == "-0.0"  # -0 is not an integer literal (rule 9)


@pytest.mark.parametrize("text", ["[01]", "[+1]", "[.5]", "[1.]", "[0x10]", "['a']", "[1,]", '{"a":1,}', "[1] x",
                                  "[1][2]", "", " ", "[1] //c", "\x0c[1]", "\u00a0[1]", '["a\nb"]', '["\x01"]',
                                  '["\\x"]', "[tru]", "{a:1}"])
def test_the_rfc_8259_grammar_and_nothing_else(text: str) -> None:
    refused(text)


def test_json_whitespace_around_the_value_is_fine() -> None:
    assert strict_json.loads(" \t\r\n[1]\n ") == [1]


@pytest.mark.parametrize("text", [
    '["\\ud800"]', '["\\udc00"]', '["\\uDBFF"]', '["\\ud800x"]', '["\\ud800\\u0041"]', '["\\udc00\\ud800"]',
    '["\\ud800\\ud800"]', '{"\\ud800":1}', '["a\\\\\\ud800"]',
])
def test_a_lone_surrogate_escape_is_refused(text: str) -> None:
    assert "surrogate" in refused(text)


@pytest.mark.parametrize("text, value", [
    ('["\\ud83d\\ude00"]', ["😀"]), ('["\\uD83D\\uDE00"]', ["😀"]),
    ('["\\\\ud800"]', ["\\ud800"]),  # an escaped backslash, then the letters "ud800"
    ('["\\u005cud800"]', ["\\ud800"]),  # the same through a \\u escape
    ('["\\u0000", "a\\u0000b"]', ["\x00", "a\x00b"]),  # NUL is a character: accepted and kept
])
def test_surrogate_pairs_escaped_backslashes_and_nul_are_accepted(text: str, value: Any) -> None:
    assert strict_json.loads(text) == value


def test_depth_is_at_most_64_the_outermost_value_being_depth_1() -> None:
    assert JSON_MAX_DEPTH == 64
    assert strict_json.loads(nested(64)) is not None
    assert "nested deeper" in refused(nested(65))
    objects = '{"a":' * 64 + "1" + "}" * 64
    assert strict_json.loads(objects) is not None
    assert "nested deeper" in refused('{"a":' * 65 + "1" + "}" * 65)
    assert "nested deeper" in refused("[" * 32 + '{"a":' * 33 + "1" + "}" * 33 + "]" * 32)


@pytest.mark.parametrize("depth", [100, 999, 100_000])
def test_any_depth_beyond_is_the_same_error_never_a_recursion_error(depth: int) -> None:
    assert "nested deeper" in refused(nested(depth))
    refused("[" * depth)  # unclosed: refused too, whichever rule says so first


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps(["[" * 200, "{" * 200, "\\\"[[[" * 50])
    assert len(strict_json.loads(text)) == 3
    wide = "[" + ",".join(["[[1]]"] * 500) + "]"  # many brackets, depth 3
    assert len(strict_json.loads(wide)) == 500


def test_a_max_depth_may_be_given() -> None:
    assert strict_json.loads(nested(3), max_depth=3) == [[[1]]]
    refused_at_2 = pytest.raises(strict_json.StrictJsonError, strict_json.loads, nested(3), max_depth=2)
    assert "deeper than 2" in str(refused_at_2.value)


def test_check_written_refuses_what_a_strict_reader_would() -> None:
    strict_json.check_written(nested(64))
    strict_json.check_written(json.dumps(["x" * 400, "9" * 400]))  # digits inside a string
    for bad in (nested(65), json.dumps([10**400])):
        with pytest.raises(strict_json.StrictJsonError):
            strict_json.check_written(bad)


def test_a_1kb_envelope_parses_within_a_small_multiple_of_json_loads() -> None:
    body = json.dumps({"correlation_id": CID, "payloads": [{"size": 10, "data": "A" * 900}],
                       "metadata": {"k": [1, 2.5, "x"]}}).encode()
    plain = min(timeit.repeat(lambda: json.loads(body), number=2000, repeat=5))
    strict = min(timeit.repeat(lambda: strict_json.loads(body), number=2000, repeat=5))
    assert strict < plain * 4, (strict, plain)


# --- through smartreceive -----------------------------------------------------------------


def envelope(size: str = "2", dataname: str = '"x"', metadata: str = "{}", payload: dict[str, Any] | None = None) -> str:
    """An envelope's text, with ``size``, ``dataname`` and ``metadata`` spliced in as written."""
    p = payload or {"payload_type": "text", "data": "aGk="}
    return (
        f'{{"correlation_id":"{CID}","msg_id":"00000002-0000-4000-8000-000000000002",'
        '"timestamp":"2026-01-01T00:00:00.000Z","send_to":"s","msg_purpose":"chat","sender_name":"t",'
        '"sender_id":"","receiver_name":"","receiver_id":"","reply_to":"","reply_to_msg_id":"",'
        f'"metadata":{metadata},"payloads":[{{"id":"00000003-0000-4000-8000-000000000003","dataname":{dataname},'
        f'"payload_type":"{p["payload_type"]}","transport":"direct","encoding":"base64","size":{size},'
        f'"data":"{p["data"]}"}}]}}'
    )


def receive(body: bytes | str) -> Any:
    return run(smartreceive(body))


def receive_error(body: bytes | str) -> NatsBridgeError:
    with pytest.raises(NatsBridgeError) as e:
        receive(body)
    return e.value


def test_the_base_envelope_is_received() -> None:
    assert receive(envelope()).tuples() == [("x", "hi", "text")]
    assert receive(envelope().encode()).tuples() == [("x", "hi", "text")]


@pytest.mark.parametrize("body", [
    b"\xef\xbb\xbf" + envelope().encode(), envelope().encode()[:-3] + b"\xff}]}",
    envelope().replace('"sender_name":"t"', '"sender_name":"t","sender_name":"u"'),
    envelope(metadata='{"a":1,"a":2}'), envelope(metadata="[1e400]"), envelope(metadata="NaN"),
    envelope(dataname='"\\ud800"'), envelope(metadata=nested(63, "{}")), envelope() + " {}",
])
def test_envelopes_that_are_not_strict_json_are_invalid_envelope(body: bytes | str) -> None:
    err = receive_error(body)
    assert err.code == ERROR_NOT_JSON
    assert "strict JSON" in err.message


def test_the_correlation_id_header_names_an_unreadable_envelope() -> None:
    with pytest.raises(NatsBridgeError) as e:
        run(smartreceive(b"\xef\xbb\xbf{}", headers={HEADER_CORRELATION_ID: CID}))
    assert e.value.correlation_id == CID


@pytest.mark.parametrize("size", ["2.0", "2e0", "2E0", "0.2e1", "-0"])
def test_a_size_not_written_as_an_integer_is_invalid_envelope(size: str) -> None:
    err = receive_error(envelope(size=size))
    assert err.code == ERROR_NOT_ENVELOPE and "/payloads/0/size" in err.message and err.correlation_id == CID


def test_metadata_may_hold_any_finite_number_and_nul() -> None:
    received = receive(envelope(metadata='{"a":5.0,"b":5e0,"c":-0,"d":1E2,"e":"\\u0000"}', dataname='"a\\u0000b"'))
    assert received.envelope["metadata"] == {"a": 5.0, "b": 5.0, "c": 0, "d": 100.0, "e": "\x00"}
    assert received.payloads[0].dataname == "a\x00b"


def test_nesting_counts_from_the_envelope_64_passes_65_fails() -> None:
    # The envelope is depth 1, its metadata depth 2: 62 arrays inside reach 64.
    assert receive(envelope(metadata='{"k":' + nested(62) + "}")).payloads
    err = receive_error(envelope(metadata='{"k":' + nested(63, "1") + "}"))
    assert err.code == ERROR_NOT_JSON


@pytest.mark.parametrize("text", [
    CID + "\n", "\n" + CID, CID[:-1] + "G", CID.upper() + " ",
])
def test_patterns_match_the_whole_string_ecma_style(text: str) -> None:
    err = receive_error(envelope().replace(f'"correlation_id":"{CID}"', f'"correlation_id":{json.dumps(text)}'))
    assert err.code == ERROR_NOT_ENVELOPE


def test_a_timestamp_with_a_trailing_newline_is_refused() -> None:
    err = receive_error(envelope().replace("00.000Z", "00.000Z\\n"))
    assert err.code == ERROR_NOT_ENVELOPE


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def payload_envelope(payload_type: str, json_text: str) -> str:
    return envelope(size=str(len(json_text.encode())), payload={"payload_type": payload_type, "data": b64(json_text)})


@pytest.mark.parametrize("payload_type, text", [
    ("dictionary", '{"a":1,"a":2}'), ("dictionary", '{"a":"\\udc00"}'), ("dictionary", "[1e400]"),
    ("dictionary", "\ufeff{}"), ("dictionary", "[NaN]"), ("dictionary", nested(65)), ("dictionary", "{} {}"),
    ("jsontable", '[{"a":1,"a":1}]'), ("jsontable", "[" + nested(64, "{}") + "]"),
])
def test_json_payload_bytes_that_are_not_strict_are_deserialization_error(payload_type: str, text: str) -> None:
    err = receive_error(payload_envelope(payload_type, text))
    assert err.code == ERROR_BAD_BYTES
    assert err.dataname == "x" and err.correlation_id == CID


def test_json_payload_depth_counts_from_its_own_root_and_numbers_keep_their_form() -> None:
    deep = receive(payload_envelope("dictionary", nested(64))).payloads[0].data
    assert deep == json.loads(nested(64))
    rows = receive(payload_envelope("jsontable", '[{"a":5.0,"b":-0,"c":"\\u0000"}]')).payloads[0].data
    assert rows == [{"a": 5.0, "b": 0, "c": "\x00"}] and type(rows[0]["a"]) is float


# --- writers: what a strict reader refuses is never written -------------------------------


@pytest.mark.parametrize("data", [
    json.loads(nested(65)), {"big": 10**400}, {"nan": float("nan")}, {"s": "\ud800"},
])
def test_a_dictionary_a_strict_reader_would_refuse_is_not_sent(data: Any) -> None:
    with pytest.raises(NatsBridgeError) as e:
        run(smartsend("s", [("d", data, "dictionary")], publish=False))
    assert e.value.code == ERROR_WRITER_RULE and e.value.dataname == "d"


def test_envelope_metadata_a_strict_reader_would_refuse_is_not_sent() -> None:
    with pytest.raises(NatsBridgeError) as e:
        run(smartsend("s", [("d", 1, "dictionary")], publish=False, metadata={"k": json.loads(nested(63))}))
    assert e.value.code == ERROR_WRITER_RULE
    ok = run(smartsend("s", [("d", json.loads(nested(64)), "dictionary")], publish=False,
                       metadata={"k": json.loads(nested(62))}))
    assert receive(ok.json).payloads[0].data == json.loads(nested(64))
