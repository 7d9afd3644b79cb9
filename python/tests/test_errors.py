"""Each error class raised by a real cause, and retries across a database
restart."""

from __future__ import annotations

import threading

import grpc
import pytest

import loadsvc


def test_unique_violation_is_load_failed(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
    client.load(table, [{"k": 1, "v": "a"}], "append")
    with pytest.raises(loadsvc.LoadFailed) as info:
        client.load(table, [{"k": 2, "v": "b"}, {"k": 1, "v": "again"}], "append")
    e = info.value
    assert isinstance(e, loadsvc.LoadError) and not e.retryable
    assert e.code == "ALREADY_EXISTS" and type(e.code) is str
    assert e.grpc_code is grpc.StatusCode.ALREADY_EXISTS
    assert str(e).startswith("ALREADY_EXISTS: load failed: ")
    assert e.reason == "LOAD_FAILED"
    assert (e.sqlstate, e.constraint, e.table) == ("23505", f"{table}_pkey", table)
    assert e.message.startswith("load failed: ")
    assert db.scalar(f"SELECT count(*) FROM {table}") == "1"


def test_bad_value_is_load_failed(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int, day date)")
    with pytest.raises(loadsvc.LoadFailed) as info:
        client.load(table, [{"k": 1, "day": "not a date"}], "append")
    assert info.value.code == "INVALID_ARGUMENT"
    assert info.value.sqlstate is not None and info.value.sqlstate.startswith("22")


def test_database_down_is_connection_failed(connect, control, table: str) -> None:
    control.stop_db()
    try:
        with pytest.raises(loadsvc.ConnectionFailed) as info:
            connect(max_attempts=2).load(table, [{"k": 1}], "append")
    finally:
        control.start_db()
    e = info.value
    assert e.code == "UNAVAILABLE" and e.retryable
    assert e.reason == "DATABASE_CONNECTION_FAILED"
    assert e.message.startswith("database connection failed: ")


def test_retries_across_a_database_restart(connect, control, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
    control.stop_db()
    restart = threading.Timer(1.0, control.start_db)
    restart.start()
    try:
        result = connect(max_attempts=15).load(table, [{"k": i, "v": "x"} for i in range(3)], "append")
    finally:
        restart.join()
        control.start_db()
    assert result.inserted == 3
    assert db.scalar(f"SELECT count(*) FROM {table}") == "3"


def test_upsert_without_pk_is_invalid_request(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
    with pytest.raises(loadsvc.InvalidRequest) as info:
        client.load(table, [{"k": 1, "v": "a"}], "upsert")
    e = info.value
    assert e.code == "INVALID_ARGUMENT" and not e.retryable
    assert e.field is not None and "pk" in e.field


def test_missing_key_value_names_the_row(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int, v text)")
    with pytest.raises(loadsvc.InvalidRequest) as info:
        client.load(table, [{"k": 1, "v": "a"}, {"v": "no key"}], "delete_insert", pk=["k"])
    assert info.value.row == 1
    assert info.value.field is not None and info.value.field.startswith("rows[1]")


def test_client_side_invalid_requests(client: loadsvc.Client) -> None:
    with pytest.raises(loadsvc.InvalidRequest) as info:
        client.load("t", [{"k": 1}], "sideways")
    assert info.value.field == "config.mode"
    with pytest.raises(loadsvc.InvalidRequest) as info:
        client.load("t", [{"k": 1}], duplicates="keep_some")
    assert info.value.field == "config.duplicates"
    with pytest.raises(loadsvc.InvalidRequest) as info:
        client.load("t", [{"k": 1}, {"k": object()}], "append")
    assert (info.value.row, info.value.field) == (1, "rows[1].k")


def test_unknown_token_is_unauthenticated(connect, table: str) -> None:
    with pytest.raises(loadsvc.Unauthenticated) as info:
        connect(token="not-a-token-the-service-knows").load(table, [{"k": 1}], "append")
    assert info.value.code == "UNAUTHENTICATED"


def test_mtls_is_required(connect, target: str, token: str, tls: dict[str, str], table: str) -> None:
    # no client certificate: the handshake fails, the service is not reached
    with pytest.raises(loadsvc.LoadError) as info:
        connect(max_attempts=1, private_key=None, certificate_chain=None).load(table, [{"k": 1}], "append")
    assert info.value.code == "UNAVAILABLE" and info.value.reason is None
    # plaintext to a TLS port fails the same way
    with loadsvc.Client(target, token=token, max_attempts=1) as plain:
        with pytest.raises(loadsvc.LoadError) as info:
            plain.load(table, [{"k": 1}], "append")
    assert info.value.code == "UNAVAILABLE"
    # PEM bytes work as well as paths
    with open(tls["root_certificates"], "rb") as ca:
        pem_client = connect(root_certificates=ca.read())
    assert pem_client.load(table, [], "append", plan_only=True).inserted == 0


def test_too_many_rows_is_resource_exhausted(connect, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int)")
    # One unary Load of more rows than the service's --max-rows (100,000).
    with pytest.raises(loadsvc.ResourceExhausted) as info:
        connect(batch_rows=200_000).load(table, [{"k": i} for i in range(100_001)], "append")
    assert info.value.code == "RESOURCE_EXHAUSTED"
