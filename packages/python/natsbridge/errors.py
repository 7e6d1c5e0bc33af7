"""One exception for the whole runtime: :class:`NatsBridgeError`, carrying a wire error code
(``natsbridge_types.ErrorCode``), the correlation id of the message concerned and the
payload's ``dataname``. Its cause is ``__cause__`` (``raise ... from``), never formatted into
the message; :meth:`NatsBridgeError.report` prints the chain, each cause once.
"""

from __future__ import annotations

from typing import Any

from natsbridge_types import ERROR_CODE_VALUES, ErrorBody, ErrorCode

__all__ = ["NatsBridgeError", "report"]


class NatsBridgeError(Exception):
    """A failed send, receive, upload or download.

    ``code`` is one of the generated ``ErrorCode`` values; ``correlation_id`` and
    ``dataname`` are set when known (the innermost call that knew them wins).
    """

    code: ErrorCode
    message: str
    correlation_id: str | None
    dataname: str | None

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
        text = f"{self.code}: {self.message}"
        if self.dataname is not None:
            text += f" (payload `{self.dataname}`)"
        return text

    def __repr__(self) -> str:
        return (
            f"NatsBridgeError(code={self.code!r}, message={self.message!r}, "
            f"correlation_id={self.correlation_id!r}, dataname={self.dataname!r})"
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


def report(error: BaseException) -> str:
    """``error`` followed by each cause (``__cause__`` or ``__context__``), each printed once."""
    parts = [str(error) or type(error).__name__]
    seen = {id(error)}
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        parts.append(str(cause) or type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    return ": ".join(parts)
