"""Python values to loadsvc's typed row form (``TypedRows``).

This module owns the client's value mapping: which typed array of a
``TypedColumn`` a Python value travels in, the PostgreSQL text form of each
value (for a column whose values mix kinds), and the column-by-column
encoding of a batch of dict rows (``loadsvc._frame`` encodes a
``DataFrame`` from its arrays with the same functions). Each column is
taken out of the rows at C speed and encoded with whole-column calls
(``map`` of one C function, a text form computed once per distinct date),
straight into the message on the wire; no row is ever built as a
``Struct``.

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
goes as ``texts``, each value in its PostgreSQL text form. A column of
``texts`` travels as one ``text_block`` (``fill_texts``). In a ``DataFrame``
every missing value (``NaN``, ``NaT``, ``None``, ``NA``) is NULL; in dict
rows a float NaN is the float NaN.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import itertools
import json
import math
import operator
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable

from loadsvc.v1 import loadsvc_pb2 as pb

__all__ = [
    "Columns",
    "EncodeError",
    "Kind",
    "encode_rows",
    "fill_column",
    "fill_present",
    "fill_texts",
    "kind_of",
    "kinds_of",
    "pg_text",
]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MICROSECOND = _dt.timedelta(microseconds=1)
_MEMO_MIN = 64  # values of a column below which memoizing text forms does not pay


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


def kind_of(t: type) -> Kind | None:
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


def _numpy_timedelta(v: Any) -> _dt.timedelta:
    return _dt.timedelta(microseconds=int(v.astype("timedelta64[us]").astype("int64")))


def pg_text(v: Any) -> str:
    """The PostgreSQL input text of a non-NULL value of a supported type."""
    k = kind_of(type(v))
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
    if k is Kind.DATE:
        return _dt.date.isoformat(v)
    if k is Kind.TIME:
        return _dt.time.isoformat(v)
    if k is Kind.DATETIME:
        return _dt.datetime.isoformat(v)
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


def fill_column(col: pb.TypedColumn, values: Sequence[Any], first_row: int) -> None:
    """Fill col (named already) with values, one entry per row in order;
    None and pandas' missing-value markers are NULL. first_row is the load
    index of values[0], for errors."""
    types = set(map(type, values))
    kinds, null_types = kinds_of(col.name, types, values, first_row)
    if Kind.NUMPY_DATETIME in kinds or Kind.NUMPY_TIMEDELTA in kinds:
        # numpy's NaT is a value of the datetime64/timedelta64 type, not a
        # type of its own; it is the one value unequal to itself.
        nat_types = {t for t in types if kind_of(t) in (Kind.NUMPY_DATETIME, Kind.NUMPY_TIMEDELTA)}
        values = [None if type(v) in nat_types and v != v else v for v in values]
        null_types.add(type(None))
    nulls: list[bool] | None = None
    present = values
    if null_types:
        if null_types == {type(None)}:
            nulls = [v is None for v in values]
        else:
            nulls = [type(v) in null_types for v in values]
        if True in nulls:
            present = [v for v, n in zip(values, nulls) if not n]
        else:
            nulls = None
    fill_present(col, present, types - null_types, kinds, nulls, values, first_row)


def fill_present(
    col: pb.TypedColumn,
    present: Sequence[Any],
    types: set[type],
    kinds: set[Kind],
    nulls: list[bool] | None,
    values: Iterable[Any],
    first_row: int,
) -> None:
    """Fill col from its non-NULL values (present, of the exact types
    types and kinds kinds) and its NULL flags (None: no NULL); values are
    all the column's values in order (a list, a numpy array), to name a bad
    one in an error."""
    if nulls is not None:
        col.nulls.extend(nulls)
    try:
        _fill(col, kinds, types, present, nulls)
    except (TypeError, ValueError, OverflowError) as e:
        i, v = _first_bad(values, nulls)
        raise EncodeError(
            f"row {first_row + i}, column {col.name!r}: cannot encode {type(v).__qualname__} value: {e}",
            first_row + i,
            col.name,
        ) from e


def kinds_of(name: str, types: set[type], values: Iterable[Any], first_row: int) -> tuple[set[Kind], set[type]]:
    """The kinds of the non-NULL types, and the types that are NULL; a type
    the client does not send is an EncodeError naming its first row."""
    kinds: set[Kind] = set()
    null_types: set[type] = set()
    for t in types:
        k = kind_of(t)
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
    return kinds, null_types


def _first_bad(values: Iterable[Any], nulls: list[bool] | None) -> tuple[int, Any]:
    """The first value whose text form fails, to name in an error."""
    first: tuple[int, Any] | None = None
    for i, v in enumerate(values):
        if nulls is not None and nulls[i]:
            continue
        first = first or (i, v)
        try:
            pg_text(v)
        except (TypeError, ValueError, OverflowError):
            return i, v
    return first or (0, None)


def _fill(
    col: pb.TypedColumn, kinds: set[Kind], types: set[type], present: Sequence[Any], nulls: list[bool] | None
) -> None:
    """Fill col's one value array: the kinds' own when there is one kind,
    else texts. types are the exact types of the present values."""
    if len(kinds) == 1:
        (kind,) = kinds
        if _fill_typed(col, kind, types, present, nulls):
            return
    fill_texts(col, _with_placeholders(list(map(pg_text, present)), nulls, ""))


def _fill_typed(
    col: pb.TypedColumn, kind: Kind, types: set[type], present: Sequence[Any], nulls: list[bool] | None
) -> bool:
    """Fill col's typed array of kind; False when the values do not fit it
    (an int beyond int64, naive and aware datetimes mixed) and must go as
    texts. Values of the plain Python type go as they are; subclasses and
    numpy scalars are converted first, a whole column at a time."""
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
        fill_texts(col, _with_placeholders(texts, nulls, ""))
    elif kind is Kind.DECIMAL:
        fill_texts(col, _with_placeholders(_decimal_texts(present), nulls, ""))
    elif kind is Kind.DATE:
        # Equal dates have one text form: a column's few distinct dates
        # (a month, a report day) are formatted once each.
        days = _memoized(present, _dt.date.isoformat) if types == {_dt.date} else None
        fill_texts(col, _with_placeholders(days or list(map(_dt.date.isoformat, present)), nulls, ""))
    elif kind is Kind.TIME:
        fill_texts(col, _with_placeholders(list(map(_dt.time.isoformat, present)), nulls, ""))
    elif kind is Kind.DATETIME:
        offsets = set(map(_dt.datetime.utcoffset, present))
        if offsets and None not in offsets:
            since = map(operator.sub, present, itertools.repeat(_EPOCH))
            micros = list(map(operator.floordiv, since, itertools.repeat(_MICROSECOND)))
            col.timestamp_micros.extend(_with_placeholders(micros, nulls, 0))
        else:
            # naive ones (or naive and aware mixed, each with its offset);
            # equal naive datetimes have one text form.
            naive = offsets == {None} and types == {_dt.datetime}
            isos = _memoized(present, _dt.datetime.isoformat) if naive else None
            fill_texts(col, _with_placeholders(isos or list(map(_dt.datetime.isoformat, present)), nulls, ""))
    elif kind is Kind.BYTES:
        byts = present if types == {bytes} else list(map(bytes, present))
        col.bytes_values.extend(_with_placeholders(byts, nulls, b""))
    elif kind is Kind.JSON:
        col.json_values.extend(_with_placeholders(list(map(_json_text, present)), nulls, ""))
    elif kind is Kind.UUID:
        fill_texts(col, _with_placeholders(list(map(str, present)), nulls, ""))
    else:
        fill_texts(col, _with_placeholders(list(map(pg_text, present)), nulls, ""))
    return True


def fill_texts(col: pb.TypedColumn, texts: Sequence[str]) -> None:
    """Fill col with texts (one per row, a NULL row's empty) as one
    text_block: the texts joined, each followed by a NUL. One join costs
    a fraction of a protobuf string per value (a tenth, on 1.4 million
    values); a text holding a NUL, which PostgreSQL cannot store, goes in
    texts instead, where the service names its row."""
    block = "\0".join(texts)
    if block.count("\0") != len(texts) - 1:
        col.texts.extend(texts)
        return
    col.text_block = block.encode() + b"\0"


def _decimal_texts(present: Sequence[decimal.Decimal]) -> list[str]:
    """Each Decimal exactly, in plain decimal: str() at C speed, and the
    few in exponent form (1E+3, 1E-7) formatted again."""
    texts = list(map(str, present))
    joined = "".join(texts)
    if "E" in joined or "e" in joined:
        return [_decimal_text(d) if "E" in t or "e" in t else t for d, t in zip(present, texts)]
    return texts


def _memoized(present: Sequence[Any], text: Callable[[Any], str]) -> list[str] | None:
    """text of each value, computed once per distinct value; None when the
    values are mostly distinct (then mapping text over them is cheaper).
    Only for types whose equal values have equal text."""
    if len(present) < _MEMO_MIN:
        return None
    distinct = set(present)
    if len(distinct) * 2 > len(present):
        return None
    memo = {v: text(v) for v in distinct}
    return list(map(memo.__getitem__, present))


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


def encode_rows(
    rows: Sequence[Mapping[str, Any]], first_row: int, columns: Columns, out: pb.TypedRows | None = None
) -> pb.TypedRows:
    """rows (dicts or other mappings) as one message, encoded into out (a
    new TypedRows when None) and returned; first_row is the load index of
    rows[0]. A key a row leaves out is NULL for it. Each column is taken
    from the rows in one pass at C speed and encoded into the message in
    place."""
    if out is None:
        out = pb.TypedRows()
    if set(map(type, rows)) != {dict}:
        for i, r in enumerate(rows):
            if not isinstance(r, Mapping):
                raise EncodeError(
                    f"row {first_row + i} is a {type(r).__qualname__}, not a dict", first_row + i, ""
                )
    names = columns.resolve(set().union(*rows), rows, first_row)
    if not rows:
        return out
    # Every row has every column (none has more: resolve checked): take
    # each column with itemgetter; else with get, a missing key as None.
    every = set(map(len, rows)) == {len(names)}
    for n in names:
        values = list(map(operator.itemgetter(n), rows)) if every else [r.get(n) for r in rows]
        fill_column(out.columns.add(name=n), values, first_row)
    return out
