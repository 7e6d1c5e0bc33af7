"""Where a JetStream replay starts: one grammar in every runtime and CLI (the profile's
``replay`` group; schema/README.md, rule 14). :func:`parse_start` reads it.

Text (exact, case-sensitive, no trimming):

- ``all`` (``START_ALL``): the whole stream; ``new`` (``START_NEW``): only what is published
  from now on;
- a stream sequence: a decimal integer of 1 or more, no sign, no leading zero (``42``);
- a duration back from now: one or more ``<digits><unit>`` groups, the units of
  ``DURATION_UNITS_MS`` (``250ms``, ``90s``, ``10m``, ``1h30m``, ``2d``), more than 0 in all;
- a point in time: an RFC 3339 date-time with its offset (``2026-12-06T09:00:00Z``,
  ``2026-12-06T18:00:00+09:00``, fractional seconds allowed).

Python values: an aware :class:`~datetime.datetime` (a naive one is refused: it names no
instant), a :class:`~datetime.timedelta` of more than 0 (back from now), an ``int`` of 1 or more
(a stream sequence; not a ``bool``), or a :class:`Start`. Anything else is ``INVALID_ARGUMENT``
(the profile's ``ERROR_BAD_OPTION``) naming the value and the accepted forms.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from natsbridge_types.profile import DURATION_UNITS_MS, ERROR_BAD_OPTION, START_ALL, START_NEW

from .errors import NatsBridgeError
from .options import checked

__all__ = ["SEQUENCE", "START_ALL", "START_NEW", "Start", "StartValue", "TIME", "parse_start", "rfc3339"]

SEQUENCE = "sequence"
"""``Start.kind`` of a stream sequence."""
TIME = "time"
"""``Start.kind`` of a point in time."""

_MAX_SEQUENCE = (1 << 64) - 1
"""The largest stream sequence a server keeps (an unsigned 64-bit integer)."""

_UNITS = sorted(DURATION_UNITS_MS, key=len, reverse=True)  # `ms` is tried before `m`
_GROUP = f"([0-9]+)({'|'.join(re.escape(u) for u in _UNITS)})"
_DURATION = re.compile(f"(?:{_GROUP})+")
_DURATION_GROUP = re.compile(_GROUP)
_SEQUENCE = re.compile("[1-9][0-9]*")
_DATE_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})(?:T(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})?)?"
)

FORMS = (
    f"`{START_ALL}`, `{START_NEW}`, a stream sequence (`42`), a duration back from now (`90s`, `10m`, `1h30m`; "
    f"units {', '.join(DURATION_UNITS_MS)}) or an RFC 3339 time with its offset (`2026-12-06T09:00:00Z`)"
)
"""The accepted text forms, as errors list them."""


@dataclass(frozen=True)
class Start:
    """A parsed replay start: ``kind`` is ``START_ALL`` (``all``), ``START_NEW`` (``new``),
    :data:`SEQUENCE` (``sequence``, with ``sequence``) or :data:`TIME` (``time``, with
    ``time``, an aware UTC datetime; a duration became the time that long before ``now``)."""

    kind: str
    sequence: int | None = None
    time: datetime.datetime | None = None

    def __str__(self) -> str:
        """The start in the text grammar (a time in UTC with ``Z``)."""
        if self.kind == SEQUENCE:
            return str(self.sequence)
        if self.kind == TIME and self.time is not None:
            return rfc3339(self.time)
        return self.kind


StartValue = str | int | datetime.datetime | datetime.timedelta | Start
"""What a ``start`` option takes (see the module)."""


def rfc3339(when: datetime.datetime) -> str:
    """``when`` in UTC as RFC 3339 with ``Z``: whole seconds, or with the microseconds given
    (trailing zeros dropped)."""
    utc = when.astimezone(datetime.timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _refused(value: object, why: str, hint: str = "") -> NatsBridgeError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return NatsBridgeError(
        ERROR_BAD_OPTION, f"replay start {shown} {why}{hint}; a start is {FORMS}"
    )


def _now(now: datetime.datetime | None) -> datetime.datetime:
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if not isinstance(now, datetime.datetime):
        raise NatsBridgeError(ERROR_BAD_OPTION, f"parse_start: `now` must be an aware datetime or None, not "
                              f"{type(now).__name__} {now!r:.60}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise NatsBridgeError(ERROR_BAD_OPTION, f"parse_start: `now` {now!r:.60} is a naive datetime (no time "
                              "zone); use datetime.now(timezone.utc)")
    return now


def _time(value: datetime.datetime) -> Start:
    return Start(TIME, time=value.astimezone(datetime.timezone.utc))


def _text(text: str, now: datetime.datetime) -> Start:
    if text == START_ALL:
        return Start(START_ALL)
    if text == START_NEW:
        return Start(START_NEW)
    if _SEQUENCE.fullmatch(text):
        sequence = int(text)
        if sequence > _MAX_SEQUENCE:
            raise _refused(text, f"is a stream sequence over the largest one ({_MAX_SEQUENCE})")
        return Start(SEQUENCE, sequence=sequence)
    if _DURATION.fullmatch(text):
        ms = sum(int(n) * DURATION_UNITS_MS[u] for n, u in _DURATION_GROUP.findall(text))
        if ms == 0:
            raise _refused(text, f"is a duration of 0", f" (for only what is published from now on, use `{START_NEW}`)")
        try:
            return _time(now - datetime.timedelta(milliseconds=ms))
        except OverflowError:
            raise _refused(text, "reaches back before the year 1") from None
    m = _DATE_TIME.fullmatch(text)
    if m is not None:
        if m["time"] is None:
            raise _refused(text, "is a date without a time and an offset",
                           f" (write e.g. `{text}T00:00:00Z`)")
        if m["offset"] is None:
            raise _refused(text, "is a time without an offset: it names no instant",
                           f" (end it with `Z` for UTC or an offset such as `+09:00`: `{text}Z`)")
        fraction = (m["fraction"] or "")[:6].ljust(6, "0")
        iso = f"{m['date']}T{m['time']}.{fraction}{'+00:00' if m['offset'] == 'Z' else m['offset']}"
        try:
            when = datetime.datetime.fromisoformat(iso)
        except ValueError as e:
            raise _refused(text, f"is not a valid date-time ({e})") from None
        offset = m["offset"]
        if offset != "Z" and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
            raise _refused(text, "has an offset out of range")
        return _time(when)
    hint = ""
    if text.lower() in (START_ALL, START_NEW):
        hint = f" (did you mean `{text.lower()}`?)"
    elif text != text.strip() or " " in text:
        squeezed = "".join(text.split())
        if squeezed and (squeezed in (START_ALL, START_NEW) or _SEQUENCE.fullmatch(squeezed)
                         or _DURATION.fullmatch(squeezed) or _DATE_TIME.fullmatch(squeezed)):
            hint = f" (did you mean `{squeezed}`?)"
    elif text.startswith("-") or text.startswith("+"):
        hint = " (a duration is counted back from now, without a sign)"
    elif text.lower() != text and _DURATION.fullmatch(text.lower()):
        hint = f" (did you mean `{text.lower()}`? units are lowercase)"
    elif _DATE_TIME.fullmatch(text.upper()):
        hint = f" (did you mean `{text.upper()}`?)"
    raise _refused(text, "is not a start", hint)


@checked("parse_start")
def parse_start(value: object, now: datetime.datetime | None = None) -> Start:
    """``value`` as a replay :class:`Start` (see the module for the forms); a duration is
    counted back from ``now`` (an aware datetime; default: the current time). Raises
    ``INVALID_ARGUMENT`` naming ``value`` and listing the accepted forms."""
    now = _now(now)
    if isinstance(value, Start):
        valid = (
            (value.kind in (START_ALL, START_NEW) and value.sequence is None and value.time is None)
            or (value.kind == SEQUENCE and type(value.sequence) is int and 1 <= value.sequence <= _MAX_SEQUENCE)
            or (value.kind == TIME and isinstance(value.time, datetime.datetime) and value.time.utcoffset() is not None)
        )
        if not valid:
            raise _refused(value, "is not a consistent Start")
        return value if value.kind != TIME or value.time is None else _time(value.time)
    if isinstance(value, str):
        return _text(value, now)
    if isinstance(value, bool):
        raise _refused(value, "is a bool, not a start")
    if isinstance(value, int):
        if not 1 <= value <= _MAX_SEQUENCE:
            raise _refused(value, "is not a stream sequence (1 or more)",
                           f" (for everything use `{START_ALL}`)" if value == 0 else "")
        return Start(SEQUENCE, sequence=value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _refused(value, "is a naive datetime (no time zone): it names no instant",
                           " (use an aware one, e.g. datetime.now(timezone.utc) - timedelta(minutes=5))")
        return _time(value)
    if isinstance(value, datetime.timedelta):
        if value <= datetime.timedelta(0):
            raise _refused(value, "is not a duration of more than 0",
                           f" (for only what is published from now on, use `{START_NEW}`)")
        try:
            return _time(now - value)
        except OverflowError:
            raise _refused(value, "reaches back before the year 1") from None
    if isinstance(value, float):
        raise _refused(value, "is a float", " (a stream sequence is an int; a duration is a timedelta or text "
                       "such as `90s`)")
    raise _refused(value, f"is a {type(value).__name__}, not a start")
