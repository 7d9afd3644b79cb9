"""The client's errors: one class hierarchy for every way a load can fail.

This module owns ``LoadError`` and its subclasses, ``RowError`` (one bad
value or row of a load), and the translation of a gRPC error into them: the
status code, the message, and the ``google.rpc.ErrorInfo`` /
``google.rpc.BadRequest`` / ``loadsvc.v1.RowErrors`` details loadsvc sends
in the ``grpc-status-details-bin`` trailer (decoded with the mirrors in
``loadsvc.rpc``, since Debian 12 ships neither grpcio-status nor googleapis'
Python protos, and with the stubs in ``loadsvc.v1``).

Which class an error is, first match wins:

====================  ===================================================
``Unauthenticated``   ``UNAUTHENTICATED``: no token, or a token the service
                      does not know
``PermissionDenied``  ``PERMISSION_DENIED``: the token may not write the
                      table, or PostgreSQL refused the privilege (42501)
``ResourceExhausted`` ``RESOURCE_EXHAUSTED``: a service limit (rows,
                      message size) or PostgreSQL's 53xxx
``ConnectionFailed``  reason ``DATABASE_CONNECTION_FAILED``: no database
                      session could be had, after the retries
``LoadFailed``        reason ``LOAD_FAILED``: PostgreSQL refused the load
                      and rolled it back
``InvalidRequest``    ``INVALID_ARGUMENT`` otherwise: the request itself is
                      wrong, found before any write
``LoadError``         anything else (the service unreachable, a deadline,
                      a cancel, an internal error)
====================  ===================================================

Every error carries every attribute; those its status does not give are
``None``. ``code`` is the status code's name, a plain string
(``"INVALID_ARGUMENT"``); ``grpc_code`` is the same code as gRPC's
``grpc.StatusCode``, for the rare caller that wants the transport's type.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

import grpc

from loadsvc.rpc import status_pb2
from loadsvc.v1 import loadsvc_pb2 as pb

__all__ = [
    "ConnectionFailed",
    "InvalidRequest",
    "LoadError",
    "LoadFailed",
    "PermissionDenied",
    "ResourceExhausted",
    "RowError",
    "Unauthenticated",
    "from_rpc_error",
    "labelled",
    "row_errors",
]

_DETAILS_KEY = "grpc-status-details-bin"
_ERROR_INFO = "google.rpc.ErrorInfo"
_BAD_REQUEST = "google.rpc.BadRequest"
_ROW_ERRORS = "loadsvc.v1.RowErrors"
_ROW = re.compile(r"^rows\[(\d+)\]")


@dataclass(frozen=True)
class RowError:
    """One bad value or row of a load, with PostgreSQL's own verdict.

    ``row`` is the row's index in the load (0-based: the position in the
    rows given, counted across every message of a stream or writer);
    ``label`` is the DataFrame's index label of that row when a DataFrame
    was loaded, else ``None``. ``column`` is the column of the bad value
    (``None`` for a verdict on the whole row, such as a CHECK), ``value``
    the value as sent (at most 64 bytes), ``sqlstate`` and ``message``
    PostgreSQL's, ``constraint`` the constraint violated, if any.
    """

    row: int
    column: str | None
    value: str
    sqlstate: str
    message: str
    constraint: str | None
    label: Hashable | None = None

    @classmethod
    def from_proto(cls, e: pb.RowError) -> RowError:
        """The RowError of a loadsvc.v1.RowError."""
        return cls(
            row=e.row,
            column=e.column or None,
            value=e.value,
            sqlstate=e.sqlstate,
            message=e.message,
            constraint=e.constraint or None,
        )


def row_errors(errors: Iterable[pb.RowError], label: Callable[[int], Hashable | None] | None) -> tuple[RowError, ...]:
    """The RowErrors of errors, each labelled with label(row) when given."""
    return labelled(tuple(RowError.from_proto(e) for e in errors), label)


def labelled(errors: tuple[RowError, ...], label: Callable[[int], Hashable | None] | None) -> tuple[RowError, ...]:
    """errors, each labelled with label(row) when given."""
    if label is None or not errors:
        return errors
    return tuple(dataclasses.replace(e, label=label(e.row)) for e in errors)


class LoadError(Exception):
    """A load that failed, or was refused before it ran.

    ``code`` is the status code's name (``"ALREADY_EXISTS"``,
    ``"UNAVAILABLE"``; ``grpc_code`` is it as a ``grpc.StatusCode``) and
    ``message`` the service's message (a person can act on it). ``reason`` is the ``ErrorInfo`` reason
    (``LOAD_FAILED``, ``DATABASE_CONNECTION_FAILED``, ``UNKNOWN_COLUMN``,
    ...); ``sqlstate``, ``constraint``, ``table``, ``column`` and
    ``detail`` are what PostgreSQL said; ``field`` is the ``BadRequest``
    field (``"rows[3].plan_code"``) and ``row`` its row index.
    ``attempts`` is how many times the client sent the load, and ``note``
    says why it stopped retrying (``None`` when it did not retry).
    ``row_errors`` are the bad rows of a load refused for its rows, in row
    order (``RowError``; empty for any other error), and
    ``row_errors_truncated`` says the service found more than it lists.
    """

    code: str
    message: str
    reason: str | None
    metadata: Mapping[str, str]
    sqlstate: str | None
    constraint: str | None
    table: str | None
    column: str | None
    detail: str | None
    field: str | None
    row: int | None
    attempts: int
    note: str | None
    row_errors: tuple[RowError, ...]
    row_errors_truncated: bool

    def __init__(
        self,
        code: str,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        field: str | None = None,
        row_errors: tuple[RowError, ...] = (),
        row_errors_truncated: bool = False,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.reason = reason or None
        self.metadata = dict(metadata or {})
        self.sqlstate = self.metadata.get("sqlstate")
        self.constraint = self.metadata.get("constraint")
        self.table = self.metadata.get("table")
        self.column = self.metadata.get("column")
        self.detail = self.metadata.get("detail")
        self.field = field or None
        m = _ROW.match(field or "")
        self.row = int(m.group(1)) if m else None
        self.attempts = 1
        self.note = None
        self.row_errors = row_errors
        self.row_errors_truncated = row_errors_truncated

    def __str__(self) -> str:
        s = f"{self.code}: {self.message}"
        return f"{s} ({self.note})" if self.note else s

    @property
    def grpc_code(self) -> grpc.StatusCode:
        """The status code as gRPC's ``grpc.StatusCode``."""
        return grpc.StatusCode[self.code]

    @property
    def retryable(self) -> bool:
        """Whether the same request may simply be sent again: UNAVAILABLE
        (the service or its database was not reached) or ABORTED (rolled
        back: a deadlock, a serialization failure, a connection lost
        mid-load)."""
        return self.code in _RETRYABLE


class ConnectionFailed(LoadError):
    """No database session could be had (refused, unreachable, bad password,
    pool wait ran out), after the client's retries. Nothing was written; the
    same load may be sent again later."""


class LoadFailed(LoadError):
    """PostgreSQL refused the load (a constraint, a bad value, a missing
    table...) and it was rolled back: nothing was written. ``sqlstate`` and
    the other PostgreSQL fields say why; sending it again fails again. A
    load refused for its rows lists every bad row in ``row_errors``."""


class InvalidRequest(LoadError):
    """The request itself is wrong (a mode, a missing key, a bad identifier,
    a value the client cannot send), found before anything was written.
    ``field`` and ``row`` name what is wrong; never retried."""


class PermissionDenied(LoadError):
    """The caller may not write this table."""


class Unauthenticated(LoadError):
    """The service wants a bearer token this client did not give or that it
    does not know."""


class ResourceExhausted(LoadError):
    """A limit of the service (rows per load, message size) or of
    PostgreSQL (53xxx: disk, memory, connections) was reached."""


_RETRYABLE = ("UNAVAILABLE", "ABORTED")

_BY_CODE: dict[str, type[LoadError]] = {
    "UNAUTHENTICATED": Unauthenticated,
    "PERMISSION_DENIED": PermissionDenied,
    "RESOURCE_EXHAUSTED": ResourceExhausted,
}

_BY_REASON: dict[str, type[LoadError]] = {
    "DATABASE_CONNECTION_FAILED": ConnectionFailed,
    "LOAD_FAILED": LoadFailed,
}


def error_class(code: str, reason: str | None) -> type[LoadError]:
    """The class of an error with code (a status code's name) and ErrorInfo
    reason."""
    cls = _BY_CODE.get(code) or _BY_REASON.get(reason or "")
    if cls is not None:
        return cls
    if code == "INVALID_ARGUMENT":
        return InvalidRequest
    return LoadError


def from_rpc_error(err: grpc.RpcError) -> LoadError:
    """The LoadError of a failed call (a grpc.RpcError that is a grpc.Call)."""
    status = err.code()
    code: str = status.name if isinstance(status, grpc.StatusCode) else "UNKNOWN"
    message: str = err.details() or ""
    reason: str | None = None
    metadata: dict[str, str] = {}
    field: str | None = None
    bad_rows: tuple[RowError, ...] = ()
    truncated = False
    for key, value in err.trailing_metadata() or ():
        if key != _DETAILS_KEY:
            continue
        st = status_pb2.Status.FromString(value)
        for any_ in st.details:
            name = any_.type_url.rpartition("/")[2]
            if name == _ERROR_INFO and reason is None:
                info = status_pb2.ErrorInfo.FromString(any_.value)
                reason, metadata = info.reason, dict(info.metadata)
            elif name == _BAD_REQUEST and field is None:
                bad = status_pb2.BadRequest.FromString(any_.value)
                if bad.field_violations:
                    field = bad.field_violations[0].field
            elif name == _ROW_ERRORS and not bad_rows:
                rows = pb.RowErrors.FromString(any_.value)
                bad_rows, truncated = row_errors(rows.errors, None), rows.truncated
    cls = error_class(code, reason)
    return cls(
        code,
        message,
        reason=reason,
        metadata=metadata,
        field=field,
        row_errors=bad_rows,
        row_errors_truncated=truncated,
    )
