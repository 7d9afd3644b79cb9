"""The value mapping: which typed array each Python value travels in
(without a service), and every row of the mapping round-tripping through a
real table."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import sys
import uuid
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import loadsvc
from loadsvc._frame import Frame
from loadsvc._values import Columns, encode_rows

UTC8 = dt.timezone(dt.timedelta(hours=8))


def arrays(values: list[object]) -> dict[str, list[object]]:
    """The non-empty fields of the TypedColumn that values encode to, a
    text_block as the list of its texts."""
    (col,) = encode_rows([{"c": v} for v in values], 0, Columns()).columns
    return {f.name: block_texts(v) if f.name == "text_block" else list(v) for f, v in col.ListFields() if f.name != "name"}


def block_texts(block: bytes) -> list[object]:
    """The texts of a text_block, each followed by a NUL."""
    assert block.endswith(b"\0")
    return [t.decode() for t in block[:-1].split(b"\0")]


@pytest.mark.parametrize(
    "values, field, want",
    [
        ([1, -(2**63), 2**63 - 1], "int64s", [1, -(2**63), 2**63 - 1]),
        ([1, 2**63], "text_block", ["1", "9223372036854775808"]),
        ([0.5, math.inf], "float64s", [0.5, math.inf]),
        ([True, False], "bools", [True, False]),
        (["a", "年金"], "text_block", ["a", "年金"]),
        ([decimal.Decimal("1.2300"), decimal.Decimal("1E+3")], "text_block", ["1.2300", "1000"]),
        ([dt.date(2024, 11, 1)], "text_block", ["2024-11-01"]),
        ([dt.time(8, 30, 0, 5)], "text_block", ["08:30:00.000005"]),
        ([dt.datetime(2024, 11, 1, 8, 30)], "text_block", ["2024-11-01T08:30:00"]),
        ([dt.datetime(1970, 1, 1, 8, 0, 0, 7, tzinfo=UTC8)], "timestamp_micros", [7]),
        ([uuid.UUID(int=1)], "text_block", ["00000000-0000-0000-0000-000000000001"]),
        ([b"\x00", bytearray(b"a"), memoryview(b"b")], "bytes_values", [b"\x00", b"a", b"b"]),
        ([{"a": [1, "年"]}, [1, None]], "json_values", ['{"a":[1,"年"]}', "[1,null]"]),
        ([np.int32(3), np.int64(-4)], "int64s", [3, -4]),
        ([np.float32(0.5), np.float64(1.5)], "float64s", [0.5, 1.5]),
        ([np.bool_(True)], "bools", [True]),
        # mixed kinds: each value's PostgreSQL text form
        ([1, 2.5, 1e16, "x"], "text_block", ["1", "2.5", "10000000000000000", "x"]),
        ([True, b"\x01", math.nan, -math.inf], "text_block", ["true", "\\x01", "NaN", "-Infinity"]),
    ],
)
def test_typed_array(values: list[object], field: str, want: list[object]) -> None:
    got = arrays(values)
    assert list(got) == [field]
    assert got[field] == want


def test_nulls() -> None:
    got = arrays([None, 1, pd.NaT, pd.NA])
    assert got == {"nulls": [True, False, True, True], "int64s": [0, 1, 0, 0]}
    assert arrays([None, None]) == {"nulls": [True, True], "text_block": ["", ""]}


def test_a_text_holding_nul_goes_as_texts() -> None:
    # the text_block cannot carry it; texts can, and the service names it
    assert arrays(["a\0b", "c"]) == {"texts": ["a\0b", "c"]}
    assert arrays(["a", ""]) == {"text_block": ["a", ""]}


def test_a_text_holding_nul_is_refused_by_its_row(client: loadsvc.Client, db, table: str) -> None:
    db.run(f"CREATE TABLE {table} (k int, v text)")
    with pytest.raises(loadsvc.InvalidRequest) as e:
        client.load(table, [{"k": 1, "v": "a"}, {"k": 2, "v": "b\0c"}], "append")
    assert e.value.row == 1 and "NUL" in e.value.message, e.value
    assert db.scalar(f"SELECT count(*) FROM {table}") == "0"


def test_a_key_a_row_leaves_out_is_null() -> None:
    msg = encode_rows([{"a": 1}, {"b": "x"}], 0, Columns())
    assert [c.name for c in msg.columns] == ["a", "b"]
    assert list(msg.columns[0].nulls) == [False, True]
    assert list(msg.columns[1].nulls) == [True, False]


def test_unsupported_value_names_the_row() -> None:
    with pytest.raises(ValueError, match=r"row 1, column 'c': unsupported value type object"):
        encode_rows([{"c": 1}, {"c": object()}], 0, Columns())


ROWS = [
    {
        "id": 1,
        "i": 9007199254740993,
        "big": 2**70,
        "f": 0.1,
        "f_nan": math.nan,
        "f_inf": -math.inf,
        "b": True,
        "s": "héllo, 年金计划",
        "d": decimal.Decimal("12345678901234567890.1234567890"),
        "day": dt.date(2024, 11, 1),
        "tod": dt.time(13, 45, 30, 123456),
        "ts": dt.datetime(2024, 11, 1, 8, 30, 0, 5),
        "tstz": dt.datetime(2024, 11, 1, 8, 30, 0, 7, tzinfo=UTC8),
        "dur": dt.timedelta(days=1, seconds=3661, microseconds=5),
        "u": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "by": b"\x00\xffab",
        "j": {"a": [1, "x"], "k": None},
        "np_i": np.int64(7),
        "np_f": np.float64(2.5),
        "np_b": np.bool_(False),
        "mixed": 5,
        "num_mixed": 1,
        "nat": pd.NaT,
    },
    {
        "id": 2,
        "i": None,
        "big": 3,
        "f": None,
        "f_nan": math.inf,
        "s": None,
        "d": decimal.Decimal("-0.0000000001"),
        "mixed": "x",
        "num_mixed": 2.5,
        "nat": dt.datetime(2024, 1, 2, 3, 4, 5),
    },
]

WANT = [
    (
        "1", "9007199254740993", "1180591620717411303424", "0.1", "NaN", "-Infinity", "t",
        "héllo, 年金计划", "12345678901234567890.1234567890", "2024-11-01", "13:45:30.123456",
        "2024-11-01 08:30:00.000005", "2024-11-01 00:30:00.000007", "1 day 01:01:01.000005",
        "12345678-1234-5678-1234-567812345678", "\\x00ff6162", '{"a": [1, "x"], "k": null}',
        "7", "2.5", "f", "5", "1", None,
    ),
    (
        "2", None, "3", None, "Infinity", None, None, None, "-0.0000000001", None, None, None,
        None, None, None, None, None, None, None, None, "x", "2.5", "2024-01-02 03:04:05",
    ),
]


def test_value_table_round_trips(client: loadsvc.Client, db, table: str) -> None:
    db.run(
        f"""CREATE TABLE {table} (id int PRIMARY KEY, i bigint, big numeric, f double precision,
        f_nan double precision, f_inf double precision, b boolean, s text, d numeric(30,10),
        day date, tod time, ts timestamp, tstz timestamptz, dur interval, u uuid, by bytea,
        j jsonb, np_i bigint, np_f double precision, np_b boolean, mixed text,
        num_mixed numeric, nat timestamp)"""
    )
    result = client.load(table, ROWS, "append")
    assert result["inserted"] == 2
    got = db.rows(
        f"""SELECT id, i, big, f, f_nan, f_inf, b, s, d, day, tod, ts, tstz AT TIME ZONE 'UTC',
        dur, u, by, j, np_i, np_f, np_b, mixed, num_mixed, nat FROM {table} ORDER BY id"""
    )
    assert got == WANT


def test_dataframe_load(client: loadsvc.Client, db, table: str) -> None:
    db.run(
        f"""CREATE TABLE {table} (n bigint, x double precision, s text, day timestamp,
        at timestamptz, ok boolean, amount numeric(18,4), opt bigint)"""
    )
    frame = pd.DataFrame(
        {
            "n": [1, 2, 3],
            "x": [0.5, np.nan, math.inf],
            "s": ["a", None, "年"],
            "day": pd.to_datetime(["2024-11-01 08:00", None, "2024-11-03"]),
            "at": pd.to_datetime(["2024-11-01 08:00", "2024-11-02", None]).tz_localize("Asia/Shanghai"),
            "ok": [True, False, True],
            "amount": [decimal.Decimal("1.5"), None, decimal.Decimal("-2.0001")],
            "opt": pd.array([None, 5, 6], dtype="Int64"),
        },
        index=[10, 20, 30],
    )
    result = client.load(table, frame, "append")
    assert (result.inserted, result.rows) == (3, 3)
    got = db.rows(f"SELECT n, x, s, day, at AT TIME ZONE 'UTC', ok, amount, opt FROM {table} ORDER BY n")
    assert got == [
        ("1", "0.5", "a", "2024-11-01 08:00:00", "2024-11-01 00:00:00", "t", "1.5000", None),
        ("2", None, None, None, "2024-11-01 16:00:00", "f", None, "5"),
        ("3", "Infinity", "年", "2024-11-03 00:00:00", None, "t", "-2.0001", "6"),
    ]


def python_calls(f: Callable[[], object]) -> int:
    """How many Python functions f() calls (C functions not counted)."""
    calls = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(profile)
    try:
        f()
    finally:
        sys.setprofile(None)
    return calls


def wide_rows(n: int) -> list[dict[str, object]]:
    """n rows of the pipeline's kinds, with NULLs."""
    months = [dt.date(2024, m, 1) for m in range(1, 13)]
    return [
        {
            "day": None if i % 11 == 0 else months[i % 12],
            "k": f"K{i:07d}",
            "note": None if i % 5 == 0 else f"客户 {i % 97}",
            "amount": None if i % 7 == 0 else decimal.Decimal(i * 125) / 100,
            "rate": decimal.Decimal("0.051234"),
            "n": i,
            "x": i / 3,
            "ok": i % 2 == 0,
            "at": dt.datetime(2024, 1, 1, i % 24, tzinfo=UTC8),
            "ts": dt.datetime(2024, 1, 1 + i % 28),
        }
        for i in range(n)
    ]


def test_encoding_makes_no_python_call_per_value() -> None:
    # Each column is encoded with whole-column calls (map of C functions,
    # a text per distinct date): the Python calls (about a dozen a column)
    # do not grow with the rows. Value by value, they would be thousands.
    rows = wide_rows(5000)
    frame = pd.DataFrame(rows)
    frame["day64"] = pd.to_datetime(frame["ts"])
    frame["opt"] = pd.array([None if i % 3 == 0 else i for i in range(5000)], dtype="Int64")
    by_rows = python_calls(lambda: encode_rows(rows, 0, Columns()))
    prepared = Frame(frame)
    by_frame = python_calls(lambda: prepared.encode(0, len(frame), 0, Columns()))
    assert by_rows < 500, by_rows
    assert by_frame < 500, by_frame


def test_whole_column_text_forms() -> None:
    # 100 values each: past the size at which repeated values are formatted
    # once per distinct value.
    days = [None if i % 10 == 0 else dt.date(2024, 1 + i % 2, 1) for i in range(100)]
    got = arrays(days)
    assert got["text_block"] == ["" if d is None else d.isoformat() for d in days]
    assert got["nulls"] == [d is None for d in days]
    # Equal Decimals keep their own scale; exponent forms go plain.
    decimals = [decimal.Decimal(s) for s in ["1.0", "1.00", "1E+3", "-1E-7", "NaN"] * 20]
    assert arrays(decimals)["text_block"] == ["1.0", "1.00", "1000", "-0.0000001", "NaN"] * 20
    stamps = [dt.datetime(2024, 1, 1 + i % 3, 8, 30) for i in range(100)]
    assert arrays(stamps)["text_block"] == [s.isoformat() for s in stamps]
    aware = [dt.datetime(1970, 1, 1, 8, tzinfo=UTC8), dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc)] * 50
    assert arrays(aware)["timestamp_micros"] == [0, 1_000_000] * 50
    mixed = [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, tzinfo=UTC8)] * 50
    assert arrays(mixed)["text_block"] == ["2024-01-01T00:00:00", "2024-01-01T00:00:00+08:00"] * 50


def test_dataframe_and_dicts_load_the_same_rows(connect, db, table: str) -> None:
    # Every dtype the frame encodes from its arrays, with NULLs, across
    # message boundaries (batch_rows 1,000 of 2,500 rows), against the same
    # rows sent as dicts.
    n = 2500
    frame = pd.DataFrame(
        {
            "n": np.arange(n, dtype="int64"),
            "opt": pd.array([None if i % 3 == 0 else i for i in range(n)], dtype="Int64"),
            "x": [math.nan if i % 4 == 0 else i / 8 for i in range(n)],
            "ok": [i % 2 == 0 for i in range(n)],
            "day": [None if i % 11 == 0 else dt.date(2024, 1 + i % 12, 1) for i in range(n)],
            "amount": [None if i % 7 == 0 else decimal.Decimal(i) / 100 for i in range(n)],
            "note": [None if i % 5 == 0 else f"客户 {i % 97}" for i in range(n)],
            "ts": pd.to_datetime([None if i % 9 == 0 else f"2024-01-01 00:00:{i % 60:02d}.5" for i in range(n)]),
            "at": pd.to_datetime([None if i % 6 == 0 else f"2024-02-{1 + i % 28:02d} 08:00" for i in range(n)]).tz_localize(
                "Asia/Shanghai"
            ),
            "big": np.array([2**64 - 1 - i for i in range(n)], dtype="uint64"),
            "dur": pd.to_timedelta([None if i % 8 == 0 else f"{i} seconds" for i in range(n)]),
            "cat": pd.Series([None if i % 10 == 0 else f"c{i % 3}" for i in range(n)], dtype="category"),
        }
    )
    cols = """n bigint, opt bigint, x double precision, ok boolean, day date, amount numeric, note text,
        ts timestamp, at timestamptz, big numeric, dur interval, cat text"""
    db.run(f"CREATE TABLE {table}_frame ({cols}); CREATE TABLE {table}_dicts ({cols})")
    c = connect(batch_rows=1000)
    assert c.load(f"{table}_frame", frame, "append").inserted == n
    dicts = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in frame.to_dict("records")]
    assert c.load(f"{table}_dicts", dicts, "append").inserted == n
    for a, b in [("frame", "dicts"), ("dicts", "frame")]:
        assert db.scalar(f"SELECT count(*) FROM (TABLE {table}_{a} EXCEPT ALL TABLE {table}_{b}) d") == "0"
    assert db.rows(
        f"""SELECT count(opt), count(x), count(day), count(amount), count(note), count(ts), count(at),
        count(dur), count(cat), min(big)::text, max(ts)::text FROM {table}_frame"""
    ) == [("1666", "1875", "2272", "2142", "2000", "2222", "2083", "2187", "2250", "18446744073709549116", "2024-01-01 00:00:59.5")]


def test_frame_missing_values_in_object_columns() -> None:
    # In a DataFrame every value pandas takes for missing is NULL, in
    # object columns too: None, float and Decimal NaN, NaT, NA.
    frame = pd.DataFrame(
        {
            "d": [decimal.Decimal("1.5"), decimal.Decimal("NaN"), None, decimal.Decimal("2")],
            "s": ["a", math.nan, pd.NA, "b"],
            "t": pd.Series([dt.date(2024, 1, 1), pd.NaT, np.datetime64("NaT"), dt.date(2024, 1, 2)], dtype=object),
            "clean": ["x", "y", "z", "w"],
        }
    )
    got = {
        c.name: {f.name: block_texts(v) if f.name == "text_block" else list(v) for f, v in c.ListFields() if f.name != "name"}
        for c in Frame(frame).encode(0, 4, 0, Columns()).columns
    }
    assert got == {
        "clean": {"text_block": ["x", "y", "z", "w"]},
        "d": {"nulls": [False, True, True, False], "text_block": ["1.5", "", "", "2"]},
        "s": {"nulls": [False, True, True, False], "text_block": ["a", "", "", "b"]},
        "t": {"nulls": [False, True, True, False], "text_block": ["2024-01-01", "", "", "2024-01-02"]},
    }
