"""The Python client against the other ways to load from Python (make
bench-python).

Loads the same rows (BENCH_ROWS, default 200,000; 7 columns: a date, two
text keys, three Decimals into numeric(18,4), a text) into the same
PostgreSQL and prints rows/s side by side with the client's ratio to each.

Append, each way paying for its own conversion from the rows it is given:

- the client, ``append``, from the list of dicts and from a pandas
  DataFrame of the same rows;
- asyncpg's binary ``copy_records_to_table``, with records from the dicts
  and from the DataFrame (``itertuples``);
- psycopg 3's ``COPY ... FROM STDIN`` with ``write_row``;
- psycopg2's ``execute_values`` in pages of 1,000 (the old loader).

Targets: the client's append at least 0.9x asyncpg for the list of dicts
and 1.0x for the DataFrame (x = the other's time over the client's), and
4x psycopg2. The fast ways run BENCH_RUNS times (default 5) in interleaved
rounds, each into an emptied table; the fastest round counts, and the
ratios of the median rounds are printed beside;
psycopg2, the slowest by far, runs once. Beside wall time it prints the CPU
each way cost: this process's (the client's encoding; asyncpg's and
psycopg's whole work), the service's (LOADSVC_TEST_PID) and PostgreSQL's
backends' on the database, read from /proc: on a shared machine, where wall
times swing from round to round, the CPU a way costs is the steadier
figure. "encode alone" is the client's encoding of every message with no
service.

delete_insert, once each: the client over the full key (date, k2, k3) into
a table that holds those keys, against the old loader's way: ``DELETE ...
WHERE (k1, k2, k3) IN (...)`` in chunks of 1,000 key tuples, then
``execute_values``, in one transaction (target 15x).

For scale it also times PostgreSQL's own share of a loadsvc load, with no
client or service in between: psycopg2 ``COPY`` of the same rows (as text)
into a TEMP stage, then ``INSERT ... SELECT`` (and for delete_insert a
``DELETE ... USING`` the stage first), in one transaction, from COPY text
built before the clock starts.

The tables are shaped like the pipeline's: no unique constraint on the key,
and an index on it (the one the old loader's chunked DELETE needs). Run it
through test/python (``make bench-python``), which starts loadsvc (with
mTLS and a token, as in production) and PostgreSQL and sets the
LOADSVC_TEST_* variables.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import io
import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import asyncpg
import pandas
import psycopg
import psycopg2
import psycopg2.extras

import loadsvc
from loadsvc._frame import Frame
from loadsvc._values import Columns, encode_rows

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

TABLES = ["client_rows", "client_frame", "asyncpg_rows", "asyncpg_frame", "psycopg3", "psycopg2", "floor"]


def make_rows(n: int) -> list[dict[str, Any]]:
    """n rows with distinct (day, k2, k3), as a worker reads them: a month,
    texts, amounts as Decimals."""
    months = [dt.date(2023 + m // 12, m % 12 + 1, 1) for m in range(12)]
    cents = decimal.Decimal("0.01")
    return [
        {
            "day": months[i % 12],
            "k2": f"业务{i % 50:02d}",
            "k3": f"K{i:07d}",
            "a": decimal.Decimal(i * 125) * cents,
            "b": decimal.Decimal(i * 50 + 25) * cents,
            "c": decimal.Decimal(i % 1000),
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


def psycopg3_copy(conn: Any, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """psycopg 3's COPY FROM STDIN, one write_row per row."""
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(r[c] for c in COLUMNS))
    conn.commit()


class Asyncpg:
    """asyncpg's binary copy_records_to_table on one connection."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(url))

    def copy(self, table: str, records: Callable[[], list[tuple[Any, ...]]]) -> None:
        """Copy the records (made inside the clock) into table."""

        async def run() -> None:
            await self.conn.copy_records_to_table(table, records=records(), columns=COLUMNS)

        self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


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


def cpu() -> float:
    """CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds of process pid so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


class Cost(NamedTuple):
    """What one load took: wall seconds, and CPU seconds of this process,
    the service and PostgreSQL's backends on the database."""

    wall: float
    python: float
    service: float
    postgres: float

    @property
    def cpu(self) -> float:
        return self.python + self.service + self.postgres


class Meter:
    """Measures a load's Cost."""

    def __init__(self, conn: Any, service_pid: int) -> None:
        self.conn = conn
        self.service_pid = service_pid

    def backends(self) -> dict[int, float]:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            pids = [pid for (pid,) in cur.fetchall()]
        self.conn.commit()
        return {pid: proc_cpu(pid) for pid in pids}

    def __call__(self, f: Callable[[], object]) -> Cost:
        backends, service, python = self.backends(), proc_cpu(self.service_pid), cpu()
        wall = time.perf_counter()
        f()
        wall = time.perf_counter() - wall
        python, service = cpu() - python, proc_cpu(self.service_pid) - service
        postgres = sum(secs - backends.get(pid, 0.0) for pid, secs in self.backends().items())
        return Cost(wall, python, service, postgres)


def timed(f: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of f()."""
    wall, began = time.perf_counter(), cpu()
    f()
    return time.perf_counter() - wall, cpu() - began


def encode_alone(rows: list[dict[str, Any]], frame: pandas.DataFrame, batch: int) -> tuple[float, float]:
    """CPU seconds of the client's encoding of every message (into the
    request, then serialized, as on the wire), from the dicts and from the
    frame, with no service."""
    from loadsvc.v1 import loadsvc_pb2 as pb

    def dicts() -> None:
        columns = Columns()
        for start in range(0, len(rows), batch):
            msg = pb.LoadStreamRequest()
            encode_rows(rows[start : start + batch], start, columns, msg.typed_rows)
            msg.SerializeToString()

    def frames() -> None:
        columns, prepared = Columns(), Frame(frame)
        for start in range(0, len(frame), batch):
            msg = pb.LoadStreamRequest()
            prepared.encode(start, min(start + batch, len(frame)), start, columns, msg.typed_rows)
            msg.SerializeToString()

    return min(timed(dicts)[1] for _ in range(3)), min(timed(frames)[1] for _ in range(3))


def main() -> None:
    n = int(os.environ.get("BENCH_ROWS", "200000"))
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    url = os.environ["LOADSVC_TEST_DATABASE_URL"]
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        for name in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(DDL.format(name=name))
    conn.commit()

    def truncate(*tables: str) -> None:
        with conn.cursor() as cur:
            cur.execute(f"TRUNCATE {', '.join(tables)}")
        conn.commit()

    rows = make_rows(n)
    frame = pandas.DataFrame(rows)
    client = loadsvc.Client(
        os.environ["LOADSVC_TEST_TARGET"],
        token=os.environ["LOADSVC_TEST_TOKEN"],
        root_certificates=os.environ["LOADSVC_TEST_CA"],
        certificate_chain=os.environ["LOADSVC_TEST_CLIENT_CERT"],
        private_key=os.environ["LOADSVC_TEST_CLIENT_KEY"],
        timeout=600,
    )
    apg = Asyncpg(url)
    pg3 = psycopg.connect(url)
    measure = Meter(conn, int(os.environ["LOADSVC_TEST_PID"]))
    # Warm up the service's pooled session and asyncpg's and psycopg's
    # type introspection before the clock starts.
    client.load("floor", rows[:10], "append")
    apg.copy("floor", lambda: [tuple(r[c] for c in COLUMNS) for r in rows[:10]])
    psycopg3_copy(pg3, "floor", rows[:10])
    truncate("floor")

    fast: dict[str, tuple[str, Callable[[], object]]] = {
        "client, list of dicts": ("client_rows", lambda: client.load("client_rows", rows, "append")),
        "client, DataFrame": ("client_frame", lambda: client.load("client_frame", frame, "append")),
        "asyncpg, list of dicts": (
            "asyncpg_rows",
            lambda: apg.copy("asyncpg_rows", lambda: [tuple(r[c] for c in COLUMNS) for r in rows]),
        ),
        "asyncpg, DataFrame": (
            "asyncpg_frame",
            lambda: apg.copy("asyncpg_frame", lambda: list(frame.itertuples(index=False, name=None))),
        ),
        "psycopg 3 COPY": ("psycopg3", lambda: psycopg3_copy(pg3, "psycopg3", rows)),
    }
    best: dict[str, Cost] = {}
    rounds: dict[str, list[float]] = {name: [] for name in fast}
    for _ in range(runs):
        for name, (table, load) in fast.items():
            truncate(table)
            cost = measure(load)
            rounds[name].append(cost.wall)
            if name not in best or cost.wall < best[name].wall:
                best[name] = cost
    best["psycopg2 execute_values"] = measure(lambda: pg_append(conn, "psycopg2", rows))
    text = copy_text(rows)
    floor_append = timed(lambda: pg_floor(conn, "floor", text, delete=False))[0]

    with conn.cursor() as cur:
        for name in ("client_rows", "psycopg2", "floor"):
            cur.execute(f"ANALYZE {name}")
    conn.commit()
    di: dict[str, Any] = {}
    client_di = timed(lambda: di.update(client.load("client_rows", rows, "delete_insert", pk=KEY)))[0]
    old_di = timed(lambda: pg_delete_insert(conn, "psycopg2", rows))[0]
    floor_di = timed(lambda: pg_floor(conn, "floor", text, delete=True))[0]

    with conn.cursor() as cur:
        for name in TABLES:
            cur.execute(f"SELECT count(*) FROM {name}")
            (count,) = cur.fetchone()
            assert count == n, (name, count)
        cur.execute("SELECT count(*) FROM (SELECT * FROM client_frame EXCEPT SELECT * FROM asyncpg_rows) d")
        assert cur.fetchone() == (0,), "the client's rows differ from asyncpg's"
    assert (di["deleted"], di["inserted"]) == (n, n), di
    enc_rows, enc_frame = encode_alone(rows, frame, loadsvc.DEFAULT_BATCH_ROWS)
    client.close()
    apg.close()
    pg3.close()
    conn.close()

    print(f"bench-python: {n:,} rows x {len(COLUMNS)} columns (a date, texts, 3 Decimals), append: fastest of {runs} rounds")
    print(
        f"  {'append':<24} {'wall':>7} {'rows/s':>9}   CPU: {'python':>6} {'service':>7} {'postgres':>8} {'total':>6}"
        "   the client (dicts / DataFrame) against it: wall, CPU"
    )
    ours = best["client, list of dicts"], best["client, DataFrame"]
    for name, c in best.items():
        vs = ""
        if not name.startswith("client"):
            vs = f"   {c.wall / ours[0].wall:4.2f}x / {c.wall / ours[1].wall:4.2f}x, {c.cpu / ours[0].cpu:4.2f}x / {c.cpu / ours[1].cpu:4.2f}x"
        print(
            f"  {name:<24} {c.wall:6.3f}s {n / c.wall:9,.0f}        {c.python:5.2f}s {c.service:6.2f}s {c.postgres:7.2f}s "
            f"{c.cpu:5.2f}s{vs}"
        )
    print(f"  client encode alone (CPU, every message serialized): dicts {enc_rows:.3f}s, DataFrame {enc_frame:.3f}s")
    print("  rounds (s): " + "; ".join(f"{k} {' '.join(f'{w:.3f}' for w in v)}" for k, v in rounds.items()))
    targets = [
        ("client, list of dicts", "asyncpg, list of dicts", 0.9),
        ("client, DataFrame", "asyncpg, DataFrame", 1.0),
        ("client, DataFrame", "asyncpg, list of dicts", 1.0),
        ("client, list of dicts", "psycopg2 execute_values", 4.0),
    ]
    for client_way, theirs, target in targets:
        ratio = best[theirs].wall / best[client_way].wall
        cpu_ratio = best[theirs].cpu / best[client_way].cpu
        median = ""
        if theirs in rounds:
            median = f", median rounds {statistics.median(rounds[theirs]) / statistics.median(rounds[client_way]):5.2f}x"
        print(f"  ratio {client_way} vs {theirs}: {ratio:5.2f}x (target >= {target}x){median}; CPU {cpu_ratio:5.2f}x")
    print(f"  ratio delete_insert: client {old_di / client_di:5.1f}x psycopg2 chunked DELETE + execute_values (target >= 15x)")
    for name, secs, client_secs, old in [
        ("append", floor_append, ours[0].wall, best["psycopg2 execute_values"].wall),
        ("delete_insert", floor_di, client_di, old_di),
    ]:
        print(
            f"  PostgreSQL alone, {name:<13} {secs:6.3f} s (COPY into a stage + SQL): the client takes "
            f"{client_secs / secs:.2f}x that; a client as fast as PostgreSQL alone would reach {old / secs:.1f}x"
        )


if __name__ == "__main__":
    main()
