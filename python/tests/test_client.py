"""The client's own API: error codes as plain strings, one LoadOptions for
load() and writer(), timeout as the deadline of all attempts together, and
the warning for a token sent over plaintext."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator

import grpc
import pytest

import loadsvc
from loadsvc._target import is_loopback


def test_client_side_error_code_is_a_string(client: loadsvc.Client) -> None:
    with pytest.raises(loadsvc.InvalidRequest) as info:
        client.load("t", [{"k": 1}], "sideways")
    e = info.value
    assert (e.code, type(e.code), e.grpc_code) == ("INVALID_ARGUMENT", str, grpc.StatusCode.INVALID_ARGUMENT)
    assert str(e).startswith("INVALID_ARGUMENT: mode 'sideways': want one of ")


def test_options_are_shared_by_load_and_writer(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int, v text)")
    db.run(f"INSERT INTO {table} VALUES (1, 'old'), (2, 'keep')")
    by_k = loadsvc.LoadOptions("delete_insert", pk="k")
    # The options as a LoadOptions, a keyword argument over them, and the
    # same fields as keyword arguments alone all reach the service.
    dry = client.load(table, [{"k": 1, "v": "dry"}], options=by_k, dry_run=True)
    assert (dry.mode, dry.dry_run, dry.deleted, dry.inserted) == ("delete_insert", True, 1, 1)
    plan = client.load(table, [{"k": 1, "v": "x"}], options=loadsvc.LoadOptions(mode="upsert", pk=["k"], plan_only=True))
    assert plan.mode == "upsert" and plan.sql_script
    assert db.rows(f"SELECT k, v FROM {table} ORDER BY k") == [("1", "old"), ("2", "keep")]
    with client.writer(table, options=by_k) as w:
        w.write({"k": 1, "v": "new"})
    assert w.result is not None and (w.result.mode, w.result.deleted, w.result.inserted) == ("delete_insert", 1, 1)
    with client.writer(table, "append", schema="public") as w:
        w.write({"k": 3, "v": "appended"})
    assert db.rows(f"SELECT k, v FROM {table} ORDER BY k") == [("1", "new"), ("2", "keep"), ("3", "appended")]
    with pytest.raises(TypeError, match=r"load\(\) got an unexpected keyword argument 'shema'; the options of a load are mode, pk, schema"):
        client.load(table, [{"k": 1}], "append", shema="public")
    with pytest.raises(TypeError, match=r"writer\(\) got an unexpected keyword argument 'dryrun'"):
        client.writer(table, "append", dryrun=True)


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_timeout_bounds_all_attempts_together() -> None:
    # Every attempt fails at once (connection refused), and the backoff
    # alone of 1,000 attempts would take about an hour.
    with loadsvc.Client(f"127.0.0.1:{closed_port()}", timeout=2, max_attempts=1000) as c:
        began = time.monotonic()
        with pytest.raises(loadsvc.LoadError) as info:
            c.load("t", [{"k": 1}], "append")
        took = time.monotonic() - began
    e = info.value
    assert took < 4, took  # not minutes: a little over the 2s, on a busy machine
    # The last attempt may start with too little time left to be refused.
    assert e.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") and e.attempts > 1
    assert e.note is not None and "timeout=2s" in e.note and "timeout=2s" in str(e)


@pytest.fixture
def locked(db, table: str) -> Iterator[str]:
    """table, held under ACCESS EXCLUSIVE by another session until the test
    ends."""
    db.run(f"CREATE TABLE {table} (k int)")
    holder = subprocess.Popen(
        [db.psql, "-X", "-q", "-d", db.url, "-c", f"BEGIN; LOCK TABLE {table}; SELECT pg_sleep(600)"],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PGAPPNAME": f"lock-{table}"},
    )
    try:
        deadline = time.monotonic() + 30
        while db.scalar(f"SELECT count(*) FROM pg_locks WHERE relation = '{table}'::regclass AND granted") == "0":
            assert holder.poll() is None, "psql holding the lock exited"
            assert time.monotonic() < deadline, "the lock was not taken within 30s"
            time.sleep(0.05)
        yield table
    finally:
        db.run(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lock-{table}'")
        holder.wait()


def test_timeout_bounds_a_slow_attempt(connect, db, locked: str) -> None:
    c = connect(timeout=2)
    began = time.monotonic()
    with pytest.raises(loadsvc.LoadError) as info:
        c.load(locked, [{"k": 1}], "append")
    took = time.monotonic() - began
    assert info.value.code == "DEADLINE_EXCEEDED"
    assert info.value.note is not None and "timeout=2s" in info.value.note
    assert 1.5 < took < 5, took


# Addresses from TEST-NET-1 (RFC 5737): never routed, and never dialled
# here (a channel connects on its first call; these make none).
@pytest.mark.parametrize("target", ["192.0.2.10:50051", "dns:///192.0.2.10:50051", "ipv4:127.0.0.1:1,192.0.2.10:1"])
def test_plaintext_token_to_another_host_warns(target: str) -> None:
    with pytest.warns(loadsvc.InsecureTokenWarning, match="token goes over plaintext") as record:
        loadsvc.Client(target, token="secret-token").close()
    assert "secret-token" not in str(record[0].message)
    assert record[0].filename == __file__  # points at the caller


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": "127.0.0.1:50051", "token": "t"},
        {"target": "localhost:50051", "token": "t"},
        {"target": "[::1]:50051", "token": "t"},
        {"target": "unix:/run/loadsvc.sock", "token": "t"},
        {"target": "192.0.2.10:50051"},  # no token
        {"target": "192.0.2.10:50051", "token": "t", "tls": True},
    ],
)
def test_no_warning_for_loopback_tls_or_no_token(kwargs: dict[str, object]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loadsvc.Client(**kwargs).close()


@pytest.mark.parametrize(
    "target, want",
    [
        ("127.0.0.1:50051", True),
        ("127.8.0.1:50051", True),
        ("localhost:50051", True),
        ("LOCALHOST.:1", True),
        ("[::1]:50051", True),
        ("::1", True),
        ("dns:///localhost:50051", True),
        ("dns://8.8.8.8/localhost:50051", True),
        ("ipv4:127.0.0.1:1,127.0.0.2:2", True),
        ("ipv6:[::1]:50051", True),
        ("unix:/tmp/s", True),
        ("unix-abstract:s", True),
        ("loadsvc:50051", False),
        ("10.0.0.1:50051", False),
        ("[2001:db8::1]:50051", False),
        ("dns:///loadsvc.internal:50051", False),
        ("ipv4:127.0.0.1:1,10.0.0.1:1", False),
        ("localhost.evil.example:1", False),
    ],
)
def test_is_loopback(target: str, want: bool) -> None:
    assert is_loopback(target) is want
