"""Load sessions through a live service: writers in threads and in another
process (killed mid-way, resumed through GetLoadSession), resent batches,
a retried commit, and the context manager's commit and abort."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from typing import Any, Optional

import grpc
import pandas as pd
import pytest

import loadsvc
from loadsvc.v1 import loadsvc_pb2 as pb

TOTAL, BATCH = 1000, 100


def create(db: Any, table: str) -> None:
    db.run(f"CREATE TABLE {table} (id bigint PRIMARY KEY, writer text NOT NULL)")


def id_rows(writer: str, first: int, n: int) -> list[dict[str, Any]]:
    return [{"id": first + i, "writer": writer} for i in range(n)]


def summary(db: Any, table: str) -> Optional[str]:
    """rows, distinct ids, min id, max id."""
    return db.scalar(f"SELECT concat_ws(' ', count(*), count(DISTINCT id), min(id), max(id)) FROM {table}")


def typed(session_id: str, first: int, n: int) -> pb.AppendRowsRequest:
    """Writer w's rows first to first+n-1 as a raw AppendRows at offset
    first."""
    req = pb.AppendRowsRequest(session_id=session_id, writer="w", offset=first)
    req.typed_rows.columns.add(name="id").int64s.extend(range(first, first + n))
    req.typed_rows.columns.add(name="writer").texts.extend(["w"] * n)
    return req


class LostAnswer(grpc.RpcError):
    """A call whose answer never came back, as when a connection drops
    after the service answered."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "injected: the service's answer was lost"

    def trailing_metadata(self) -> tuple[()]:
        return ()


def lose_answers(client: loadsvc.Client, method: str, lost: dict[int, grpc.StatusCode]) -> list[int]:
    """Make the answers of the calls of method numbered in lost (from 1)
    go missing: the service runs the call, the client sees the code. The
    list returned counts the calls."""
    stub = client._stub
    real: Callable[..., Any] = getattr(stub, method)
    calls = [0]

    def call(request: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        resp = real(request, **kwargs)
        if calls[0] in lost:
            raise LostAnswer(lost[calls[0]])
        return resp

    setattr(stub, method, call)
    return calls


WORKER = textwrap.dedent(
    """
    import os, sys
    import loadsvc

    client = loadsvc.Client(
        os.environ["LOADSVC_TEST_TARGET"],
        token=os.environ["LOADSVC_TEST_TOKEN"],
        root_certificates=os.environ["LOADSVC_TEST_CA"],
        certificate_chain=os.environ["LOADSVC_TEST_CLIENT_CERT"],
        private_key=os.environ["LOADSVC_TEST_CLIENT_KEY"],
        timeout=60,
    )
    s = client.attach(sys.argv[1])
    writer, total, batch = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    first = int(sys.argv[5])
    off = s.next_offset(writer)
    while off < total:
        sys.stdin.readline()  # the test says when to send the next batch
        n = min(batch, total - off)
        s.append([{"id": first + off + i, "writer": writer} for i in range(n)], writer=writer)
        off = s.next_offset(writer)
        print(off, flush=True)
    """
)


def test_four_writers_one_killed_resumes(client: loadsvc.Client, db, table: str) -> None:
    """Three writers append from threads; the fourth, in a process of its
    own, is killed while it sends its fifth batch. Attached anew, the
    session says how many of its rows are stored (four or five batches,
    as the kill fell), and the rest go from there. The commit writes every
    row exactly once."""
    create(db, table)
    with client.session(table, "append", ttl=600) as s:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, s.session_id, "part-3", str(TOTAL), str(BATCH), str(3 * TOTAL)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        try:
            assert worker.stdin is not None and worker.stdout is not None
            errors: list[BaseException] = []

            def part(k: int) -> None:
                try:
                    writer = f"part-{k}"
                    while (off := s.next_offset(writer)) < TOTAL:
                        s.append(id_rows(writer, k * TOTAL + off, BATCH), writer=writer)
                except BaseException as e:  # reported by the test
                    errors.append(e)

            threads = [threading.Thread(target=part, args=(k,)) for k in range(3)]
            for t in threads:
                t.start()
            for i in range(4):
                worker.stdin.write("go\n")
                worker.stdin.flush()
                assert worker.stdout.readline().strip() == str((i + 1) * BATCH)
            worker.stdin.write("go\n")
            worker.stdin.flush()
            worker.send_signal(signal.SIGKILL)
            assert worker.wait(30) == -signal.SIGKILL
            for t in threads:
                t.join(60)
            assert not errors, errors
        finally:
            worker.kill()
            worker.wait()

        resumed = client.attach(s.session_id)
        stored = resumed.next_offset("part-3")
        assert stored in (4 * BATCH, 5 * BATCH), f"part-3 stored {stored} rows, want 400 or 500"
        status = s.status()
        assert status.state == "open"
        assert status.offsets == {"part-0": TOTAL, "part-1": TOTAL, "part-2": TOTAL, "part-3": stored}
        assert status.rows == 3 * TOTAL + stored
        while (off := resumed.next_offset("part-3")) < TOTAL:
            resumed.append(id_rows("part-3", 3 * TOTAL + off, BATCH), writer="part-3")
        assert db.scalar(f"SELECT count(*) FROM {table}") == "0", "rows visible before the commit"
    assert s.result is not None and s.result["inserted"] == 4 * TOTAL
    assert summary(db, table) == "4000 4000 0 3999"


def test_resent_batches_are_stored_once(client: loadsvc.Client, db, table: str) -> None:
    """A lost answer is retried at the same offset and acknowledged with 0
    rows; after a failed append, the same rows again are stored once, and
    other rows go after what the service stored. A gap is refused."""
    create(db, table)
    calls = lose_answers(
        client,
        "AppendRows",
        {1: grpc.StatusCode.UNAVAILABLE, 3: grpc.StatusCode.CANCELLED, 5: grpc.StatusCode.CANCELLED},
    )
    with client.session(table, "append", ttl=600) as s:
        assert s.append(id_rows("w", 0, 100), writer="w") == ("w", 100, 0)  # calls 1 (lost) and 2
        with pytest.raises(loadsvc.LoadError) as lost:
            s.append(id_rows("w", 100, 100), writer="w")  # call 3: stored, answer lost
        assert lost.value.code == "CANCELLED"
        assert s.next_offset("w") == 100
        assert s.append(id_rows("w", 100, 100), writer="w") == ("w", 200, 0)  # call 4: a retry
        with pytest.raises(loadsvc.LoadError):
            s.append(id_rows("w", 200, 100), writer="w")  # call 5: stored, answer lost
        assert s.append(id_rows("w", 300, 50), writer="w") == ("w", 350, 50)  # call 6: after it
        frame = pd.DataFrame({"id": range(350, 360), "writer": ["w"] * 10}, index=range(1000, 1010))
        assert s.append(frame, writer="w") == ("w", 360, 10)  # call 7

        resent = client._stub.AppendRows(typed(s.session_id, 350, 10), metadata=client._metadata)  # call 8
        assert (resent.rows, resent.next_offset) == (0, 360)
        with pytest.raises(grpc.RpcError) as refused:  # call 9
            client._stub.AppendRows(typed(s.session_id, 500, 1), metadata=client._metadata)
        assert refused.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert "360" in refused.value.details()
        assert calls[0] == 9
    assert summary(db, table) == "360 360 0 359"


def test_commit_retried_returns_the_same_result(client: loadsvc.Client, db, table: str) -> None:
    """The first CommitLoad's answer is lost: the retry gets the same
    result, the rows are applied once, and the committed session says so."""
    create(db, table)
    calls = lose_answers(client, "CommitLoad", {1: grpc.StatusCode.UNAVAILABLE})
    s = client.session(table, "append", ttl=600)
    s.append(id_rows("a", 0, 300), writer="a")
    s.append(id_rows("b", 1000, 300), writer="b")
    result = s.commit()
    assert calls[0] == 2 and result["inserted"] == 600
    assert s.commit() == result
    status = client.attach(s.session_id).status()
    assert status.state == "committed" and status.result == result
    assert db.scalar(f"SELECT count(*) FROM {table}") == "600"


def test_context_manager_abort_leaves_nothing(client: loadsvc.Client, db, table: str) -> None:
    """An exception in the block aborts the session: the table, the
    session and its stage are gone, and the exception is the block's."""
    create(db, table)
    stage = "SELECT count(*) FROM pg_tables WHERE schemaname = 'loadsvc_stage' AND tablename = 's_{}'"
    with pytest.raises(RuntimeError, match="the worker failed"):
        with client.session(table, "append", ttl=600) as s:
            s.append(id_rows("a", 0, 200), writer="a")
            s.append(pd.DataFrame({"id": range(1000, 1200), "writer": "b"}), writer="b")
            assert db.scalar(stage.format(s.session_id)) == "1"
            raise RuntimeError("the worker failed")
    assert db.scalar(f"SELECT count(*) FROM {table}") == "0"
    assert db.scalar(stage.format(s.session_id)) == "0"
    assert db.scalar(f"SELECT count(*) FROM loadsvc.load_sessions WHERE session_id = '{s.session_id}'") == "0"
    with pytest.raises(loadsvc.LoadError) as gone:
        client.attach(s.session_id)
    assert gone.value.code == "NOT_FOUND"


def test_context_manager_failed_commit_aborts(client: loadsvc.Client, db, table: str) -> None:
    """Two writers send the same key: the commit fails with the unique
    violation, and the block's exit aborts the session."""
    create(db, table)
    with pytest.raises(loadsvc.LoadFailed) as failed:
        with client.session(table, "append", ttl=600) as s:
            s.append(id_rows("a", 0, 10), writer="a")
            s.append(id_rows("b", 9, 10), writer="b")
    assert failed.value.sqlstate == "23505" and failed.value.code == "ALREADY_EXISTS"
    assert db.scalar(f"SELECT count(*) FROM {table}") == "0"
    assert db.scalar(f"SELECT count(*) FROM loadsvc.load_sessions WHERE session_id = '{s.session_id}'") == "0"


def test_abort_retried_after_a_lost_answer(client: loadsvc.Client, db, table: str) -> None:
    """The first AbortLoad's answer is lost: the retry finds the session
    gone, and abort() succeeds; a second abort() says it is gone."""
    create(db, table)
    calls = lose_answers(client, "AbortLoad", {1: grpc.StatusCode.UNAVAILABLE})
    s = client.session(table, "append", ttl=600)
    s.append(id_rows("a", 0, 10), writer="a")
    s.abort()
    assert calls[0] == 2
    with pytest.raises(loadsvc.LoadError) as gone:
        s.abort()
    assert gone.value.code == "NOT_FOUND"
    assert db.scalar(f"SELECT count(*) FROM loadsvc.load_sessions WHERE session_id = '{s.session_id}'") == "0"
