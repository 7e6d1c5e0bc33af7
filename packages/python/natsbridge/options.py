"""Option checking for the public calls (schema/README.md, writer rule 12): an option key a
call does not know, or an option value of the wrong type, is a :class:`NatsBridgeError`
``SERIALIZATION_ERROR`` (profile ``ERROR_BAD_OPTION``) naming it and, for a misspelling,
the closest known key, never a raw ``TypeError`` or a silent default.

- :func:`checked` wraps a function or coroutine function: its arguments are checked against
  its signature's parameters and their annotations (and the keys it forwards to another call).
- :func:`checked_options` does the same for an options dataclass (positional fields too);
  a list given for a ``tuple[str, ...]`` field is kept as a tuple.

Types are checked from the annotations, shallowly but for what a caller gets wrong:
``bool`` is not an ``int``, a ``str`` is not a list of ``str``, a mapping's keys are ``str``.
Annotations a value cannot be checked against (protocols, type variables) accept anything.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import inspect
import types
import typing
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Any, ParamSpec, TypeVar

from natsbridge_types.profile import ERROR_BAD_OPTION

from .errors import NatsBridgeError

__all__ = ["bad_option", "check_value", "checked", "checked_options", "closest", "unchecked"]

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
    """The error for the unknown option ``key`` of ``call``."""
    guess = closest(key, known)
    hint = f" (did you mean `{guess}`?)" if guess is not None else ""
    return NatsBridgeError(ERROR_BAD_OPTION, f"{call}: unknown option `{key[:100]}`{hint}")


# --- checking a value against an annotation ---------------------------------------------


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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


def check_value(call: str, key: str, value: object, check: _Check, what: str) -> None:
    """Raises when ``value`` fails ``check``."""
    if not check(value):
        raise NatsBridgeError(
            ERROR_BAD_OPTION, f"{call}: option `{key}` must be {what}, not {type(value).__name__} {value!r:.60}"
        )


class _Spec:
    """Per call: the known keyword names and, on first use, the checks of every parameter."""

    def __init__(self, call: str, target: Any, names: list[str], positional: list[str],
                 forwards: Collection[str] = ()) -> None:
        self.call = call
        self.target = target
        self.names = names
        self.positional = positional
        self.forwards = frozenset(forwards)
        self.known = sorted({*names, *forwards})
        self._checks: dict[str, tuple[_Check, str]] | None = None

    def checks(self) -> dict[str, tuple[_Check, str]]:
        if self._checks is None:
            hints = typing.get_type_hints(self.target)
            self._checks = {n: _compile(hints[n]) if n in hints else ((lambda v: True), "anything")
                            for n in (*self.positional, *self.names)}
        return self._checks

    def check(self, args: tuple[object, ...], kwargs: Mapping[str, object]) -> None:
        checks = self.checks()
        for key, value in zip(self.positional, args):
            check_value(self.call, key, value, *checks[key])
        for key, value in kwargs.items():
            if key in checks:
                check_value(self.call, key, value, *checks[key])
            elif key not in self.forwards:  # forwarded keys' values are checked where they are used
                raise bad_option(self.call, key, self.known)


def checked(call: str, forwards: Collection[str] = ()) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Checks the arguments of every call of the decorated function (a coroutine function
    stays one) against its parameters' annotations, and its keyword arguments against its
    keyword parameters and ``forwards`` (the keys its ``**kwargs`` passes on, whose values
    the callee checks): unknown or mistyped ones are ``ERROR_BAD_OPTION`` naming them."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        params = list(inspect.signature(fn).parameters.values())
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        names = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if forwards and not any(p.kind is p.VAR_KEYWORD for p in params):
            raise TypeError(f"{call} forwards keys but takes no **kwargs")  # a bug in this package
        spec = _Spec(call, fn, names, positional, forwards)

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
    spec = _Spec(cls.__name__, cls, names, [])
    tuples: frozenset[str] | None = None
    init = cls.__init__  # type: ignore[misc]

    def tuple_fields() -> frozenset[str]:
        nonlocal tuples
        if tuples is None:
            hints = typing.get_type_hints(cls)
            tuples = frozenset(n for n in names if typing.get_origin(hints.get(n)) is tuple)
        return tuples

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            if len(args) > len(names):
                raise NatsBridgeError(ERROR_BAD_OPTION, f"{cls.__name__}: at most {len(names)} options, got {len(args)}")
            twice = sorted(set(names[: len(args)]) & kwargs.keys())
            if twice:
                raise NatsBridgeError(ERROR_BAD_OPTION, f"{cls.__name__}: option `{twice[0]}` given twice")
            kwargs = {**dict(zip(names, args)), **kwargs}
            args = ()
        if kwargs:
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
