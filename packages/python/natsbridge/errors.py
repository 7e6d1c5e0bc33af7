"""One exception for the whole runtime: :class:`NatsBridgeError`, carrying a wire error code
(``natsbridge_types.ErrorCode``), the correlation id of the message concerned and the
payload's ``dataname``. Its cause is ``__cause__`` (``raise ... from``), never formatted into
the message; :meth:`NatsBridgeError.report` prints the chain, each cause once. An error a
responder reported in an ``error_response_v1`` is one too, with ``remote`` set.
"""

from __future__ import annotations

from typing import Any

from natsbridge_types import ERROR_CODE_VALUES, ErrorBody, ErrorCode
from natsbridge_types.profile import ERROR_NOT_ENVELOPE

__all__ = ["NatsBridgeError", "report"]


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

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        correlation_id: str | None = None,
        dataname: str | None = None,
    ) -> None:
        if code not in ERROR_CODE_VALUES:  # a programming error in this package, not input
            raise AssertionError(f"unknown error code {code!r}")
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        self.dataname = dataname
        self.remote = False

    @classmethod
    def from_error_body(cls, body: ErrorBody, correlation_id: str | None) -> NatsBridgeError:
        """The error a responder reported in an ``error_response_v1``'s ``error`` object: its
        code (kept as sent), message and ``details.dataname``, with ``correlation_id`` (the
        request's), ``remote`` set."""
        name = (body.get("details") or {}).get("dataname")
        e = cls(ERROR_NOT_ENVELOPE, body["message"], correlation_id=correlation_id,
                dataname=name if isinstance(name, str) else None)
        # The constructor takes only codes this version knows (its own errors); the
        # responder's code is kept as sent.
        e.code = body["code"]
        e.args = (e.code, e.message)
        e.remote = True
        return e

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickled without the constructor, which would refuse a remote code it does not know.
        return (_rebuild, (type(self), self.args), self.__dict__)

    def with_correlation_id(self, correlation_id: str | None) -> NatsBridgeError:
        """Sets the correlation id unless one is already set; returns ``self``."""
        if self.correlation_id is None and correlation_id is not None:
            self.correlation_id = correlation_id
        return self

    def with_dataname(self, dataname: str | None) -> NatsBridgeError:
        """Sets the payload name unless one is already set; returns ``self``."""
        if self.dataname is None and dataname is not None:
            self.dataname = dataname
        return self

    def __str__(self) -> str:
        """``CODE: message (payload `x`)``; a remote error reads ``CODE: the responder answered: ...``."""
        text = f"{self.code}: {'the responder answered: ' if self.remote else ''}{self.message}"
        if self.dataname is not None:
            text += f" (payload `{self.dataname}`)"
        return text

    def __repr__(self) -> str:
        return (
            f"NatsBridgeError(code={self.code!r}, message={self.message!r}, "
            f"correlation_id={self.correlation_id!r}, dataname={self.dataname!r}"
            + (", remote=True)" if self.remote else ")")
        )

    def report(self) -> str:
        """This error and each cause in its chain: ``CODE: message (payload `x`): cause: ...``."""
        return report(self)

    def to_error_body(self) -> ErrorBody:
        """The error as the wire's ``error`` object ``{code, message, details}``."""
        details: dict[str, Any] = {}
        if self.correlation_id is not None:
            details["correlation_id"] = self.correlation_id
        if self.dataname is not None:
            details["dataname"] = self.dataname
        return {"code": self.code, "message": self.report(), "details": details}


def _rebuild(cls: type[NatsBridgeError], args: tuple[Any, ...]) -> NatsBridgeError:
    """A pickled :class:`NatsBridgeError` back (its attributes follow as its state)."""
    return cls.__new__(cls, *args)


def _cause(error: BaseException) -> BaseException | None:
    """What Python's traceback shows as the cause: ``__cause__``, else ``__context__`` unless
    suppressed (``raise ... from None``)."""
    if error.__cause__ is not None:
        return error.__cause__
    return None if error.__suppress_context__ else error.__context__


def report(error: BaseException) -> str:
    """``error`` followed by each cause (``__cause__``, or ``__context__`` unless ``raise ...
    from None`` suppressed it), each printed once."""
    parts = [str(error) or type(error).__name__]
    seen = {id(error)}
    cause = _cause(error)
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        parts.append(str(cause) or type(cause).__name__)
        cause = _cause(cause)
    return ": ".join(parts)
