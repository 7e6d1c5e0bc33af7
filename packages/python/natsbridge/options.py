"""Argument checking for the public calls (schema/README.md, writer rule 12): an option key a
call does not know, or an argument or option value of the wrong type or out of its range, is a
:class:`NatsBridgeError` ``INVALID_ARGUMENT`` (profile ``ERROR_BAD_OPTION``) naming the call,
the parameter and what was given and, for a misspelling, the closest known key; never a raw
``TypeError`` or a silent default.

- :func:`checked` wraps a function or coroutine function: its arguments are checked against
  its signature's parameters and their annotations (and the keys it forwards to another call).
- :func:`checked_options` does the same for an options dataclass (positional fields too);
  a list given for a ``tuple[str, ...]`` field is kept as a tuple.

Types are checked from the annotations, shallowly but for what a caller gets wrong:
``bool`` is not an ``int``, ``NaN`` is not a number, a ``str`` is not a list of ``str``, a
mapping's keys and values are of their types. ``Annotated[float, NON_NEGATIVE]`` (the aliases
:data:`Seconds`, :data:`Count`, ...) adds a range. Annotations a value cannot be checked against
(protocols, type variables) accept anything.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import inspect
import math
import types
import typing
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Annotated, Any, NamedTuple, ParamSpec, TypeVar

from natsbridge_types.profile import ERROR_BAD_OPTION

from .errors import NatsBridgeError

__all__ = ["AT_LEAST_ONE", "Count", "NON_NEGATIVE", "POSITIVE", "PositiveCount", "PositiveSeconds", "SECRET_KEYS",
           "Seconds", "bad_argument", "bad_option", "check_value", "checked", "checked_options", "closest", "shown", "unchecked"]

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)
T = TypeVar("T")

_Check = Callable[[object], bool]


def closest(key: str, known: Collection[str]) -> str | None:
    """The known key ``key`` most likely misspells: the same letters in another case or
    without ``_`` (``fileserverUrl`` for ``fileserver_url``), else the closest by
    :func:`difflib.get_close_matches`."""
    folded = key.replace("_", "").replace("-", "").lower()
    for k in known:
        if k.replace("_", "").lower() == folded:
            return k
    matches = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def bad_option(call: str, key: str, known: Collection[str]) -> NatsBridgeError:
    """The error for the unknown option ``key`` of ``call``: the closest known key, or the
    known ones."""
    guess = closest(key, known)
    if guess is not None:
        hint = f" (did you mean `{guess}`?)"
    else:
        names = ", ".join(sorted(known))
        hint = f"; {call} takes {names[:400]}" if names else f"; {call} takes no options"
    return NatsBridgeError(ERROR_BAD_OPTION, f"{call}: unknown option `{key[:100]}`{hint}")


def bad_argument(call: str, message: str) -> NatsBridgeError:
    """``INVALID_ARGUMENT``: ``call: message``."""
    return NatsBridgeError(ERROR_BAD_OPTION, f"{call}: {message}")


def shown(value: object, limit: int = 60) -> str:
    """``value`` as an error names it: its type and a short ``repr`` (``int 1``, ``str 'x'``)."""
    try:
        text = repr(value)
    except Exception:  # a repr that raises
        text = "<unprintable>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


class Constraint(NamedTuple):
    """A range an ``Annotated`` number must lie in, and how an error words it."""

    test: Callable[[Any], bool]
    what: str


NON_NEGATIVE = Constraint(lambda v: v >= 0, "0 or more")
POSITIVE = Constraint(lambda v: v > 0, "more than 0")
AT_LEAST_ONE = Constraint(lambda v: v >= 1, "1 or more")
Seconds = Annotated[float, NON_NEGATIVE]
"""A time in seconds: a number, 0 or more (``math.inf`` where "for ever" makes sense)."""
PositiveSeconds = Annotated[float, POSITIVE]
"""A time in seconds: a number more than 0."""
Count = Annotated[int, NON_NEGATIVE]
"""A count: an int, 0 or more."""
PositiveCount = Annotated[int, AT_LEAST_ONE]
"""A count: an int, 1 or more."""


# --- checking a value against an annotation ---------------------------------------------


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def _plain_class(hint: object) -> bool:
    """Whether ``isinstance`` alone checks ``hint`` (not ``int``/``float``, which refuse ``bool``)."""
    if hint is None or hint is type(None):
        return True
    if not isinstance(hint, type) or hint in (int, float) or typing.get_origin(hint) is not None:
        return False
    try:
        isinstance(None, hint)
    except TypeError:  # a protocol that is not runtime-checkable
        return False
    return True


def _compile(hint: object) -> tuple[_Check, str]:
    """A check for ``hint`` and how to name it in an error."""
    if hint is Any or isinstance(hint, TypeVar):
        return (lambda v: True), "anything"
    if hint is None or hint is type(None):
        return (lambda v: v is None), "None"
    if hint is bool:
        return (lambda v: isinstance(v, bool)), "a bool"
    if hint is int:
        return _is_int, "an int"
    if hint is float:
        return _is_number, "a number"
    if hint is str:
        return (lambda v: isinstance(v, str)), "a str"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        base, base_what = _compile(args[0])
        ranges = [a for a in args[1:] if isinstance(a, Constraint)]
        if not ranges:
            return base, base_what
        what = f"{base_what}, {' and '.join(r.what for r in ranges)}"
        return (lambda v: base(v) and all(r.test(v) for r in ranges)), what
    if origin is typing.Union or origin is types.UnionType:
        parts = [_compile(a) for a in args]
        what = " or ".join(d for _, d in parts)
        # Plain classes in one isinstance call (most options are `X | None`).
        plain = tuple(type(None) if a is None else a for a in args if _plain_class(a))
        checks = [c for a, (c, _) in zip(args, parts) if not _plain_class(a)]
        if not checks:
            return (lambda v: isinstance(v, plain)), what
        return (lambda v: isinstance(v, plain) or any(c(v) for c in checks)), what
    if origin is typing.Literal:
        values = args
        return (lambda v: v in values), " or ".join(repr(a) for a in args)
    if origin in (tuple, list, collections.abc.Sequence) and (origin is not tuple or (len(args) == 2 and args[1] is ...)):
        item, what = _compile(args[0]) if args else ((lambda v: True), "anything")
        return (lambda v: isinstance(v, (tuple, list)) and all(item(x) for x in v)), f"a list of {_bare(what)}"
    if origin in (dict, collections.abc.Mapping):
        key, key_what = _compile(args[0]) if args else ((lambda v: True), "anything")
        value, value_what = _compile(args[1]) if args else ((lambda v: True), "anything")
        return (
            (lambda v: isinstance(v, Mapping) and all(key(k) and value(x) for k, x in v.items())),
            f"a mapping of {_bare(key_what)} to {_bare(value_what)}",
        )
    if origin in (collections.abc.Iterable, collections.abc.Collection):
        # Items are checked where they are used (a generator is read once).
        _, what = _compile(args[0]) if args else ((lambda v: True), "anything")
        return (
            (lambda v: isinstance(v, origin) and not isinstance(v, (str, bytes, bytearray, memoryview, Mapping))),
            f"a list of {_bare(what)}",
        )
    if origin is collections.abc.Callable:
        return callable, "callable"
    cls = origin if origin is not None else hint
    if isinstance(cls, type):
        try:
            isinstance(None, cls)
        except TypeError:  # a protocol that is not runtime-checkable
            return (lambda v: True), cls.__name__
        return (lambda v: isinstance(v, cls)), f"a {cls.__name__}"
    return (lambda v: True), str(hint)


def _bare(what: str) -> str:
    """``a str`` → ``str``: a type's name inside another's (``a list of str``)."""
    return what.removeprefix("a ").removeprefix("an ")


def _why(value: object, what: str) -> str:
    """What to try, for the usual slips: a string where a list is expected, a non-text header."""
    if isinstance(value, (str, bytes)) and "a list of" in what:
        return f": wrap it in a list ([{value!r:.60}])"
    if isinstance(value, Mapping) and "a mapping of" in what:
        for k, x in value.items():
            if not isinstance(k, str):
                return f": the key {shown(k)} is not a str"
            if "to str" in what and not isinstance(x, str):
                return f": the value of `{k[:60]}` is {shown(x)}; write it as text (str({x!r:.30}))"
    if isinstance(value, float) and math.isnan(value):
        return ": NaN is not a number here"
    return ""


SECRET_KEYS: frozenset[str] = frozenset({"password", "token", "pass", "fileserver_token", "fileserverToken"})
"""Options and arguments that hold a secret: a value of the wrong type is named by its type
only (``not list``), never shown (the names of every runtime's, for one rule)."""


def check_value(call: str, key: str, value: object, check: _Check, what: str, kind: str = "option") -> None:
    """Raises ``INVALID_ARGUMENT`` naming ``call``, the ``kind`` (option or argument) ``key``,
    what it must be and what was given (its type only for a secret), when ``value`` fails
    ``check``."""
    if not check(value):
        given = type(value).__name__ if key in SECRET_KEYS else f"{shown(value)}{_why(value, what)}"
        raise NatsBridgeError(ERROR_BAD_OPTION, f"{call}: {kind} `{key}` must be {what}, not {given}")


class _Spec:
    """Per call: the known keyword names and, on first use, the checks of every parameter."""

    def __init__(self, call: str, target: Any, names: list[str], positional: list[str],
                 forwards: Collection[str] = (), forwards_from: Any = None, keyword_only: Collection[str] = (),
                 max_positional: int | None = None, required: Collection[str] = ()) -> None:
        self.call = call
        self.target = target
        self.names = names
        self.positional = positional
        self.forwards = frozenset(forwards)
        self.forwards_from = forwards_from
        self.keyword_only = frozenset(keyword_only)
        self.max_positional = max_positional
        self.required = frozenset(required)
        self.known = sorted({*names, *forwards} - {"self"})
        self._checks: dict[str, tuple[_Check, str]] | None = None

    def checks(self) -> dict[str, tuple[_Check, str]]:
        if self._checks is None:
            hints = typing.get_type_hints(self.target, include_extras=True)
            checks = {n: _compile(hints[n]) if n in hints else ((lambda v: True), "anything")
                      for n in (*self.positional, *self.names)}
            if self.forwards_from is not None:  # forwarded values checked here, in this call's name
                forwarded = typing.get_type_hints(self.forwards_from, include_extras=True)
                for n in self.forwards:
                    if n in forwarded and n not in checks:
                        checks[n] = _compile(forwarded[n])
            self._checks = checks
        return self._checks

    def check(self, args: tuple[object, ...], kwargs: Mapping[str, object]) -> None:
        checks = self.checks()
        if self.max_positional is not None and len(args) > self.max_positional:
            skip = 1 if self.positional[:1] == ["self"] else 0
            raise NatsBridgeError(ERROR_BAD_OPTION, f"{self.call}: takes at most {self.max_positional - skip} "
                                  f"positional arguments, {len(args) - skip} were given; pass the others by keyword")
        for key, value in zip(self.positional, args):
            if key in kwargs:
                raise NatsBridgeError(ERROR_BAD_OPTION, f"{self.call}: argument `{key}` is given twice (by position "
                                      "and by keyword)")
            check, what = checks[key]
            if not check(value):  # the error's wording only when it fails (the hot path is one call)
                check_value(self.call, key, value, check, what, kind="argument")
        for key, value in kwargs.items():
            if key in checks:
                check, what = checks[key]
                if not check(value):
                    check_value(self.call, key, value, check, what,
                                kind="option" if key in self.keyword_only or key in self.forwards else "argument")
            elif key not in self.forwards:
                raise bad_option(self.call, key, self.known)
        for key in self.required:
            if key not in kwargs and key not in self.positional[: len(args)]:
                raise NatsBridgeError(ERROR_BAD_OPTION, f"{self.call}: argument `{key}` is missing")


def checked(call: str, forwards: Collection[str] = (), forwards_from: Any = None
            ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Checks the arguments of every call of the decorated function (a coroutine function
    stays one) against its parameters' annotations, and its keyword arguments against its
    keyword parameters and ``forwards`` (the keys its ``**kwargs`` passes on; their values are
    checked here against the annotations of ``forwards_from``, a dataclass, when given, else
    by the callee): unknown, missing, surplus or mistyped ones are ``ERROR_BAD_OPTION`` naming
    them and ``call``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        params = list(inspect.signature(fn).parameters.values())
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        names = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        keyword_only = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
        required = [p.name for p in params if p.default is p.empty and p.kind in (
            p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
        if forwards and not any(p.kind is p.VAR_KEYWORD for p in params):
            raise TypeError(f"{call} forwards keys but takes no **kwargs")  # a bug in this package
        spec = _Spec(call, fn, names, positional, forwards, forwards_from, keyword_only,
                     None if varargs else len(positional), required)

        if inspect.iscoroutinefunction(fn):
            coroutine_fn = typing.cast(Callable[..., Coroutine[Any, Any, Any]], fn)

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                spec.check(args, kwargs)
                return await coroutine_fn(*args, **kwargs)

            return typing.cast(Callable[P, R], run_async)

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            spec.check(args, kwargs)
            return fn(*args, **kwargs)

        return run

    return decorate


def checked_options(cls: C) -> C:
    """Checks every construction (and :func:`dataclasses.replace`) of the options dataclass
    ``cls``: unknown keys and values of the wrong type are ``ERROR_BAD_OPTION``; a list
    given for a tuple field is stored as a tuple."""
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    required = [f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    spec = _Spec(cls.__name__, cls, names, [], keyword_only=names, required=required)
    tuples: frozenset[str] | None = None
    init = cls.__init__  # type: ignore[misc]

    def tuple_fields() -> frozenset[str]:
        nonlocal tuples
        if tuples is None:
            hints = typing.get_type_hints(cls)
            tuples = frozenset(n for n in names if typing.get_origin(hints.get(n)) in (tuple, collections.abc.Sequence))
            tuples |= frozenset(n for n in names if typing.get_origin(hints.get(n)) in (typing.Union, types.UnionType)
                                and any(typing.get_origin(a) is tuple for a in typing.get_args(hints.get(n))))
        return tuples

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            if len(args) > len(names):
                raise NatsBridgeError(ERROR_BAD_OPTION, f"{cls.__name__}: takes at most {len(names)} options, "
                                      f"{len(args)} were given")
            twice = sorted(set(names[: len(args)]) & kwargs.keys())
            if twice:
                raise NatsBridgeError(ERROR_BAD_OPTION, f"{cls.__name__}: option `{twice[0]}` is given twice")
            kwargs = {**dict(zip(names, args)), **kwargs}
            args = ()
        if kwargs or spec.required:
            spec.check((), kwargs)
            for key in tuple_fields() & kwargs.keys():
                if isinstance(kwargs[key], list):
                    kwargs[key] = tuple(kwargs[key])
        init(self, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]
    _UNCHECKED_INITS[cls] = init
    return cls


_UNCHECKED_INITS: dict[type, Callable[..., None]] = {}


def unchecked(cls: type[T], **values: Any) -> T:
    """An instance of the :func:`checked_options` class ``cls`` from ``values`` a checked call
    already checked (the hot path pays for one check, not two)."""
    obj = cls.__new__(cls)
    _UNCHECKED_INITS[cls](obj, **values)
    return obj


def _check_log_filter() -> None:
    """``CorrelationFilter.filter`` checked too (``_log`` is imported before this module)."""
    from . import _log

    setattr(_log.CorrelationFilter, "filter", checked("CorrelationFilter.filter")(_log.CorrelationFilter.filter))


_check_log_filter()
