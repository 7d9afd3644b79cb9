"""Load sessions: many writers, one atomic commit, resumable by offsets.

This module owns ``Session`` (``Client.session`` begins one, ``Client.attach``
reaches one begun elsewhere) and its bookkeeping: each writer's next offset,
the batches an ``append`` sends at their offsets (retried on ``UNAVAILABLE``
and ``ABORTED`` at the same offset, which the service stores exactly once),
and where a writer resumes after a failure (``GetLoadSession``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Union

from loadsvc._client import Client, _batches, _check_rows, _encode
from loadsvc._errors import LoadError
from loadsvc._frame import Frame, is_frame
from loadsvc._result import LoadResult
from loadsvc._values import Columns
from loadsvc.v1 import loadsvc_pb2 as pb

if TYPE_CHECKING:
    import pandas

__all__ = ["Appended", "Session", "SessionStatus", "attach", "begin"]

SessionRows = Union[Iterable[Mapping[str, Any]], "pandas.DataFrame"]
#: Encodes one message's rows into the TypedRows given.
_Fill = Callable[[pb.TypedRows], object]


class Appended(NamedTuple):
    """What one ``append`` did: the writer, its next offset, and the rows
    this call stored (fewer than it sent when some batches were stored
    already: a retry)."""

    writer: str
    next_offset: int
    rows: int


class SessionStatus(NamedTuple):
    """A session as the service has it (``Session.status``)."""

    session_id: str
    state: str  # "open" or "committed"
    rows: int  # rows stored, all writers together
    offsets: dict[str, int]  # every writer's next offset
    expires_at: _dt.datetime  # aware, UTC
    result: LoadResult | None  # once committed


@dataclass
class _Writer:
    """One writer's place: its next offset, and its last append when that
    failed (the service may have stored some or all of its batches)."""

    lock: threading.Lock
    next: int = 0
    failed: tuple[int, int, bytes] | None = None  # offset, rows, digest


class Session:
    """A load session: rows appended by any number of writers (threads,
    processes, hosts), applied to the table by one ``commit`` in one
    transaction.

    Begun by ``Client.session`` it is a context manager that commits when
    the block ends cleanly (setting ``result``) and aborts when it raises
    or the commit fails, so that nothing of it is left::

        with client.session("nav", "append", ttl=3600) as s:
            s.append(rows, writer="part-1")
        print(s.result["inserted"])

    ``session_id`` names it to ``Client.attach`` in another process, which
    reads every writer's next offset back from the service. A writer is a
    name of the caller's choosing; the session counts each writer's rows,
    and ``append`` sends its batches at those offsets, so the service stores
    every batch exactly once however often it is sent. Safe to share
    between threads: writers append in parallel, one writer's appends run
    one at a time. Errors are ``LoadError`` subclasses.
    """

    result: LoadResult | None

    def __init__(self, client: Client, session: pb.LoadSession, *, owner: bool) -> None:
        self._client = client
        self._id = session.session_id
        self._owner = owner
        self._lock = threading.Lock()
        self._writers: dict[str, _Writer] = {}
        for name, offset in session.committed.items():
            self._writer(name).next = offset
        self._done = False
        self.result = None

    @property
    def session_id(self) -> str:
        """The session's id, for ``Client.attach``."""
        return self._id

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit (a clean exit) or abort (an exception, or a commit that
        failed) a session begun by ``Client.session``, unless ``commit`` or
        ``abort`` ran already; a session from ``attach`` is left as it is.
        An abort that fails is left to the session's expiry: the block's
        exception, or the commit's, is the one raised."""
        if not self._owner or self._done:
            return
        if exc_type is not None:
            self._abort_quietly()
            return
        try:
            self.commit()
        except LoadError:
            self._abort_quietly()
            raise

    def next_offset(self, writer: str = "") -> int:
        """The offset of ``writer``'s next batch: how many of its rows the
        service has stored, as far as this session knows (0 for a writer it
        has not seen). After ``attach``, the rows a restarted worker
        skips."""
        return self._writer(writer).next

    @property
    def offsets(self) -> dict[str, int]:
        """Every writer's next offset, as ``next_offset`` gives it."""
        with self._lock:
            return {name: w.next for name, w in self._writers.items()}

    def append(self, rows: SessionRows, writer: str = "") -> Appended:
        """Store ``rows`` (dicts, or a DataFrame whose index is not loaded)
        as ``writer``'s next rows, in messages of the client's
        ``batch_rows`` rows, each stored durably by the service in a
        transaction of its own, at its offset.

        A batch that fails with ``UNAVAILABLE`` or ``ABORTED`` is sent
        again at the same offset: a batch the service stored already is
        acknowledged without being stored twice. When ``append`` raises,
        the writer's offset stays where the call began (some of its batches
        may be stored): append the same rows again to finish them, exactly
        once. Append other rows instead and the session first asks the
        service (``GetLoadSession``) where the writer is, so that the
        failed rows count as far as they were stored and the new ones go
        after them. An iterator's rows are taken into a list first."""
        fills = _fills(rows, self._client._batch_rows)
        w = self._writer(writer)
        with w.lock:
            n = sum(size for size, _ in fills)
            digest = b""
            if w.failed is not None:
                digest = _digest(fills)
                self._settle(writer, w, n, digest)
            start = w.next
            try:
                stored = self._send(writer, start, fills)
            except LoadError:
                w.failed = (start, n, digest or _digest(fills))
                raise
            w.failed = None
            w.next = start + n
            return Appended(writer, w.next, stored)

    def commit(self) -> LoadResult:
        """Apply every writer's rows to the table in one transaction and
        return what the load did (also ``result``). Retried on
        ``UNAVAILABLE`` and ``ABORTED``: the service answers a commit it
        finished already with the same result, so the rows are applied
        once; calling ``commit`` again returns it too."""
        request = pb.CommitLoadRequest(session_id=self._id)
        resp: pb.LoadResponse = self._call("CommitLoad", request)
        self.result = LoadResult.from_response(resp)
        self._done = True
        return self.result

    def abort(self) -> None:
        """Drop the session and every row appended to it: nothing of it is
        written. Retried on ``UNAVAILABLE`` and ``ABORTED``; a retry that
        finds the session gone (an earlier attempt dropped it) succeeds."""
        request = pb.AbortLoadRequest(session_id=self._id)
        tried = [False]

        def attempt(timeout: float | None) -> None:
            try:
                self._once("AbortLoad", request, timeout)
            except LoadError as e:
                if tried[0] and e.code == "NOT_FOUND":
                    return
                tried[0] = True
                raise

        self._client._retry(attempt, lambda: True)
        self._done = True

    def status(self) -> SessionStatus:
        """The session as the service has it: its state, rows, every
        writer's next offset, its expiry and, once committed, its result.
        It changes none of this session's offsets."""
        return _status(get_session(self._client, self._id))

    # -- internals -------------------------------------------------------

    def _abort_quietly(self) -> None:
        try:
            self.abort()
        except LoadError:
            pass

    def _writer(self, name: str) -> _Writer:
        with self._lock:
            w = self._writers.get(name)
            if w is None:
                w = self._writers[name] = _Writer(threading.Lock())
            return w

    def _settle(self, writer: str, w: _Writer, n: int, digest: bytes) -> None:
        """After a failed append: the same rows again go at the same
        offset (a retry); other rows where the service says the writer
        is."""
        if w.failed == (w.next, n, digest):
            return
        session = get_session(self._client, self._id)
        w.next = session.committed.get(writer, 0)
        w.failed = None

    def _send(self, writer: str, offset: int, fills: list[tuple[int, _Fill]]) -> int:
        """Send the batches from offset on, each retried at its own
        offset; the rows the service stored."""
        stored = 0
        for size, fill in fills:
            request = pb.AppendRowsRequest(session_id=self._id, writer=writer, offset=offset)
            _encode(request.typed_rows, fill)
            resp: pb.AppendRowsResponse = self._call("AppendRows", request)
            stored += resp.rows
            offset += size
        return stored

    def _call(self, method: str, request: Any) -> Any:
        return self._client._retry(partial(self._once, method, request), lambda: True)

    def _once(self, method: str, request: Any, timeout: float | None) -> Any:
        return self._client._unary(method, request, timeout)


def begin(client: Client, config: pb.LoadConfig, ttl: float | _dt.timedelta | None) -> Session:
    """A new session of config (Client.session), living ttl (seconds or a
    timedelta; None: the service's LOADSVC_SESSION_TTL)."""
    request = pb.BeginLoadRequest(config=config)
    if ttl is not None:
        request.ttl.FromTimedelta(ttl if isinstance(ttl, _dt.timedelta) else _dt.timedelta(seconds=ttl))
    session: pb.LoadSession = client._retry(partial(client._unary, "BeginLoad", request), lambda: True)
    return Session(client, session, owner=True)


def attach(client: Client, session_id: str) -> Session:
    """The session session_id with every writer's next offset
    (Client.attach)."""
    return Session(client, get_session(client, session_id), owner=False)


def get_session(client: Client, session_id: str) -> pb.LoadSession:
    request = pb.GetLoadSessionRequest(session_id=session_id)
    session: pb.LoadSession = client._retry(partial(client._unary, "GetLoadSession", request), lambda: True)
    return session


def _status(s: pb.LoadSession) -> SessionStatus:
    committed = s.state == pb.SESSION_STATE_COMMITTED
    return SessionStatus(
        session_id=s.session_id,
        state="committed" if committed else "open",
        rows=s.rows,
        offsets=dict(s.committed),
        expires_at=s.expires_at.ToDatetime(tzinfo=_dt.timezone.utc),
        result=LoadResult.from_response(s.result) if committed else None,
    )


def _fills(rows: SessionRows, batch: int) -> list[tuple[int, _Fill]]:
    """The rows as messages of at most batch rows: (rows, fill) each, fill
    encoding the message into the request on the wire, with columns of
    its own (each AppendRows is a message of its own). A row's index in
    rows is its row in an error."""
    if is_frame(rows):
        return list(_batches(Frame(rows), batch, Columns))
    _check_rows(rows)
    seq: Sequence[Mapping[str, Any]] = rows if isinstance(rows, (list, tuple)) else list(rows)
    return list(_batches(seq, batch, Columns))


def _digest(fills: list[tuple[int, _Fill]]) -> bytes:
    """The batches' content, to tell a retry of a failed append from other
    rows."""
    h = hashlib.sha256()
    for _, fill in fills:
        msg = pb.TypedRows()
        _encode(msg, fill)
        h.update(msg.SerializeToString(deterministic=True))
        h.update(b"\x00")
    return h.digest()
