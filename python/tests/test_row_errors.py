"""Row errors, the reject budget, labels and the delete guard (issues 20 and
21): the status detail and options without a service, then against it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
import pandas as pd
import pytest
from google.protobuf import any_pb2, duration_pb2, timestamp_pb2

import loadsvc
from loadsvc._client import _FrameLabels, _utc
from loadsvc._errors import from_rpc_error
from loadsvc._result import LoadResult, load_record
from loadsvc.rpc import status_pb2
from loadsvc.v1 import loadsvc_pb2 as pb


class _Failed(grpc.RpcError):
    """A failed call as gRPC raises it: code, details, trailing metadata."""

    def __init__(self, code: grpc.StatusCode, message: str, details: list[Any]) -> None:
        self._code, self._message = code, message
        st = status_pb2.Status(code=code.value[0], message=message)
        for d in details:
            # the mirrors in loadsvc.rpc stand for google.rpc's messages
            name = d.DESCRIPTOR.full_name.replace("loadsvc.rpc.", "google.rpc.")
            st.details.append(any_pb2.Any(type_url="type.googleapis.com/" + name, value=d.SerializeToString()))
        self._trailers = (("grpc-status-details-bin", st.SerializeToString()),)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> Any:
        return self._trailers


BAD = [
    pb.RowError(row=3, column="nav", value="一百万", sqlstate="22P02", message='invalid input syntax for type numeric: "一百万"'),
    pb.RowError(row=7, sqlstate="23514", message="new row violates check constraint", constraint="t_check"),
]


def test_row_errors_detail_is_parsed() -> None:
    info = status_pb2.ErrorInfo(reason="LOAD_FAILED", metadata={"sqlstate": "22P02"})
    e = from_rpc_error(_Failed(grpc.StatusCode.INVALID_ARGUMENT, "load failed: 2 bad rows", [info, pb.RowErrors(errors=BAD, truncated=True)]))
    assert isinstance(e, loadsvc.LoadFailed) and e.sqlstate == "22P02" and e.row_errors_truncated
    first, second = e.row_errors
    assert (first.row, first.column, first.value, first.sqlstate, first.constraint, first.label) == (3, "nav", "一百万", "22P02", None, None)
    assert first.message == 'invalid input syntax for type numeric: "一百万"'
    assert (second.row, second.column, second.constraint) == (7, None, "t_check")
    plain = from_rpc_error(_Failed(grpc.StatusCode.NOT_FOUND, "load failed: no table", [info]))
    assert plain.row_errors == () and not plain.row_errors_truncated


def test_options_reach_the_config() -> None:
    opts = loadsvc.LoadOptions("append", max_rejected_rows=10, max_deleted_rows=500, labels={"source": "nov.xlsx"}, stamp_column="load_id")
    cfg = opts.config("t", request_id="r")
    assert (cfg.max_rejected_rows, cfg.max_deleted_rows, dict(cfg.labels), cfg.stamp_column) == (10, 500, {"source": "nov.xlsx"}, "load_id")
    bare = loadsvc.LoadOptions().config("t", request_id="r")
    assert (bare.max_rejected_rows, bare.max_deleted_rows, dict(bare.labels), bare.stamp_column) == (0, 0, {}, "")
    assert (cfg.chunk_size, bare.chunk_size) == (loadsvc.DEFAULT_CHUNK_SIZE, loadsvc.DEFAULT_CHUNK_SIZE)


def test_frame_labels_across_frames() -> None:
    labels = _FrameLabels()
    labels.add(0, pd.Index(["a", "b", "c"]))
    labels.add(5, pd.RangeIndex(100, 102))  # rows 3 and 4 came from dicts
    assert [labels.label(r) for r in range(8)] == ["a", "b", "c", None, None, 100, 101, None]
    assert _FrameLabels().label(0) is None


def test_result_rejected_and_load_id() -> None:
    resp = pb.LoadResponse(mode=pb.MODE_APPEND, inserted=8, rows=10, rejected_rows=2, rejected=BAD, load_id="0193c2a0-0000-7000-8000-000000000000")
    r = LoadResult.from_response(resp, {3: "x", 7: "y"}.get)
    assert (r.rejected_rows, r["load_id"], [e.label for e in r.rejected], r.rejected[0].column) == (2, resp.load_id, ["x", "y"], "nav")
    assert LoadResult.from_response(pb.LoadResponse(plan_only=True)).load_id is None


def test_load_record_and_times() -> None:
    start = timestamp_pb2.Timestamp(seconds=1733040000)
    rec = pb.LoadRecord(load_id="id", status="failed", table="t", mode=pb.MODE_DELETE_INSERT, labels={"source": "a.csv"},
                        deleted=3, started_at=start, duration=duration_pb2.Duration(seconds=1, nanos=500_000_000), code="FAILED_PRECONDITION")
    got = load_record(rec)
    assert got["mode"] == "delete_insert" and got["labels"] == {"source": "a.csv"} and got["deleted"] == 3
    assert got["started_at"] == dt.datetime(2024, 12, 1, 8, 0, tzinfo=dt.timezone.utc) and got["finished_at"] is None
    assert got["duration"] == dt.timedelta(seconds=1.5) and got["code"] == "FAILED_PRECONDITION"
    now = dt.datetime(2024, 12, 10, 12, 0, tzinfo=dt.timezone.utc)
    assert _utc(dt.timedelta(days=7), now) == dt.datetime(2024, 12, 3, 12, 0)
    assert _utc(dt.datetime(2024, 11, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))), now) == dt.datetime(2024, 11, 1, 1, 30)
    assert _utc(dt.datetime(2024, 11, 1), now) == dt.datetime(2024, 11, 1)


# -- against the service ------------------------------------------------------


def test_every_bad_row_with_its_frame_label(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, day date NOT NULL, nav numeric(10,2) CHECK (nav >= 0))")
    frame = pd.DataFrame(
        {"k": [1, 2, 3, 4], "day": ["2024-11-01", "2024-13-01", "2024-11-01", "2024-11-01"], "nav": ["1", "2", "一百万", "-5"]},
        index=["r1", "r2", "r3", "r4"],
    )
    for rows in (frame, frame.to_dict("records")):
        with pytest.raises(loadsvc.LoadFailed) as info:
            client.load(table, rows, "append")
        bad = info.value.row_errors
        assert [(e.row, e.column, e.value, e.sqlstate) for e in bad[:2]] == [(1, "day", "2024-13-01", "22008"), (2, "nav", "一百万", "22P02")]
        assert (bad[2].row, bad[2].sqlstate, bad[2].constraint) == (3, "23514", f"{table}_nav_check")
        assert len(bad) == 3 and not info.value.row_errors_truncated
        want_labels = ["r2", "r3", "r4"] if rows is frame else [None, None, None]
        assert [e.label for e in bad] == want_labels
    assert db.scalar(f"SELECT count(*) FROM {table}") == "0"


def test_reject_budget_writes_the_good_rows(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, day date)")
    frame = pd.DataFrame({"k": [1, 2, 3], "day": ["2024-11-01", "2024-13-01", "2024-11-02"]}, index=[10, 20, 30])
    with pytest.raises(loadsvc.LoadFailed):
        client.load(table, frame, "append", max_rejected_rows=0)
    result = client.load(table, frame, "append", max_rejected_rows=1)
    assert (result.inserted, result.rejected_rows) == (2, 1)
    (e,) = result.rejected
    assert (e.row, e.column, e.value, e.label) == (1, "day", "2024-13-01", 20)
    assert db.rows(f"SELECT k, day FROM {table} ORDER BY k") == [("1", "2024-11-01"), ("3", "2024-11-02")]
    # a writer counts rows across its frames and dicts
    db.run(f"TRUNCATE {table}")
    with client.writer(table, "append", max_rejected_rows=5) as w:
        w.write({"k": 1, "day": "bad"})
        w.write_many(frame)
    assert w.result is not None
    assert [(e.row, e.label) for e in w.result.rejected] == [(0, None), (2, 20)]


def test_labels_history_and_the_delete_guard(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int, v text, lid text)")
    db.run(f"INSERT INTO {table} SELECT 1, 'old' FROM generate_series(1, 5)")
    with pytest.raises(loadsvc.LoadError) as info:
        client.load(table, [{"k": 1, "v": "new"}], "delete_insert", pk="k", max_deleted_rows=4, labels={"source": "nov.csv"})
    e = info.value
    assert e.code == "FAILED_PRECONDITION" and e.reason == "DELETE_LIMIT_EXCEEDED"
    assert "5" in e.message and "4" in e.message
    assert db.scalar(f"SELECT count(*) FROM {table} WHERE v = 'old'") == "5"
    result = client.load(
        table, [{"k": 1, "v": "new"}], "delete_insert", pk="k", max_deleted_rows=5, labels={"source": "nov.csv", "run": "42"}, stamp_column="lid"
    )
    assert result.deleted == 5 and result.load_id
    assert db.rows(f"SELECT v, lid FROM {table}") == [("new", result.load_id)]
    records = client.history(table=table, since=dt.timedelta(hours=1))
    assert [(r["status"], r["load_id"] == result.load_id) for r in records] == [("committed", True), ("failed", False)]
    assert records[0]["labels"] == {"source": "nov.csv", "run": "42"} and records[0]["deleted"] == 5
    assert records[1]["code"] == "FAILED_PRECONDITION" and records[1]["labels"] == {"source": "nov.csv"}
    assert [r["status"] for r in client.history(table=table, status="failed")] == ["failed"]
    assert len(client.history(table=table, limit=1)) == 1
