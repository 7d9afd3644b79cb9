"""Loads through a live service: the pipeline's refresh-key delete_insert,
plans that psql runs, streamed loads and the Writer (its cancel, its
memory)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import loadsvc

AMOUNTS = ["期初资产规模", "期末资产规模", "供款", "流失_含待遇支付", "流失", "待遇支付", "投资收益"]

SCALE_TABLE = f"""
CREATE SCHEMA business;
CREATE TABLE business."规模明细" (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "月度" date NOT NULL,
    "业务类型" varchar(255),
    "计划类型" varchar(255),
    "计划代码" varchar(255) NOT NULL,
    "计划名称" varchar(255),
    "组合代码" varchar(255),
    "客户名称" varchar(255),
    company_id varchar(50) NOT NULL,
    {", ".join(f'"{a}" DECIMAL(18,4)' for a in AMOUNTS)},
    "当期收益率" DECIMAL(10,6),
    "年化收益率" DECIMAL(10,6),
    created_at timestamptz DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ON business."规模明细" ("月度");
CREATE INDEX ON business."规模明细" ("业务类型");
CREATE INDEX ON business."规模明细" ("计划类型");
CREATE FUNCTION business.touch() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.updated_at := CURRENT_TIMESTAMP; RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON business."规模明细"
    FOR EACH ROW EXECUTE FUNCTION business.touch();
"""

KEY = ["月度", "业务类型", "计划类型"]


def scale_rows(month: dt.date, business: str, plan: str, n: int, tag: str) -> Iterator[dict[str, object]]:
    """n rows of one refresh-key tuple, as a worker reads them from Excel."""
    for i in range(n):
        row: dict[str, object] = {
            "月度": month,
            "业务类型": business,
            "计划类型": plan,
            "计划代码": f"P{i % 37:04d}",
            "计划名称": f"计划 {i % 37}",
            "组合代码": f"{tag}-{i}",
            "客户名称": f"客户 {i % 11}",
            "company_id": f"C{i % 5}",
            "当期收益率": decimal.Decimal("0.012345"),
            "年化收益率": None if i % 7 == 0 else decimal.Decimal("0.051234"),
        }
        for j, a in enumerate(AMOUNTS):
            row[a] = decimal.Decimal(i * 1000 + j) / 100
        yield row


def test_refresh_key_delete_insert(client: loadsvc.Client, db) -> None:
    db.run(SCALE_TABLE)
    oct_, nov = dt.date(2024, 10, 1), dt.date(2024, 11, 1)
    for month, business, plan, n in [
        (oct_, "企年受托", "集合计划", 300),
        (oct_, "企年投资", "单一计划", 200),
        (nov, "企年受托", "集合计划", 100),
    ]:
        r = client.load("规模明细", scale_rows(month, business, plan, n, "old"), "append", schema="business")
        assert r.inserted == n
    # The monthly reload of one key tuple: 450 rows share it, and a new
    # tuple comes with 50 more.
    batch = [*scale_rows(oct_, "企年受托", "集合计划", 450, "new"), *scale_rows(oct_, "职年受托", "集合计划", 50, "new")]
    result = client.load("规模明细", batch, "delete_insert", pk=KEY, schema="business")
    assert (result["mode"], result["deleted"], result["inserted"]) == ("delete_insert", 300, 500)
    assert result.get("duplicates_dropped", 0) == 0
    got = db.rows(
        """SELECT "月度", "业务类型", "计划类型", count(*), count(*) FILTER (WHERE "组合代码" LIKE 'new-%')
        FROM business."规模明细" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    )
    assert got == [
        ("2024-10-01", "企年受托", "集合计划", "450", "450"),
        ("2024-10-01", "企年投资", "单一计划", "200", "0"),
        ("2024-10-01", "职年受托", "集合计划", "50", "50"),
        ("2024-11-01", "企年受托", "集合计划", "100", "0"),
    ]
    want = sum(decimal.Decimal(i * 1000 + 6) / 100 for n in (450, 50) for i in range(n))
    got_sum = db.scalar("""SELECT sum("投资收益") FROM business."规模明细" WHERE "组合代码" LIKE 'new-%'""")
    assert decimal.Decimal(got_sum or "0") == want
    # Reloading the same batch deletes what the first reload inserted.
    again = client.load("规模明细", batch, "delete_insert", pk=KEY, schema="business")
    assert (again.deleted, again.inserted) == (500, 500)


def test_plan_script_runs_in_psql(client: loadsvc.Client, db, table: str, tmp_path: Path) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, v text, day date)")
    db.run(f"INSERT INTO {table} VALUES (1, 'old', '2024-01-01'), (9, 'keep', NULL)")
    rows = [{"k": 1, "v": "new", "day": dt.date(2024, 11, 1)}, {"k": 2, "v": "it's", "day": None}]
    plan = client.load(table, rows, "delete_insert", pk=["k"], plan_only=True)
    assert plan.sql_script and plan.statements
    assert (plan.deleted, plan.inserted, plan.rows) == (2, 2, 2)
    assert db.rows(f"SELECT k, v FROM {table} ORDER BY k") == [("1", "old"), ("9", "keep")]
    script = tmp_path / "plan.sql"
    script.write_text(plan.sql_script)
    db.run_file(str(script))
    assert db.rows(f"SELECT k, v, day FROM {table} ORDER BY k") == [
        ("1", "new", "2024-11-01"),
        ("2", "it's", None),
        ("9", "keep", None),
    ]


def test_generator_and_long_list_stream(connect, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
    c = connect(batch_rows=1000)
    r = c.load(table, ({"k": i, "v": str(i)} for i in range(2500)), "append", chunk_size=500)
    assert (r.inserted, r.rows, r.batches) == (2500, 2500, 5)
    # a list longer than one message streams too; delete_insert by k. By
    # default its three messages are staged by one COPY (DEFAULT_CHUNK_SIZE).
    r = c.load(table, [{"k": i, "v": "again"} for i in range(1500, 4000)], "delete_insert", pk="k")
    assert (r.deleted, r.inserted, r.batches) == (1000, 2500, 1)
    assert [s.rows for s in r.statements if s.sql.startswith("COPY ")] == [2500]
    assert db.rows(f"SELECT count(*), count(*) FILTER (WHERE v = 'again') FROM {table}") == [("4000", "2500")]


def test_writer(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, v text, x float8)")
    with client.writer(table, "append") as w:
        w.write({"k": 0, "v": "zero"})
        w.write_many({"k": i, "x": i / 2} for i in range(1, 12000))
        w.write_many([{"k": 12000, "v": "last"}])
    assert w.result is not None
    assert (w.result["inserted"], w.result.rows, w.result["mode"]) == (12001, 12001, "append")
    assert dict(w.result)["table"] == table
    assert db.rows(f"SELECT count(*), count(v), max(k) FROM {table}") == [("12001", "2", "12000")]


def test_writer_exception_cancels(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY)")
    with pytest.raises(RuntimeError, match="boom"):
        with client.writer(table, "append") as w:
            w.write_many({"k": i} for i in range(12000))  # two messages are on the wire
            raise RuntimeError("boom")
    assert w.result is None
    assert db.scalar(f"SELECT count(*) FROM {table}") == "0"


def test_writer_refuses_a_later_column(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
    with pytest.raises(loadsvc.InvalidRequest) as info:
        with client.writer(table, "append") as w:
            w.write_many({"k": i} for i in range(loadsvc.DEFAULT_BATCH_ROWS))
            w.write_many({"k": i, "v": "x"} for i in range(10**5, 10**5 + loadsvc.DEFAULT_BATCH_ROWS))
    assert info.value.row == loadsvc.DEFAULT_BATCH_ROWS
    assert info.value.field == f"rows[{loadsvc.DEFAULT_BATCH_ROWS}].v"
    assert db.scalar(f"SELECT count(*) FROM {table}") == "0"


RSS_SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys
    import loadsvc

    def peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    target, token, table = sys.argv[1:]
    tls = {
        "root_certificates": os.environ["LOADSVC_TEST_CA"],
        "certificate_chain": os.environ["LOADSVC_TEST_CLIENT_CERT"],
        "private_key": os.environ["LOADSVC_TEST_CLIENT_KEY"],
    }
    with loadsvc.Client(target, token=token, timeout=600, **tls) as client:
        client.load(table, [{"k": -1, "name": "warm-up", "amount": 0.5}], "append")
        before = peak_mib()

        def rows():
            for i in range(1_000_000):
                yield {"k": i, "name": f"row {i}", "amount": i * 0.25}

        with client.writer(table, "append") as w:
            for row in rows():
                w.write(row)
        print(json.dumps({"before": before, "after": peak_mib(), "inserted": w.result.inserted}))
    """
)


def test_writer_million_rows_in_constant_memory(target: str, token: str, db, table: str) -> None:
    db.run(f"CREATE UNLOGGED TABLE {table} (k int, name text, amount float8)")
    proc = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, target, token, table],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["inserted"] == 1_000_000
    growth = out["after"] - out["before"]
    print(f"writer: 1,000,000 rows, peak RSS {out['before']:.1f} -> {out['after']:.1f} MiB (+{growth:.1f})")
    assert growth < 100, out
    assert db.scalar(f"SELECT count(*) FROM {table}") == "1000001"


def test_dry_run_counts_and_writes_nothing(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int, v text)")
    db.run(f"INSERT INTO {table} VALUES (1, 'a'), (1, 'b'), (2, 'c'), (3, 'd')")
    rows = [{"k": 1, "v": "new"}, {"k": 2, "v": "new"}, {"k": 4, "v": "new"}]
    result = client.load(table, rows, "delete_insert", pk=["k"], dry_run=True)
    assert result.dry_run and not result.replayed
    assert (result.deleted, result.inserted, result.sql_script) == (3, 3, None)
    assert db.rows(f"SELECT k, v FROM {table} ORDER BY k, v") == [("1", "a"), ("1", "b"), ("2", "c"), ("3", "d")]
