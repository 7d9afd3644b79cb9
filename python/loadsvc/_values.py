"""Python values to loadsvc's typed row form (``TypedRows``).

This module owns the client's value mapping: which typed array of a
``TypedColumn`` a Python value travels in, the PostgreSQL text form of each
value (for a column whose values mix kinds), and the column-by-column
encoding of a batch of dict rows or of a slice of a pandas ``DataFrame``.
Each column is encoded in one pass over its values; no row is ever built as
a ``Struct``.

=========================================  ==========================
Python value                               typed array
=========================================  ==========================
``int`` (beyond int64: ``texts``)          ``int64s``
``float`` (NaN, ±inf as PostgreSQL         ``float64s``
spells them)
``bool``                                   ``bools``
``str``                                    ``texts``
``decimal.Decimal``                        ``texts``, exactly
``date``, ``time``, naive ``datetime``     ``texts`` (ISO 8601)
aware ``datetime``                         ``timestamp_micros``
``timedelta``                              ``texts`` (an interval)
``uuid.UUID``                              ``texts``
``bytes``, ``bytearray``, ``memoryview``   ``bytes_values``
``dict``, ``list``, ``tuple``              ``json_values``
``None``, pandas ``NaT`` / ``NA``          ``nulls``
=========================================  ==========================

numpy scalars map like their Python kinds. A column whose values mix kinds
goes as ``texts``, each value in its PostgreSQL text form. In a ``DataFrame``
every missing value (``NaN``, ``NaT``, ``None``, ``NA``) is NULL; in dict
rows a float NaN is the float NaN.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import json
import math
import operator
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loadsvc.v1 import loadsvc_pb2 as pb

if TYPE_CHECKING:
    import pandas

__all__ = ["Columns", "EncodeError", "encode_frame", "encode_rows", "pg_text"]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MICROSECOND = _dt.timedelta(microseconds=1)


class EncodeError(ValueError):
    """A row or value the client cannot send, at ``row`` (its index in the
    load) and ``column`` (``""`` when the row itself is wrong)."""

    def __init__(self, message: str, row: int, column: str) -> None:
        super().__init__(message)
        self.row = row
        self.column = column


class Kind(enum.Enum):
    """What a value is, which decides its typed array and its text form."""

    NULL = enum.auto()
    INT = enum.auto()
    FLOAT = enum.auto()
    BOOL = enum.auto()
    TEXT = enum.auto()
    DECIMAL = enum.auto()
    DATE = enum.auto()
    TIME = enum.auto()
    DATETIME = enum.auto()
    TIMEDELTA = enum.auto()
    UUID = enum.auto()
    BYTES = enum.auto()
    JSON = enum.auto()
    NUMPY_DATETIME = enum.auto()
    NUMPY_TIMEDELTA = enum.auto()


# The kind of each exact type seen so far; _classify fills in subclasses,
# numpy scalars and pandas' missing-value markers on first sight.
_KINDS: dict[type, Kind] = {
    type(None): Kind.NULL,
    int: Kind.INT,
    float: Kind.FLOAT,
    bool: Kind.BOOL,
    str: Kind.TEXT,
    decimal.Decimal: Kind.DECIMAL,
    _dt.date: Kind.DATE,
    _dt.time: Kind.TIME,
    _dt.datetime: Kind.DATETIME,
    _dt.timedelta: Kind.TIMEDELTA,
    uuid.UUID: Kind.UUID,
    bytes: Kind.BYTES,
    bytearray: Kind.BYTES,
    memoryview: Kind.BYTES,
    dict: Kind.JSON,
    list: Kind.JSON,
    tuple: Kind.JSON,
}

# Subclass checks in order: bool before int, datetime before date.
_BASES: tuple[tuple[type, Kind], ...] = (
    (bool, Kind.BOOL),
    (int, Kind.INT),
    (float, Kind.FLOAT),
    (str, Kind.TEXT),
    (decimal.Decimal, Kind.DECIMAL),
    (_dt.datetime, Kind.DATETIME),
    (_dt.date, Kind.DATE),
    (_dt.time, Kind.TIME),
    (_dt.timedelta, Kind.TIMEDELTA),
    (uuid.UUID, Kind.UUID),
    (bytes, Kind.BYTES),
    (bytearray, Kind.BYTES),
    (Mapping, Kind.JSON),
    (list, Kind.JSON),
    (tuple, Kind.JSON),
)


def _kind(t: type) -> Kind | None:
    """The kind of values of type t, or None for a type the client does not
    send."""
    k = _KINDS.get(t)
    if k is None:
        k = _classify(t)
        if k is not None:
            _KINDS[t] = k
    return k


def _classify(t: type) -> Kind | None:
    module = getattr(t, "__module__", "") or ""
    if module.startswith("pandas") and t.__name__ in ("NaTType", "NAType"):
        return Kind.NULL
    if module == "numpy":
        import numpy

        numpy_kinds = (
            (numpy.bool_, Kind.BOOL),
            (numpy.integer, Kind.INT),
            (numpy.floating, Kind.FLOAT),
            (numpy.str_, Kind.TEXT),
            (numpy.bytes_, Kind.BYTES),
            (numpy.datetime64, Kind.NUMPY_DATETIME),
            (numpy.timedelta64, Kind.NUMPY_TIMEDELTA),
        )
        for base, kind in numpy_kinds:
            if issubclass(t, base):
                return kind
        return None
    for base, kind in _BASES:
        if issubclass(t, base):
            return kind
    return None


def _float_text(f: float) -> str:
    """f in plain decimal (no exponent), the shortest form that reads back as
    f, or PostgreSQL's NaN, Infinity, -Infinity."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    s = repr(f)
    if "e" in s:
        s = format(decimal.Decimal(s), "f")
    return s[:-2] if s.endswith(".0") else s


def _decimal_text(d: decimal.Decimal) -> str:
    """d exactly, in plain decimal (NaN and Infinity as PostgreSQL spells
    them)."""
    s = str(d)
    if "E" in s:
        s = format(d, "f")
    return s


def _interval_text(td: _dt.timedelta) -> str:
    return f"{td.days} days {td.seconds} seconds {td.microseconds} microseconds"


def _json_text(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _micros(v: _dt.datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    return (v - _EPOCH) // _MICROSECOND


def _numpy_timedelta(v: Any) -> _dt.timedelta:
    return _dt.timedelta(microseconds=int(v.astype("timedelta64[us]").astype("int64")))


def pg_text(v: Any) -> str:
    """The PostgreSQL input text of a non-NULL value of a supported type."""
    k = _kind(type(v))
    if k is Kind.TEXT:
        return str(v)
    if k is Kind.INT:
        return str(int(v))
    if k is Kind.FLOAT:
        return _float_text(float(v))
    if k is Kind.BOOL:
        return "true" if v else "false"
    if k is Kind.DECIMAL:
        return _decimal_text(v)
    if k in (Kind.DATE, Kind.TIME, Kind.DATETIME):
        return v.isoformat()
    if k is Kind.TIMEDELTA:
        return _interval_text(v)
    if k is Kind.UUID:
        return str(v)
    if k is Kind.BYTES:
        return "\\x" + bytes(v).hex()
    if k is Kind.JSON:
        return _json_text(v)
    if k is Kind.NUMPY_DATETIME:
        return str(v)
    if k is Kind.NUMPY_TIMEDELTA:
        return _interval_text(_numpy_timedelta(v))
    raise TypeError(f"unsupported value type {type(v).__qualname__}")


def _column(name: str, values: Sequence[Any], first_row: int) -> pb.TypedColumn:
    """One column of a message: values has one entry per row, in order;
    first_row is the load index of values[0], for errors."""
    col = pb.TypedColumn(name=name)
    types = set(map(type, values))
    kinds: set[Kind] = set()
    null_types: set[type] = set()
    nat_types: set[type] = set()
    for t in types:
        k = _kind(t)
        if k is None:
            i = next(i for i, v in enumerate(values) if type(v) is t)
            raise EncodeError(
                f"row {first_row + i}, column {name!r}: unsupported value type {t.__qualname__}",
                first_row + i,
                name,
            )
        if k is Kind.NULL:
            null_types.add(t)
        else:
            kinds.add(k)
        if k in (Kind.NUMPY_DATETIME, Kind.NUMPY_TIMEDELTA):
            nat_types.add(t)
    if nat_types:
        # numpy's NaT is a value of the datetime64/timedelta64 type, not a
        # type of its own; it is the one value unequal to itself.
        values = [None if type(v) in nat_types and v != v else v for v in values]
        null_types.add(type(None))
    nulls: list[bool] | None = None
    if null_types:
        if null_types == {type(None)}:
            nulls = [v is None for v in values]
        else:
            nulls = [type(v) in null_types for v in values]
        if not any(nulls):
            nulls = None
        else:
            col.nulls.extend(nulls)
    try:
        _fill(col, kinds, types - null_types, values, nulls)
    except (TypeError, ValueError, OverflowError) as e:
        i, v = _first_bad(values, nulls)
        raise EncodeError(
            f"row {first_row + i}, column {name!r}: cannot encode {type(v).__qualname__} value: {e}",
            first_row + i,
            name,
        ) from e
    return col


def _first_bad(values: Sequence[Any], nulls: list[bool] | None) -> tuple[int, Any]:
    """The first value whose text form fails, to name in an error."""
    for i, v in enumerate(values):
        if nulls is not None and nulls[i]:
            continue
        try:
            pg_text(v)
        except (TypeError, ValueError, OverflowError):
            return i, v
    return 0, values[0]


def _fill(
    col: pb.TypedColumn, kinds: set[Kind], types: set[type], values: Sequence[Any], nulls: list[bool] | None
) -> None:
    """Fill col's one value array: the kinds' own when there is one kind,
    else texts. types are the exact types of the non-NULL values."""
    if len(kinds) == 1:
        (kind,) = kinds
        if _fill_typed(col, kind, types, values, nulls):
            return
    if nulls is None:
        col.texts.extend([pg_text(v) for v in values])
    else:
        col.texts.extend(["" if n else pg_text(v) for v, n in zip(values, nulls)])


def _fill_typed(
    col: pb.TypedColumn, kind: Kind, types: set[type], values: Sequence[Any], nulls: list[bool] | None
) -> bool:
    """Fill col's typed array of kind; False when the values do not fit it
    (an int beyond int64, naive and aware datetimes mixed) and must go as
    texts. Values of the plain Python type go as they are; subclasses and
    numpy scalars are converted first."""
    present: Sequence[Any]
    if nulls is not None:
        present = [v for v, n in zip(values, nulls) if not n]
    else:
        present = values
    if kind is Kind.INT:
        ints = present if types == {int} else list(map(int, present))
        if ints and (min(ints) < _INT64_MIN or max(ints) > _INT64_MAX):
            return False
        col.int64s.extend(_with_placeholders(ints, nulls, 0))
    elif kind is Kind.FLOAT:
        floats = present if types == {float} else list(map(float, present))
        col.float64s.extend(_with_placeholders(floats, nulls, 0.0))
    elif kind is Kind.BOOL:
        bools = present if types == {bool} else list(map(bool, present))
        col.bools.extend(_with_placeholders(bools, nulls, False))
    elif kind is Kind.TEXT:
        texts = present if types == {str} else list(map(str, present))
        col.texts.extend(_with_placeholders(texts, nulls, ""))
    elif kind is Kind.DECIMAL:
        col.texts.extend(_with_placeholders(list(map(_decimal_text, present)), nulls, ""))
    elif kind is Kind.DATE:
        col.texts.extend(_with_placeholders(list(map(_dt.date.isoformat, present)), nulls, ""))
    elif kind is Kind.TIME:
        col.texts.extend(_with_placeholders(list(map(_dt.time.isoformat, present)), nulls, ""))
    elif kind is Kind.DATETIME:
        aware = {v.utcoffset() is not None for v in present}
        if aware == {True}:
            col.timestamp_micros.extend(_with_placeholders(list(map(_micros, present)), nulls, 0))
        else:
            # naive ones (or naive and aware mixed, each with its offset)
            col.texts.extend(_with_placeholders(list(map(_dt.datetime.isoformat, present)), nulls, ""))
    elif kind is Kind.BYTES:
        byts = present if types == {bytes} else list(map(bytes, present))
        col.bytes_values.extend(_with_placeholders(byts, nulls, b""))
    elif kind is Kind.JSON:
        col.json_values.extend(_with_placeholders(list(map(_json_text, present)), nulls, ""))
    else:
        col.texts.extend(_with_placeholders(list(map(pg_text, present)), nulls, ""))
    return True


def _with_placeholders(present: Sequence[Any], nulls: list[bool] | None, zero: Any) -> Sequence[Any]:
    """present (the non-NULL values in order) with zero at each NULL row."""
    if nulls is None:
        return present
    it = iter(present)
    return [zero if n else next(it) for n in nulls]


class Columns:
    """The columns of one load, in message order (sorted by name).

    A unary load, or the first message of a stream, takes the sorted union
    of its rows' keys. The service keeps a stream's first columns for the
    whole load, so a later message may leave a column out (NULL in each of
    its rows) but not add one.
    """

    def __init__(self) -> None:
        self.names: list[str] | None = None

    def resolve(self, found: set[Any], row_names: Sequence[Any], first_row: int) -> list[str]:
        """The message's columns, given the names its rows carry (found);
        row_names(i) are the names of row i, for errors."""
        if self.names is None:
            for n in found:
                if type(n) is not str:
                    i = next(i for i, names in enumerate(row_names) if n in names)
                    raise EncodeError(
                        f"row {first_row + i}: column name {n!r} is not a str", first_row + i, str(n)
                    )
            self.names = sorted(found)
            return self.names
        extra = found.difference(self.names)
        if extra:
            i = next(i for i, names in enumerate(row_names) if not extra.isdisjoint(names))
            added = sorted(map(str, extra.intersection(row_names[i])))
            raise EncodeError(
                f"row {first_row + i} adds column(s) {', '.join(map(repr, added))} to a stream whose "
                f"columns its first message fixed ({', '.join(map(repr, self.names))}): a later row "
                "may leave a column out (NULL) but not add one",
                first_row + i,
                added[0],
            )
        return self.names


def encode_rows(rows: Sequence[Mapping[str, Any]], first_row: int, columns: Columns) -> pb.TypedRows:
    """rows (dicts or other mappings) as one message; first_row is the load
    index of rows[0]. A key a row leaves out is NULL for it."""
    if set(map(type, rows)) != {dict}:
        for i, r in enumerate(rows):
            if not isinstance(r, Mapping):
                raise EncodeError(
                    f"row {first_row + i} is a {type(r).__qualname__}, not a dict", first_row + i, ""
                )
    names = columns.resolve(set().union(*rows), rows, first_row)
    if not rows:
        return pb.TypedRows()
    width = len(names)
    if set(map(len, rows)) == {width}:
        # Every row has every column: transpose at C speed.
        get = operator.itemgetter(*names)
        cols = list(zip(*map(get, rows))) if width > 1 else [tuple(map(get, rows))]
    else:
        cols = [[r.get(n) for r in rows] for n in names]
    return pb.TypedRows(columns=[_column(n, c, first_row) for n, c in zip(names, cols)])


def encode_frame(frame: pandas.DataFrame, first_row: int, columns: Columns) -> pb.TypedRows:
    """A DataFrame (a slice of the load's) as one message; its index is not
    loaded. first_row is the load index of its first row."""
    names = list(frame.columns)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise EncodeError(f"the DataFrame has column {dup!r} twice", first_row, str(dup))
    columns.resolve(set(names), [names], first_row)
    by_name = {n: i for i, n in enumerate(names)}
    out = pb.TypedRows()
    for n in sorted(names):
        out.columns.append(_frame_column(n, frame.iloc[:, by_name[n]], first_row))
    return out


def _frame_column(name: str, series: pandas.Series, first_row: int) -> pb.TypedColumn:
    """One DataFrame column, by its dtype where numpy's arrays give the
    typed array at once, else value by value as in dict rows."""
    import numpy

    mask = series.isna().to_numpy(dtype=bool)
    has_null = bool(mask.any())
    dtype = series.dtype
    col = pb.TypedColumn(name=name)
    kind = dtype.kind
    if kind == "i" or (kind == "u" and (len(series) == 0 or series.max() <= _INT64_MAX)):
        col.int64s.extend(series.to_numpy(dtype="int64", na_value=0).tolist())
    elif kind == "f":
        col.float64s.extend(series.to_numpy(dtype="float64", na_value=0.0).tolist())
    elif kind == "b":
        col.bools.extend(series.to_numpy(dtype=bool, na_value=False).tolist())
    elif kind == "M" and getattr(dtype, "tz", None) is not None:
        micros = numpy.where(mask, 0, series.array.asi8 // 1000)
        col.timestamp_micros.extend(micros.tolist())
    elif kind == "M":
        texts = numpy.datetime_as_string(series.to_numpy(dtype="datetime64[us]"), unit="us")
        col.texts.extend(numpy.where(mask, "", texts).tolist())
    else:
        values = series.tolist()
        if has_null:
            values = [None if m else v for v, m in zip(values, mask.tolist())]
        return _column(name, values, first_row)
    if has_null:
        col.nulls.extend(mask.tolist())
    return col
