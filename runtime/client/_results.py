"""What every client call returns: a :class:`Result` holding data or a :class:`ClientError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

__all__ = ["ClientError", "ErrorType", "PerstackClientError", "Result"]

T = TypeVar("T")

#: The kinds of failure a call reports:
#:
#: * ``http``: the server answered with a non-2xx status (``status``, ``code``, ``details``);
#: * ``network``: no answer (connection refused or reset, DNS, a stream dropped for good);
#: * ``timeout``: the server did not answer in time;
#: * ``validation``: the server's answer broke the protocol's schema;
#: * ``abort``: the call was aborted (its ``signal`` was set) before it finished.
ErrorType = Literal["http", "network", "timeout", "validation", "abort"]


@dataclass(frozen=True, slots=True)
class ClientError:
    """Why a call failed.

    Attributes:
        type: one of :data:`ErrorType`.
        message: a human-readable explanation (never contains the API key).
        status: the HTTP status, for ``http`` errors (``None`` otherwise).
        code: the server's own error type (``error.type`` of its body), for ``http`` errors.
        details: the server's ``error.details`` for ``http`` errors; for ``validation``
            errors, where the answer broke the schema (e.g. ``{"field": "data.job.id"}``).
    """

    type: ErrorType
    message: str
    status: int | None = None
    code: str | None = None
    details: Any = None

    def __str__(self) -> str:
        status = f" {self.status}" if self.status is not None else ""
        return f"{self.type}{status}: {self.message}"


class PerstackClientError(Exception):
    """Raised by :meth:`Result.unwrap` (and by streams opened with ``raise_on_error``)."""

    def __init__(self, error: ClientError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class Result(Generic[T]):
    """The outcome of a call: ``ok`` with ``data``, or not ``ok`` with ``error``.

    Calls never raise for the failures listed in :data:`ErrorType`; they return a result
    whose ``ok`` is false. ``unwrap()`` turns that into an exception when preferred.
    """

    data: T | None = None
    error: ClientError | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded (``data`` is set, ``error`` is ``None``)."""
        return self.error is None

    @classmethod
    def success(cls, data: T) -> Result[T]:
        """A successful result."""
        return cls(data=data)

    @classmethod
    def failure(cls, error: ClientError) -> Result[T]:
        """A failed result."""
        return cls(error=error)

    def unwrap(self) -> T:
        """The data, or raise :class:`PerstackClientError` for a failed result."""
        if self.error is not None:
            raise PerstackClientError(self.error)
        return self.data  # type: ignore[return-value]

    def __repr__(self) -> str:
        if self.error is not None:
            return f"Result(ok=False, error={self.error!r})"
        return f"Result(ok=True, data={self.data!r})"
