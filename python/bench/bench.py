"""The Python client against the old psycopg2 loader (make bench-python).

Loads the same rows (BENCH_ROWS, default 200,000; 7 columns: a date, two
text keys, three numerics, a text) four ways, each once, and prints rows/s
and the two ratios the issue sets targets for:

- the client, ``append``, vs psycopg2 ``execute_values`` in pages of 1,000;
- the client, ``delete_insert`` over the full key (date, k2, k3) into a
  table that holds those keys, vs the old loader's way: ``DELETE ... WHERE
  (k1, k2, k3) IN (...)`` in chunks of 1,000 key tuples, then
  ``execute_values``, in one transaction.

For scale it also times PostgreSQL's own share of a loadsvc load, with no
client or service in between: psycopg2 ``COPY`` of the same rows (as text)
into a TEMP stage, then ``INSERT ... SELECT`` (and for delete_insert a
``DELETE ... USING`` the stage first), in one transaction, from COPY text
built before the clock starts. That is about the least time any client of
the service can take.

Both tables are shaped like the pipeline's: no unique constraint on the
key, and an index on it (the one the old loader's chunked DELETE needs). Every way starts from the same list of
dicts and pays for its own
conversion (the old loader turns dicts into tuples). Run it through
test/python (``make bench-python``), which starts loadsvc (with mTLS and a
token, as in production) and PostgreSQL and sets the LOADSVC_TEST_*
variables.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg2
import psycopg2.extras

import loadsvc

COLUMNS = ["day", "k2", "k3", "a", "b", "c", "note"]
KEY = ["day", "k2", "k3"]
PAGE = 1000  # psycopg2 page size, and key tuples per DELETE chunk

DDL = """
CREATE TABLE {name} (
    day date NOT NULL,
    k2 varchar(255) NOT NULL,
    k3 varchar(255) NOT NULL,
    a numeric(18,4),
    b numeric(18,4),
    c numeric(18,4),
    note varchar(255)
);
CREATE INDEX ON {name} (day, k2, k3);
"""


def make_rows(n: int) -> list[dict[str, Any]]:
    """n rows with distinct (day, k2, k3), as a worker reads them."""
    months = [dt.date(2023 + m // 12, m % 12 + 1, 1) for m in range(12)]
    return [
        {
            "day": months[i % 12],
            "k2": f"业务{i % 50:02d}",
            "k3": f"K{i:07d}",
            "a": round(i * 1.25, 2),
            "b": round(i * 0.5 + 0.25, 2),
            "c": float(i % 1000),
            "note": f"客户名称 {i % 997}",
        }
        for i in range(n)
    ]


def pg_append(conn: Any, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """The old loader's append: execute_values in pages of 1,000."""
    tuples = [tuple(r[c] for c in COLUMNS) for r in rows]
    with conn.cursor() as cur:
        psycopg2.extras.execute_values(
            cur, f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES %s", tuples, page_size=PAGE
        )
    conn.commit()


def pg_delete_insert(conn: Any, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """The old loader's delete_insert: DELETE ... WHERE (k1, k2, k3) IN
    (...) in chunks of 1,000 key tuples, then execute_values; one
    transaction."""
    keys = list(dict.fromkeys(tuple(r[k] for k in KEY) for r in rows))
    with conn.cursor() as cur:
        for start in range(0, len(keys), PAGE):
            cur.execute(
                f"DELETE FROM {table} WHERE ({', '.join(KEY)}) IN %s", (tuple(keys[start : start + PAGE]),)
            )
    pg_append(conn, table, rows)


def copy_text(rows: Sequence[dict[str, Any]]) -> str:
    """rows as COPY text (none of them holds a tab, newline or NULL)."""
    return "".join("\t".join(str(r[c]) for c in COLUMNS) + "\n" for r in rows)


def pg_floor(conn: Any, table: str, text: str, delete: bool) -> None:
    """PostgreSQL's share of a staged load: COPY text that is ready into a
    TEMP stage, then (DELETE USING the stage and) INSERT SELECT."""
    cols = ", ".join(COLUMNS)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE stage ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
        cur.copy_expert(f"COPY stage ({cols}) FROM STDIN", io.StringIO(text))
        cur.execute("ANALYZE stage")
        if delete:
            match = " AND ".join(f"t.{k} = s.{k}" for k in KEY)
            cur.execute(f"DELETE FROM {table} AS t USING (SELECT DISTINCT {', '.join(KEY)} FROM stage) AS s WHERE {match}")
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stage")
    conn.commit()


def timed(f: Callable[[], object]) -> float:
    began = time.perf_counter()
    f()
    return time.perf_counter() - began


def main() -> None:
    n = int(os.environ.get("BENCH_ROWS", "200000"))
    url = os.environ["LOADSVC_TEST_DATABASE_URL"]
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        for name in ("via_client", "via_psycopg2", "floor"):
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(DDL.format(name=name))
    conn.commit()

    rows = make_rows(n)
    client = loadsvc.Client(
        os.environ["LOADSVC_TEST_TARGET"],
        token=os.environ["LOADSVC_TEST_TOKEN"],
        root_certificates=os.environ["LOADSVC_TEST_CA"],
        certificate_chain=os.environ["LOADSVC_TEST_CLIENT_CERT"],
        private_key=os.environ["LOADSVC_TEST_CLIENT_KEY"],
        timeout=600,
    )
    # Warm up the service's pooled session before the clock starts.
    client.load("floor", rows[:10], "append")
    with conn.cursor() as cur:
        cur.execute("TRUNCATE floor")
    conn.commit()

    results: dict[str, float] = {}
    results["client append"] = timed(lambda: client.load("via_client", rows, "append"))
    results["psycopg2 append"] = timed(lambda: pg_append(conn, "via_psycopg2", rows))
    text = copy_text(rows)
    floor_append = timed(lambda: pg_floor(conn, "floor", text, delete=False))
    with conn.cursor() as cur:
        cur.execute("ANALYZE via_client; ANALYZE via_psycopg2; ANALYZE floor")
    conn.commit()
    di: dict[str, Any] = {}
    results["client delete_insert"] = timed(
        lambda: di.update(client.load("via_client", rows, "delete_insert", pk=KEY))
    )
    results["psycopg2 delete_insert"] = timed(lambda: pg_delete_insert(conn, "via_psycopg2", rows))
    floor_delete_insert = timed(lambda: pg_floor(conn, "floor", text, delete=True))

    with conn.cursor() as cur:
        for name in ("via_client", "via_psycopg2", "floor"):
            cur.execute(f"SELECT count(*) FROM {name}")
            (count,) = cur.fetchone()
            assert count == n, (name, count)
    assert (di["deleted"], di["inserted"]) == (n, n), di
    client.close()
    conn.close()

    print(f"bench-python: {n:,} rows x {len(COLUMNS)} columns, one run each")
    for name, secs in results.items():
        print(f"  {name:<24} {secs:8.3f} s {n / secs:12,.0f} rows/s")
    append = results["psycopg2 append"] / results["client append"]
    delete_insert = results["psycopg2 delete_insert"] / results["client delete_insert"]
    print(f"  ratio append:        client {append:5.1f}x psycopg2 execute_values (target >= 4x)")
    print(f"  ratio delete_insert: client {delete_insert:5.1f}x psycopg2 chunked DELETE + execute_values (target >= 15x)")
    for name, secs, client_secs, old in [
        ("append", floor_append, results["client append"], results["psycopg2 append"]),
        ("delete_insert", floor_delete_insert, results["client delete_insert"], results["psycopg2 delete_insert"]),
    ]:
        print(
            f"  PostgreSQL alone, {name:<13} {secs:6.3f} s (COPY into a stage + SQL): the client takes "
            f"{client_secs / secs:.2f}x that; a client as fast as PostgreSQL alone would reach {old / secs:.1f}x"
        )


if __name__ == "__main__":
    main()
