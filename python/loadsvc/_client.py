"""The client: a connection to loadsvc, ``load()``, ``writer()`` and retries.

This module owns how rows reach the service: one unary ``Load`` for a sized
input that fits one message, a ``LoadStream`` of bounded typed messages for
everything larger or unsized (so memory stays constant), the retry policy
(``UNAVAILABLE`` and ``ABORTED`` only, with jittered exponential backoff,
one ``request_id`` across the attempts, and ``timeout`` as the deadline of
all of them together), and the ``Writer`` context manager. Each message is
encoded in place, into the request that goes on the wire.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import os
import queue
import random
import time
import uuid
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union

import grpc

from loadsvc._errors import InvalidRequest, LoadError, from_rpc_error, labelled
from loadsvc._frame import Frame, is_frame
from loadsvc._options import LoadOptions
from loadsvc._result import LoadResult, load_record
from loadsvc._target import warn_plaintext_token
from loadsvc._values import Columns, EncodeError, encode_rows
from loadsvc.v1 import loadsvc_pb2 as pb
from loadsvc.v1 import loadsvc_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    import datetime

    import pandas

    from loadsvc._session import Session

__all__ = ["DEFAULT_BATCH_ROWS", "MAX_MESSAGE_BYTES", "Client", "Writer", "new_request_id"]

#: Rows per message: a sized input of at most this many rows goes as one
#: unary Load, anything else streams in messages of this many rows.
DEFAULT_BATCH_ROWS = 5000

#: The largest message the client sends or accepts (a plan's sql_script
#: carries every row); the service's own default limit is the same.
MAX_MESSAGE_BYTES = 64 << 20

_INITIAL_BACKOFF = 0.1  # seconds
_MAX_BACKOFF = 5.0
_QUEUE_POLL = 0.05  # seconds between checks that a stream is still alive

Rows = Union[Iterable[Mapping[str, Any]], "pandas.DataFrame"]
PathOrPem = Union[bytes, str, "os.PathLike[str]"]
_T = TypeVar("_T")
#: Encodes one message's rows into the TypedRows given.
_Fill = Callable[[pb.TypedRows], object]
#: The DataFrame index label of a row of the load (None: not a DataFrame's).
_Label = Callable[[int], Union[Hashable, None]]

#: The largest page ListLoads serves.
_MAX_PAGE = 1000


def new_request_id() -> str:
    """A random request id (a UUID version 4)."""
    return str(uuid.uuid4())


class Client:
    """A connection to loadsvc at ``target`` (``host:port``, or any gRPC
    target). Safe to share between threads; ``close()`` it when done, or use
    it as a context manager.

    TLS is on when ``tls`` is true or any certificate is given:
    ``root_certificates`` (the CA bundle the server's certificate must chain
    to; the system's roots when omitted) and, for mTLS, ``private_key`` with
    ``certificate_chain``. Each is PEM bytes or the path of a PEM file.
    ``token`` is sent as ``authorization: Bearer <token>`` on every call;
    without TLS to an address that is not loopback, the client warns
    (``InsecureTokenWarning``). ``timeout`` (seconds) bounds a whole load,
    its retries and the waits between them included, and a writer's stream
    as a whole. ``max_attempts`` bounds the attempts of a load that fails
    with ``UNAVAILABLE`` or ``ABORTED`` (1: no retry). ``batch_rows`` is
    the rows of one message.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        root_certificates: PathOrPem | None = None,
        private_key: PathOrPem | None = None,
        certificate_chain: PathOrPem | None = None,
        tls: bool = False,
        timeout: float | None = None,
        max_attempts: int = 5,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts {max_attempts}: want at least 1")
        if batch_rows < 1:
            raise ValueError(f"batch_rows {batch_rows}: want at least 1")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout {timeout}: want seconds above 0, or None for no deadline")
        if (private_key is None) != (certificate_chain is None):
            raise ValueError("private_key and certificate_chain go together (mTLS)")
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        if tls or root_certificates is not None or private_key is not None:
            creds = grpc.ssl_channel_credentials(
                _pem(root_certificates), _pem(private_key), _pem(certificate_chain)
            )
            self._channel = grpc.secure_channel(target, creds, options)
        else:
            if token:
                warn_plaintext_token(target, stacklevel=2)
            self._channel = grpc.insecure_channel(target, options)
        self._stub = pb_grpc.LoadServiceStub(self._channel)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._batch_rows = batch_rows

    def close(self) -> None:
        """Close the connection; calls in flight fail."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(
        self,
        table: str,
        rows: Rows,
        mode: str | int | None = None,
        pk: Sequence[str] | str | None = None,
        *,
        options: LoadOptions | None = None,
        **kwargs: Any,
    ) -> LoadResult:
        """Load ``rows`` into ``table`` in one transaction and return what
        the load did.

        ``rows`` is any iterable of dicts (a generator included; a key a row
        leaves out is NULL) or a pandas DataFrame (its index is not loaded).
        A list, tuple or DataFrame of at most ``batch_rows`` rows goes as
        one ``Load``; anything larger or unsized streams through
        ``LoadStream`` in messages of ``batch_rows`` rows, so memory stays
        constant. How the load runs is a ``LoadOptions``: ``options=``,
        and/or its fields as keyword arguments (``mode`` and ``pk`` also
        positionally), which win: ``schema``, ``chunk_size``,
        ``plan_only``, ``duplicates``, ``request_id``, ``dry_run``.

        A load that fails with ``UNAVAILABLE`` or ``ABORTED`` is sent again
        with backoff, up to ``max_attempts`` in all and within the client's
        ``timeout``, under one ``request_id`` (a random one unless given), so
        a retry never writes twice. A generator is sent again only while its
        first message is all that was taken from it. Raises a ``LoadError``
        subclass.
        """
        opts = LoadOptions.of("load()", options, _given(mode, pk, kwargs))
        config = opts.config(table, request_id=new_request_id())
        source = _source(rows, self._batch_rows)
        try:
            if source.single:
                # Encoded once: a retry sends the same request again.
                request = pb.LoadRequest(config=config)
                for fill in source.messages(Columns()):
                    _encode(request.typed_rows, fill)
                result = self._retry(lambda timeout: self._load_once(request, timeout, source.label), lambda: True)
            else:
                result = self._retry(
                    lambda timeout: self._stream_once(config, source, timeout), lambda: source.replayable
                )
        except LoadError as e:
            raise _labelled(e, source.label) from None
        return result

    def history(
        self,
        table: str | None = None,
        *,
        schema: str | None = None,
        status: str | None = None,
        since: dt.datetime | dt.timedelta | None = None,
        until: dt.datetime | dt.timedelta | None = None,
        limit: int = 100,
    ) -> list[Mapping[str, Any]]:
        """The loads the service recorded (``loadsvc.load_history``),
        newest first, at most ``limit`` of them (pages of ``ListLoads``
        followed as needed); with a token, only those of tables it may
        write.

        ``table``, ``schema`` and ``status`` (``"committed"`` or
        ``"failed"``) select; ``since`` and ``until`` bound when the load
        started: a datetime (naive is UTC) or a timedelta back from now.
        Each record is a Mapping with the keys ``load_id``, ``status``,
        ``principal``, ``peer``, ``schema``, ``table``, ``mode`` (a short
        name), ``request_id``, ``labels`` (a dict), ``rows``, ``inserted``,
        ``updated``, ``deleted``, ``skipped``, ``rejected``, ``started_at``
        and ``finished_at`` (aware datetimes in UTC), ``duration`` (a
        timedelta), ``code`` (``"OK"`` for a committed load), ``sqlstate``
        and ``message``. Raises a ``LoadError`` subclass.
        """
        if limit < 1:
            raise ValueError(f"limit {limit}: want at least 1")
        req = pb.ListLoadsRequest(table=table or "", schema=schema or "", status=status or "")
        now = dt.datetime.now(dt.timezone.utc)
        for name, when in (("since", since), ("until", until)):
            if when is not None:
                getattr(req, name).FromDatetime(_utc(when, now))
        out: list[Mapping[str, Any]] = []
        while True:
            req.page_size = min(limit - len(out), _MAX_PAGE)
            page = self._retry(lambda timeout: self._list_once(req, timeout), lambda: True)
            out.extend(load_record(r) for r in page.loads)
            if len(out) >= limit or not page.next_page_token or not page.loads:
                return out[:limit]
            req.page_token = page.next_page_token

    def writer(
        self,
        table: str,
        mode: str | int | None = None,
        pk: Sequence[str] | str | None = None,
        *,
        options: LoadOptions | None = None,
        **kwargs: Any,
    ) -> Writer:
        """A Writer that streams rows into one load of ``table`` (the
        options are those of ``load``)::

            with client.writer("nav", "append") as w:
                for row in produce():
                    w.write(row)
            print(w.result["inserted"])

        A stream is not retried: give a ``request_id`` and run the block
        again to retry it exactly once.
        """
        opts = LoadOptions.of("writer()", options, _given(mode, pk, kwargs))
        return Writer(self, opts.config(table, request_id=""))

    def session(
        self,
        table: str,
        mode: str | int | None = None,
        pk: Sequence[str] | str | None = None,
        *,
        ttl: float | datetime.timedelta | None = None,
        options: LoadOptions | None = None,
        **kwargs: Any,
    ) -> Session:
        """Begin a load session of ``table`` (the options are those of
        ``load``; ``plan_only`` and ``dry_run`` are refused), living
        ``ttl`` (seconds or a timedelta; None: the service's default). A
        context manager that commits on a clean exit and aborts on an
        exception; ``Session.append`` stores rows per writer, exactly once
        by offset. See ``loadsvc.Session``."""
        from loadsvc._session import begin

        opts = LoadOptions.of("session()", options, _given(mode, pk, kwargs))
        return begin(self, opts.config(table, request_id=""), ttl)

    def attach(self, session_id: str) -> Session:
        """The session ``session_id``, begun elsewhere (another process,
        or this one before a restart), with every writer's next offset read
        from the service, so that a writer resumes where its stored rows
        end. Leaving a ``with`` block of it neither commits nor aborts."""
        from loadsvc._session import attach

        return attach(self, session_id)

    # -- internals -------------------------------------------------------

    def _retry(self, attempt: Callable[[float | None], _T], replayable: Callable[[], bool]) -> _T:
        """attempt(seconds left) until it succeeds, fails for good, or runs
        out of attempts or time; full-jitter exponential backoff between
        attempts. The client's timeout is the deadline of them all."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        n = 1
        while True:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                return attempt(left)
            except LoadError as e:
                pause = random.uniform(0, min(_MAX_BACKOFF, _INITIAL_BACKOFF * 2 ** (n - 1)))
                if self._final(e, n, pause, deadline, replayable):
                    raise
            time.sleep(pause)
            n += 1

    def _final(
        self, e: LoadError, n: int, pause: float, deadline: float | None, replayable: Callable[[], bool]
    ) -> bool:
        """Whether e, the error of attempt n, ends the load; it says so in
        its note when the limit was a setting (timeout, max_attempts)."""
        e.attempts = n
        if e.code == "DEADLINE_EXCEEDED" and deadline is not None:
            e.note = f"timeout={self._timeout}s bounds the load, its {n} attempt(s) together"
            return True
        if not e.retryable or not replayable():
            return True
        if n >= self._max_attempts:
            e.note = f"gave up after {n} attempt(s): max_attempts={self._max_attempts}"
            return True
        if deadline is not None and time.monotonic() + pause >= deadline:
            e.note = f"gave up after {n} attempt(s): timeout={self._timeout}s leaves no time for another"
            return True
        return False

    def _unary(self, method: str, request: Any, timeout: float | None) -> Any:
        """One call of the stub's unary method; an RpcError is the
        LoadError it is."""
        try:
            return getattr(self._stub, method)(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def _load_once(self, request: pb.LoadRequest, timeout: float | None, label: _Label | None) -> LoadResult:
        return LoadResult.from_response(self._unary("Load", request, timeout), label)

    def _list_once(self, request: pb.ListLoadsRequest, timeout: float | None) -> pb.ListLoadsResponse:
        resp: pb.ListLoadsResponse = self._unary("ListLoads", request, timeout)
        return resp

    def _stream_once(self, config: pb.LoadConfig, source: _Source, timeout: float | None) -> LoadResult:
        stream = _Stream(self, config, timeout)
        try:
            for fill in source.messages(Columns()):
                msg = pb.LoadStreamRequest()
                _encode(msg.typed_rows, fill)
                stream.send(msg)
            return LoadResult.from_response(stream.close(), source.label)
        finally:
            stream.cancel()


class Writer:
    """One load streamed row by row over ``LoadStream``, as a context
    manager (``Client.writer``).

    ``write(row)`` and ``write_many(rows)`` buffer rows and send a typed
    message every ``batch_rows`` rows; the service writes them as they
    arrive, in one transaction. A clean exit from the ``with`` block sends
    the rest, commits, and sets ``result``. Any exception inside the block
    cancels the stream: the service rolls back and nothing is written. The
    first message fixes the load's columns: a later row may leave a column
    out (NULL) but not add one. Errors are ``LoadError`` subclasses, and
    after one every call raises it again.
    """

    result: LoadResult | None

    def __init__(self, client: Client, config: pb.LoadConfig) -> None:
        self._client = client
        self._config = config
        self._stream: _Stream | None = None
        self._columns = Columns()
        self._pending: list[Mapping[str, Any]] = []
        self._rows = 0  # rows sent so far
        self._failed: LoadError | None = None
        self._frames = _FrameLabels()
        self.result = None

    @property
    def rows(self) -> int:
        """Rows written so far (sent or still buffered)."""
        return self._rows + len(self._pending)

    def __enter__(self) -> Writer:
        if self._stream is not None:
            raise RuntimeError("a Writer is entered once")
        self._stream = _Stream(self._client, self._config, self._client._timeout)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        self.result = self._close()

    def write(self, row: Mapping[str, Any]) -> None:
        """Add one row; every ``batch_rows`` rows, send them."""
        self._check()
        self._pending.append(row)
        if len(self._pending) >= self._client._batch_rows:
            self._flush()

    def write_many(self, rows: Rows) -> None:
        """Add rows: an iterable of dicts or a DataFrame."""
        self._check()
        batch = self._client._batch_rows
        if is_frame(rows):
            self._flush()
            frame = Frame(rows)
            self._frames.add(self._rows, frame.index)
            for n, fill in _batches(frame, batch, lambda: self._columns, self._rows):
                self._send(fill, n)
            return
        it = iter(rows)
        while True:
            self._pending.extend(itertools.islice(it, batch - len(self._pending)))
            if len(self._pending) < batch:
                return
            self._flush()

    def _check(self) -> None:
        if self._failed is not None:
            raise self._failed
        if self._stream is None or self.result is not None:
            raise RuntimeError("a Writer writes inside its with block only")

    def _flush(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            self._send(partial(encode_rows, rows, self._rows, self._columns), len(rows))

    def _send(self, fill: _Fill, n: int) -> None:
        assert self._stream is not None
        msg = pb.LoadStreamRequest()
        try:
            _encode(msg.typed_rows, fill)
            self._stream.send(msg)
        except LoadError as e:
            self._failed = _labelled(e, self._frames.label)
            self._stream.cancel()
            raise self._failed from None
        self._rows += n

    def _close(self) -> LoadResult:
        assert self._stream is not None
        try:
            self._check()
            self._flush()
            return LoadResult.from_response(self._stream.close(), self._frames.label)
        except LoadError as e:
            self._failed = _labelled(e, self._frames.label)
            raise self._failed from None
        finally:
            self._stream.cancel()

    def _abort(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
        self._pending = []


class _Stream:
    """One LoadStream call. Messages pass to gRPC's sending thread through a
    small queue, so the caller encodes while earlier messages are on the
    wire and memory holds only a few messages."""

    _END = pb.LoadStreamRequest()  # marks the end of the requests

    def __init__(self, client: Client, config: pb.LoadConfig, timeout: float | None) -> None:
        self._queue: queue.Queue[pb.LoadStreamRequest] = queue.Queue(maxsize=2)
        self._queue.put(pb.LoadStreamRequest(config=config))
        self._future = client._stub.LoadStream.future(
            self._requests(), timeout=timeout, metadata=client._metadata
        )
        self._ended = False

    def _requests(self) -> Iterator[pb.LoadStreamRequest]:
        while True:
            msg = self._queue.get()
            if msg is self._END:
                return
            yield msg

    def send(self, msg: pb.LoadStreamRequest) -> None:
        """Queue one message of rows, waiting while the queue is full;
        raises the call's error once the service has ended the stream."""
        self._put(msg)

    def close(self) -> pb.LoadResponse:
        """End the requests and wait for the service's response."""
        self._put(self._END)
        self._ended = True
        return self._response()

    def cancel(self) -> None:
        """Cancel the call (a no-op once it has finished) and release
        gRPC's sending thread."""
        self._future.cancel()
        self._release()

    def _put(self, msg: pb.LoadStreamRequest) -> None:
        while True:
            if self._future.done():
                self._release()
                self._response()
                raise LoadError("INTERNAL", "the service ended the stream early without an error")
            try:
                self._queue.put(msg, timeout=_QUEUE_POLL)
                return
            except queue.Full:
                continue

    def _release(self) -> None:
        """Make sure the request iterator ends, so gRPC's thread that reads
        it never blocks on an empty queue."""
        if self._ended:
            return
        self._ended = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put_nowait(self._END)

    def _response(self) -> pb.LoadResponse:
        try:
            resp: pb.LoadResponse = self._future.result()
        except grpc.FutureCancelledError:
            raise LoadError("CANCELLED", "the stream was cancelled; nothing was written") from None
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return resp


class _Source:
    """The rows of one load, as messages of at most batch rows: each a
    _Fill that encodes the message into the request going on the wire (call
    it before taking the next). ``single``: a sized input that fits one
    unary Load. ``replayable``: ``messages`` can start again from the first
    row (for a retry)."""

    single = False
    #: The DataFrame index label of a row, for a DataFrame's rows.
    label: _Label | None = None

    @property
    def replayable(self) -> bool:
        return True

    def messages(self, columns: Columns) -> Iterator[_Fill]:
        raise NotImplementedError


class _SequenceSource(_Source):
    """A list's or tuple's rows, sliced into messages; sent again from the
    start on a retry."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], batch: int) -> None:
        self._seq = rows
        self._batch = batch
        self.single = len(rows) <= batch

    def messages(self, columns: Columns) -> Iterator[_Fill]:
        return (fill for _, fill in _batches(self._seq, self._batch, lambda: columns))


class _FrameSource(_Source):
    """A DataFrame's rows, sliced into messages column by column from its
    arrays; sent again from the start on a retry."""

    def __init__(self, frame: pandas.DataFrame, batch: int) -> None:
        self._frame = Frame(frame)
        self._batch = batch
        self.single = len(self._frame) <= batch
        labels = _FrameLabels()
        labels.add(0, self._frame.index)
        self.label = labels.label

    def messages(self, columns: Columns) -> Iterator[_Fill]:
        return (fill for _, fill in _batches(self._frame, self._batch, lambda: columns))


class _IterSource(_Source):
    """An iterator's rows: its first batch is kept, so a load that fails
    before the second batch is taken can be sent again."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], batch: int) -> None:
        self._it = iter(rows)
        self._batch = batch
        self._head: list[Mapping[str, Any]] | None = None
        self._past_head = False

    @property
    def replayable(self) -> bool:
        return not self._past_head

    def messages(self, columns: Columns) -> Iterator[_Fill]:
        if self._past_head:
            raise AssertionError("an iterator's rows are sent once")
        if self._head is None:
            self._head = list(itertools.islice(self._it, self._batch))
        head = self._head
        if head:
            yield partial(encode_rows, head, 0, columns)
        start = len(head)
        while True:
            part = list(itertools.islice(self._it, self._batch))
            if not part:
                return
            self._past_head = True
            self._head = []
            yield partial(encode_rows, part, start, columns)
            start += len(part)


def _source(rows: Rows, batch: int) -> _Source:
    if is_frame(rows):
        return _FrameSource(rows, batch)
    if isinstance(rows, (list, tuple)):
        return _SequenceSource(rows, batch)
    _check_rows(rows)
    return _IterSource(rows, batch)


def _check_rows(rows: object) -> None:
    """Refuse a str, bytes or dict given as rows: iterable, but not of
    rows."""
    if isinstance(rows, (str, bytes, Mapping)):
        raise InvalidRequest(
            "INVALID_ARGUMENT",
            f"rows is a {type(rows).__qualname__}: want an iterable of dicts or a DataFrame",
            field="rows",
        )


def _batches(
    rows: Sequence[Mapping[str, Any]] | Frame, batch: int, columns: Callable[[], Columns], first: int = 0
) -> Iterator[tuple[int, _Fill]]:
    """rows (dicts, or a Frame's) as messages of at most batch rows: each
    its rows and the _Fill that encodes it with the Columns columns() gives
    (one for the whole load, or a new one per message). rows[i] is row
    first + i of the load, in an error."""
    n = len(rows)
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        if isinstance(rows, Frame):
            yield stop - start, partial(rows.encode, start, stop, first + start, columns())
        else:
            yield stop - start, partial(encode_rows, rows[start:stop], first + start, columns())


def _encode(out: pb.TypedRows, fill: _Fill) -> None:
    """fill(out): rows encoded straight into the request's TypedRows, never
    copied; an EncodeError is the InvalidRequest it is."""
    try:
        fill(out)
    except EncodeError as e:
        field = f"rows[{e.row}]" + (f".{e.column}" if e.column else "")
        raise InvalidRequest("INVALID_ARGUMENT", str(e), field=field) from None


class _FrameLabels:
    """The index labels of the rows of a load that came from DataFrames:
    for each frame, the load index of its first row and its index (the
    frame's own object, not a copy)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._indexes: list[Any] = []

    def add(self, start: int, index: Any) -> None:
        self._starts.append(start)
        self._indexes.append(index)

    def label(self, row: int) -> Hashable | None:
        """The label of the load's row, or None when no frame had it."""
        i = bisect.bisect_right(self._starts, row) - 1
        if i < 0 or row - self._starts[i] >= len(self._indexes[i]):
            return None
        label: Hashable = self._indexes[i][row - self._starts[i]]
        return label


def _labelled(e: LoadError, label: _Label | None) -> LoadError:
    """e, its row errors given their DataFrame index labels."""
    e.row_errors = labelled(e.row_errors, label)
    return e


def _utc(when: dt.datetime | dt.timedelta, now: dt.datetime) -> dt.datetime:
    """A time given as a datetime (naive is UTC) or a timedelta back from
    now, as a naive UTC datetime (what Timestamp.FromDatetime takes)."""
    if isinstance(when, dt.timedelta):
        when = now - when
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    return when.replace(tzinfo=None)


def _given(mode: str | int | None, pk: Sequence[str] | str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The options a caller gave: the keyword arguments, and mode and pk
    when given (positionally or by name)."""
    given = dict(kwargs)
    if mode is not None:
        given["mode"] = mode
    if pk is not None:
        given["pk"] = pk
    return given


def _pem(value: PathOrPem | None) -> bytes | None:
    """PEM bytes as they are, or the content of the file a path names."""
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()
