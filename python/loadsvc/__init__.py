"""loadsvc: the Python client of loadsvc, for the pipeline's workers.

Load rows into PostgreSQL through loadsvc with one call::

    import loadsvc

    with loadsvc.Client("loadsvc:50051", token=TOKEN) as client:
        result = client.load("规模明细", rows, "delete_insert",
                             pk=["月度", "业务类型", "计划类型"], schema="business")
        print(result["deleted"], result["inserted"])

``rows`` is any iterable of dicts (a generator too) or a pandas DataFrame;
large and unsized inputs stream in bounded messages. ``Client.writer`` is
the streaming context manager. Every error is a ``LoadError``: the
subclasses ``ConnectionFailed`` (the database could not be reached, after
retries) and ``LoadFailed`` (PostgreSQL refused the load, rolled back) tell
a connect failure from a load failure; ``InvalidRequest``,
``PermissionDenied``, ``Unauthenticated`` and ``ResourceExhausted`` are the
others. ``LoadError.code`` is the status code's name, a plain string
(``"ALREADY_EXISTS"``).

``load()`` and ``writer()`` share one ``LoadOptions``: pass one as
``options=``, or its fields as keyword arguments. A load refused for its
rows raises ``LoadFailed`` with every bad row in ``row_errors``
(``RowError``: row, column, value, sqlstate, message, constraint, and the
DataFrame index label); with ``max_rejected_rows`` the bad rows are left
out and ``result.rejected`` lists them. ``Client.history`` lists the
recorded loads. A token sent without TLS
to an address that is not loopback raises an ``InsecureTokenWarning``.

The package owns the public names below; ``loadsvc.v1`` holds the generated
stubs of ``proto/loadsvc/v1/loadsvc.proto`` and ``loadsvc.rpc`` the mirrors
of the google.rpc status details (both generated, see
scripts/generate-python.sh).
"""

from loadsvc._client import DEFAULT_BATCH_ROWS, Client, Writer, new_request_id
from loadsvc._errors import (
    ConnectionFailed,
    InvalidRequest,
    LoadError,
    LoadFailed,
    PermissionDenied,
    ResourceExhausted,
    RowError,
    Unauthenticated,
)
from loadsvc._options import DEFAULT_CHUNK_SIZE, LoadOptions
from loadsvc._result import LoadResult, Statement
from loadsvc._session import Appended, Session, SessionStatus
from loadsvc._target import InsecureTokenWarning
from loadsvc._values import pg_text

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_CHUNK_SIZE",
    "Appended",
    "Client",
    "ConnectionFailed",
    "InsecureTokenWarning",
    "InvalidRequest",
    "LoadError",
    "LoadFailed",
    "LoadOptions",
    "LoadResult",
    "PermissionDenied",
    "ResourceExhausted",
    "RowError",
    "Session",
    "SessionStatus",
    "Statement",
    "Unauthenticated",
    "Writer",
    "new_request_id",
    "pg_text",
]
