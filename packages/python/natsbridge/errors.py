"""One exception for the whole runtime: :class:`NatsBridgeError`, carrying a wire error code
(``natsbridge_types.ErrorCode``), the correlation id of the message concerned and the
payload's ``dataname``. Its cause is ``__cause__`` (``raise ... from``), never formatted into
the message; :meth:`NatsBridgeError.report` prints the chain, each cause once. An error a
responder reported in an ``error_response_v1`` is one too, with ``remote`` set; a responder's
application reports its own failures with :class:`ApplicationError` (code
``APPLICATION_ERROR`` and an ``application_code`` of its own).

How an error reads (``str(e)``), the same in every runtime:

- local: ``CODE: message (payload `name`)`` (the payload part only when known);
- remote: ``CODE from the responder: message (payload `name`)``;
- an application error: ``APPLICATION_ERROR UNKNOWN_COLUMN: message`` (local) or
  ``APPLICATION_ERROR UNKNOWN_COLUMN from the responder: message`` (remote).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from natsbridge_types import ERROR_CODE_VALUES, SCHEMA, ErrorBody, ErrorCode
from natsbridge_types.profile import ERROR_APPLICATION, ERROR_BAD_OPTION

__all__ = ["ApplicationError", "NatsBridgeError", "report"]

_APPLICATION_CODE = re.compile(SCHEMA["definitions"]["ApplicationCode"]["pattern"])
"""The schema's pattern of an application code (matched whole)."""


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:57] + '...' if len(text) > 60 else text}"


def _bad(message: str) -> NatsBridgeError:
    return NatsBridgeError(ERROR_BAD_OPTION, message)


class NatsBridgeError(Exception):
    """A failed send, receive, upload or download.

    ``code`` is one of the generated ``ErrorCode`` values; ``correlation_id`` and
    ``dataname`` are set when known (the innermost call that knew them wins). ``remote`` is
    true when the peer reported the error (an ``error_response_v1`` answered a request, see
    :func:`natsbridge.smartreply_error`) rather than this process running into it; such an
    error keeps the responder's code as sent, which may be one a newer schema added.
    """

    code: ErrorCode | str
    message: str
    correlation_id: str | None
    dataname: str | None
    remote: bool
    application_code: str | None
    """The responder application's own code (``UNKNOWN_COLUMN``) when ``code`` is
    ``APPLICATION_ERROR``; ``None`` otherwise."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        correlation_id: str | None = None,
        dataname: str | None = None,
    ) -> None:
        if not isinstance(code, str) or code not in ERROR_CODE_VALUES:
            raise _bad(f"NatsBridgeError: `code` must be one of the wire's error codes ({', '.join(ERROR_CODE_VALUES)}), "
                       f"not {_shown(code)}")
        for name, value in (("correlation_id", correlation_id), ("dataname", dataname)):
            if value is not None and not isinstance(value, str):
                raise _bad(f"NatsBridgeError: `{name}` must be a str or None, not {_shown(value)}")
        if not isinstance(message, str):
            raise _bad(f"NatsBridgeError: `message` must be a str, not {_shown(message)}")
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        self.dataname = dataname
        self.remote = False
        self.application_code = None

    @classmethod
    def from_error_body(cls, body: ErrorBody, correlation_id: str | None) -> NatsBridgeError:
        """The error a responder reported in an ``error_response_v1``'s ``error`` object (read
        and checked as a v1 reader reads it): its code (kept as sent), ``application_code``,
        message and ``details.dataname``, with ``correlation_id`` (the request's), ``remote``
        set. An ``APPLICATION_ERROR`` with its ``application_code`` is an
        :class:`ApplicationError`. A 1.0 responder's message (``CODE: message (payload `x`)``,
        its ``report()``) is read without the code and payload name the display adds again."""
        details = body.get("details") or {}
        name = details.get("dataname") if isinstance(details, dict) else None
        dataname = name if isinstance(name, str) else None
        code = body["code"]
        message = _without_old_decoration(body["message"], code, dataname)
        application_code = body.get("application_code")
        e: NatsBridgeError
        if code == ERROR_APPLICATION and isinstance(application_code, str):
            e = ApplicationError.__new__(ApplicationError)
            Exception.__init__(e, code, message)
            e.details = {k: v for k, v in details.items() if k not in ("correlation_id", "dataname")} \
                if isinstance(details, dict) else {}
        else:
            e = cls.__new__(cls)
            Exception.__init__(e, code, message)
        # Kept as sent, although this version may not know the code (a newer schema's).
        e.code = code
        e.message = message
        e.correlation_id = correlation_id
        e.dataname = dataname
        e.remote = True
        e.application_code = application_code if isinstance(application_code, str) else None
        return e

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickled without the constructor, which would refuse a remote code it does not know.
        return (_rebuild, (type(self), self.args), self.__dict__)

    def with_correlation_id(self, correlation_id: str | None) -> NatsBridgeError:
        """Sets the correlation id unless one is already set; returns ``self``."""
        if self.correlation_id is None and isinstance(correlation_id, str):
            self.correlation_id = correlation_id
        return self

    def with_dataname(self, dataname: str | None) -> NatsBridgeError:
        """Sets the payload name unless one is already set; returns ``self``."""
        if self.dataname is None and isinstance(dataname, str):
            self.dataname = dataname
        return self

    def __str__(self) -> str:
        """``CODE: message (payload `x`)``; remote: ``CODE from the responder: message ...``;
        an application error names its application code after the code (see the module)."""
        code = f"{self.code} {self.application_code}" if self.application_code else f"{self.code}"
        text = f"{code}{' from the responder' if self.remote else ''}: {self.message}"
        if self.dataname is not None:
            text += f" (payload `{self.dataname}`)"
        return text

    def __repr__(self) -> str:
        application = f", application_code={self.application_code!r}" if self.application_code else ""
        return (
            f"{type(self).__name__}(code={self.code!r}{application}, message={self.message!r}, "
            f"correlation_id={self.correlation_id!r}, dataname={self.dataname!r}"
            + (", remote=True)" if self.remote else ")")
        )

    def report(self) -> str:
        """This error and each cause in its chain: ``CODE: message (payload `x`): cause: ...``."""
        return report(self)

    def wire_message(self) -> str:
        """The ``message`` an ``error_response_v1`` carries for this error: its own message and
        each cause (``message: cause: cause``), without the code or the payload name (the
        requester's display adds them from the response's fields)."""
        return ": ".join([self.message or type(self).__name__, *_causes(self)])

    def to_error_body(self) -> ErrorBody:
        """The error as the wire's ``error`` object ``{code, application_code?, message,
        details}`` (:meth:`wire_message`; ``details`` with ``correlation_id`` and ``dataname``
        when known)."""
        details: dict[str, Any] = {}
        if self.correlation_id is not None:
            details["correlation_id"] = self.correlation_id
        if self.dataname is not None:
            details["dataname"] = self.dataname
        if self.application_code is not None:
            return {"code": self.code, "application_code": self.application_code, "message": self.wire_message(),
                    "details": details}
        return {"code": self.code, "message": self.wire_message(), "details": details}


class ApplicationError(NatsBridgeError):
    """A failure a responder's application reports in its own words: ``application_code``
    (e.g. ``UNKNOWN_COLUMN``: a letter, then up to 63 letters, digits, ``_``, ``.``, ``:`` or
    ``-``), a message, and optional ``details`` (JSON values, sent in the error response's
    ``details``). Its ``code`` is ``APPLICATION_ERROR``. Raised in a :func:`natsbridge.serve`
    handler (or given to :func:`natsbridge.smartreply_error`), it reaches the requester, whose
    :func:`natsbridge.smartrequest` raises it again as an ``ApplicationError`` with ``remote``
    set. An application code outside the pattern is ``INVALID_ARGUMENT``."""

    details: dict[str, Any]

    def __init__(
        self,
        application_code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        dataname: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        if not isinstance(application_code, str) or _APPLICATION_CODE.fullmatch(application_code) is None:
            raise _bad(f"ApplicationError: the application code {_shown(application_code)} does not match "
                       f"{_APPLICATION_CODE.pattern} (a letter, then up to 63 letters, digits, `_`, `.`, `:` or `-`, "
                       "e.g. `UNKNOWN_COLUMN`)")
        if details is not None and not (isinstance(details, Mapping) and all(isinstance(k, str) for k in details)):
            raise _bad(f"ApplicationError: `details` must be a mapping of str to JSON values, not {_shown(details)}")
        super().__init__(ERROR_APPLICATION, message, correlation_id=correlation_id, dataname=dataname)
        self.application_code = application_code
        self.details = dict(details or {})

    def to_error_body(self) -> ErrorBody:
        body = super().to_error_body()
        body["details"] = {**self.details, **body.get("details", {})}
        return body


def _without_old_decoration(message: str, code: str, dataname: str | None) -> str:
    """A 1.0 responder's wire message (its ``report()``: ``CODE: message (payload `x`)``)
    without the ``CODE: `` prefix and the trailing payload name, which the display adds."""
    prefix = f"{code}: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    if dataname is not None:
        suffix = f" (payload `{dataname}`)"
        if message.endswith(suffix):
            message = message[: -len(suffix)]
    return message


def _rebuild(cls: type[NatsBridgeError], args: tuple[Any, ...]) -> NatsBridgeError:
    """A pickled :class:`NatsBridgeError` back (its attributes follow as its state)."""
    return cls.__new__(cls, *args)


def _cause(error: BaseException) -> BaseException | None:
    """What Python's traceback shows as the cause: ``__cause__``, else ``__context__`` unless
    suppressed (``raise ... from None``)."""
    if error.__cause__ is not None:
        return error.__cause__
    return None if error.__suppress_context__ else error.__context__


def _causes(error: BaseException) -> list[str]:
    """Each cause of ``error`` (see :func:`report`) as text, once each."""
    parts = []
    seen = {id(error)}
    cause = _cause(error)
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        parts.append(_text(cause))
        cause = _cause(cause)
    return parts


def _text(error: BaseException) -> str:
    try:
        return str(error) or type(error).__name__
    except Exception:  # a __str__ that raises
        return type(error).__name__


def report(error: BaseException) -> str:
    """``error`` followed by each cause (``__cause__``, or ``__context__`` unless ``raise ...
    from None`` suppressed it), each printed once."""
    if not isinstance(error, BaseException):
        raise _bad(f"report: `error` must be an exception, not {_shown(error)}")
    return ": ".join([_text(error), *_causes(error)])


# Checked like every public call (``options`` needs the classes above, so it comes last).
from .options import checked  # noqa: E402

setattr(NatsBridgeError, "__init__", checked("NatsBridgeError")(NatsBridgeError.__init__))
setattr(ApplicationError, "__init__", checked("ApplicationError")(ApplicationError.__init__))
report = checked("report")(report)
