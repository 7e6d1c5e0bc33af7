"""The strict JSON reader every runtime applies to envelopes and to ``dictionary`` /
``jsontable`` payload bytes (schema/README.md, reader rules 8 and 9): the same verdict as
the Rust, TypeScript and MicroPython readers on the same bytes.

:func:`loads` accepts one RFC 8259 value, strictly UTF-8, and refuses with
:class:`StrictJsonError`:

- a byte-order mark (bytes ``EF BB BF`` or text starting with U+FEFF), bytes that are not
  strict UTF-8, text holding a surrogate code point (it has no UTF-8 form);
- anything ``json.loads`` refuses (trailing data, raw control characters, leading zeros ...);
- ``NaN`` / ``Infinity`` literals and numbers that are not finite as doubles (``1e400``, an
  integer of 400 digits);
- duplicate member names in any object (compared after unescaping);
- a lone surrogate escape (``\\ud800`` not followed by a low one, or a low one alone);
  ``\\u0000`` is a character like any other and is kept;
- nesting deeper than ``max_depth`` arrays and objects (the outermost value is depth 1).

Integers (rule 9): a number written ``0`` or ``-?[1-9][0-9]*`` is an ``int``; every other
form (``5.0``, ``5e0``, ``1E2``, ``-0``) is a ``float``. A schema ``integer`` field
(``payloads[].size``) is therefore valid only when its value's type is exactly ``int``.

All checks run in C (``json.loads`` hooks, ``str`` methods, regular expressions); Python-level
work happens per object and per number, never per character, and the expensive checks only
when a cheap scan says they might fail.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

JSON_MAX_DEPTH = 64

__all__ = ["StrictJsonError", "check_written", "loads"]


class StrictJsonError(ValueError):
    """Bytes or text that are not strict JSON; the message says which rule they broke."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise StrictJsonError(f"duplicate member name {k[:100]!r}")
            seen.add(k)
    return d


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError(f"number {text[:40]} is not finite as a double")
    return value


_NO_INT_CHECK = 308
"""Integers of at most this many characters are below the largest double (about 1.8e308)."""


def _int(text: str) -> int | float:
    if text == "-0":
        return -0.0  # not an integer literal (rule 9); as a number it is negative zero
    value = int(text)
    if len(text) > _NO_INT_CHECK:
        try:
            float(value)
        except OverflowError:
            raise StrictJsonError(f"number of {len(text)} digits is not finite as a double") from None
    return value


def _constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_float=_float, parse_int=_int, parse_constant=_constant, strict=True
)

_SURROGATE_CHAR = re.compile("[\ud800-\udfff]")
_ANY_SURROGATE_ESCAPE = re.compile(r"\\u[dD]")  # a regex scan is about twice as fast as `in` here
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_OPENERS = str.maketrans("{}", "[]")
_SURROGATE_ESCAPE = re.compile(
    r"\\\\"  # an escaped backslash: what follows it is not an escape
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a surrogate pair
    r"|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})"  # any other surrogate escape: a lone one
)


def _depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether the (valid JSON) ``text`` nests arrays and objects deeper than ``max_depth``.
    Strings are removed, then the innermost ``[]`` pairs, one level per pass (each in C)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text)).translate(_OPENERS)
    for _ in range(max_depth):
        if not brackets:
            return False
        shorter = brackets.replace("[]", "")
        if len(shorter) == len(brackets):  # unbalanced: not JSON, json.loads says so
            return False
        brackets = shorter
    return bool(brackets)


_DIGIT_RUNS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
"""A ``bytes.translate`` table: digits to ``0``, everything else to a space."""
_LONG_RUN = b"0" * (_NO_INT_CHECK + 1)


def check_written(text: str, *, max_depth: int = JSON_MAX_DEPTH) -> None:
    """Raises :class:`StrictJsonError` when ``text``, JSON that ``json.dumps`` wrote
    (``allow_nan=False``), breaks a rule a strict reader applies: nesting deeper than
    ``max_depth``, or an integer too large for a double. Costs a few C passes (counts, a
    translation, a search) unless one of them says it might; then a strict parse decides.
    Lone surrogates fail the caller's UTF-8 encoding."""
    if text.count("[") + text.count("{") > max_depth or (
        len(text) > _NO_INT_CHECK and _LONG_RUN in text.encode("utf-8", "surrogatepass").translate(_DIGIT_RUNS)
    ):
        loads(text, max_depth=max_depth)


def _has_lone_surrogate_escape(text: str) -> bool:
    """Whether the (valid JSON) ``text`` holds a surrogate escape that is not half of a pair."""
    return any(m.group(1) for m in _SURROGATE_ESCAPE.finditer(text))


def loads(data: bytes | bytearray | memoryview | str, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """The JSON value of ``data`` under the strict rules (see the module doc); raises
    :class:`StrictJsonError`."""
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise StrictJsonError("a byte-order mark before the value")
        if not data.isascii() and _SURROGATE_CHAR.search(data):
            raise StrictJsonError("text holding a surrogate code point has no UTF-8 form")
        text = data
    else:
        raw = data if isinstance(data, bytes) else bytes(data)
        if raw.startswith(b"\xef\xbb\xbf"):
            raise StrictJsonError("a byte-order mark before the value")
        try:
            text = raw.decode("utf-8")  # strict: no overlong forms, no encoded surrogates
        except UnicodeDecodeError as e:
            raise StrictJsonError(f"not UTF-8 at byte {e.start}") from None
    try:
        value = _DECODER.decode(text)
    except StrictJsonError:
        raise
    except RecursionError:  # json.loads recurses per level: far deeper than max_depth
        raise StrictJsonError(f"nested deeper than {max_depth} arrays and objects") from None
    except ValueError as e:  # json.JSONDecodeError, or int() refusing more than 4300 digits
        raise StrictJsonError(str(e)[:200]) from None
    # Valid JSON from here on, so the scans below tokenize strings exactly, in linear time.
    if text.count("[") + text.count("{") > max_depth and _depth_exceeds(text, max_depth):
        raise StrictJsonError(f"nested deeper than {max_depth} arrays and objects")
    if _ANY_SURROGATE_ESCAPE.search(text) and _has_lone_surrogate_escape(text):
        raise StrictJsonError("a lone surrogate escape")
    return value
