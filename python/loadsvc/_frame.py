"""A pandas DataFrame as loadsvc's typed rows, from its column arrays.

This module owns ``Frame``: a DataFrame taken apart once per load into one
numpy array per column (the frame's own memory where the dtype allows) and
the column's NULL mask, and the encoding of any run of its rows into a
``TypedRows`` from slices of those arrays. Integer, float, boolean and
datetime columns go as whole-array conversions (``tolist``, numpy's
vectorised datetime formatting, int64 microseconds); object columns go
through the value mapping of ``loadsvc._values`` on the slice's non-NULL
values, a whole column at a time. No pandas call runs per message, and none
per value. pandas and numpy are imported only when a DataFrame is loaded.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from loadsvc._values import Columns, EncodeError, Kind, fill_present, fill_texts, kind_of, kinds_of
from loadsvc.v1 import loadsvc_pb2 as pb

if TYPE_CHECKING:
    import pandas
    from numpy.typing import NDArray

__all__ = ["Frame", "is_frame"]

_INT64_MAX = (1 << 63) - 1

# Kinds of which pandas takes some values for missing: NULL's own (None,
# NaT, NA), float and Decimal NaN, numpy's NaT.
_MAY_BE_MISSING = {Kind.NULL, Kind.FLOAT, Kind.DECIMAL, Kind.NUMPY_DATETIME, Kind.NUMPY_TIMEDELTA}


def is_frame(obj: object) -> bool:
    """Whether obj is a pandas DataFrame, without importing pandas."""
    return any(c.__name__ == "DataFrame" and c.__module__.startswith("pandas") for c in type(obj).__mro__)


class Frame:
    """A DataFrame's columns, ready to encode any run of its rows; its
    index is not loaded, but kept (``index``, the frame's own) to name the
    rows the service reports."""

    def __init__(self, frame: pandas.DataFrame) -> None:
        self.index: Any = frame.index
        self._names: list[Any] = list(frame.columns)
        self._rows = len(frame)
        self._arrays = [_Array(frame.iloc[:, i]) for i in range(len(self._names))]

    def __len__(self) -> int:
        return self._rows

    def encode(
        self, start: int, stop: int, first_row: int, columns: Columns, out: pb.TypedRows | None = None
    ) -> pb.TypedRows:
        """Rows start to stop as one message, encoded into out (a new
        TypedRows when None) and returned; first_row is the load index of
        row start."""
        if out is None:
            out = pb.TypedRows()
        names = self._names
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise EncodeError(f"the DataFrame has column {dup!r} twice", first_row, str(dup))
        columns.resolve(set(names), [names], first_row)
        by_name = dict(zip(names, self._arrays))
        for n in sorted(names):
            by_name[n].fill(out.columns.add(name=n), start, stop, first_row)
        return out


class _How(enum.Enum):
    """How a column's array goes into a TypedColumn."""

    INT64S = enum.auto()
    FLOAT64S = enum.auto()
    BOOLS = enum.auto()
    TIMESTAMP_MICROS = enum.auto()  # tz-aware datetime64, as int64 microseconds
    DATETIME_TEXTS = enum.auto()  # naive datetime64[us], formatted by numpy
    VALUES = enum.auto()  # an object array, through the value mapping


class _Array:
    """One DataFrame column: its values as one numpy array, by dtype, and
    its NULL mask (every missing value: NaN, NaT, None, NA). An object
    column's mask is found per slice, and only when the slice holds a type
    pandas may take for missing (a column of dates or texts has none)."""

    def __init__(self, series: pandas.Series) -> None:
        import numpy

        dtype = series.dtype
        kind = dtype.kind
        self.values: NDArray[Any]
        self.mask: NDArray[numpy.bool_] | None = None
        if kind not in "iufbM" or (kind == "u" and len(series) and series.max() > _INT64_MAX):
            self.how = _How.VALUES
            self.values = series.to_numpy(dtype=object)
            return
        self.mask = series.isna().to_numpy(dtype=bool)
        if kind in "iu":
            self.how = _How.INT64S
            self.values = series.to_numpy(dtype="int64", na_value=0)
        elif kind == "f":
            self.how = _How.FLOAT64S
            self.values = series.to_numpy(dtype="float64", na_value=0.0)
        elif kind == "b":
            self.how = _How.BOOLS
            self.values = series.to_numpy(dtype=bool, na_value=False)
        elif getattr(dtype, "tz", None) is not None:
            self.how = _How.TIMESTAMP_MICROS
            self.values = numpy.where(self.mask, 0, series.array.asi8 // 1000)
        else:
            self.how = _How.DATETIME_TEXTS
            self.values = series.to_numpy(dtype="datetime64[us]")

    def fill(self, col: pb.TypedColumn, start: int, stop: int, first_row: int) -> None:
        """Fill col with rows start to stop; first_row is the load index of
        row start, for errors."""
        import numpy

        values = self.values[start:stop]
        if self.mask is None:
            self._fill_values(col, values, first_row)
            return
        mask = self.mask[start:stop]
        has_null = bool(mask.any())
        how = self.how
        if how is _How.INT64S:
            col.int64s.extend(values.tolist())
        elif how is _How.FLOAT64S:
            col.float64s.extend(values.tolist())
        elif how is _How.BOOLS:
            col.bools.extend(values.tolist())
        elif how is _How.TIMESTAMP_MICROS:
            col.timestamp_micros.extend(values.tolist())
        else:
            texts = numpy.datetime_as_string(values, unit="us")
            fill_texts(col, (numpy.where(mask, "", texts) if has_null else texts).tolist())
        if has_null:
            col.nulls.extend(mask.tolist())

    def _fill_values(self, col: pb.TypedColumn, values: NDArray[Any], first_row: int) -> None:
        """Fill col with a slice of an object column, through the value
        mapping."""
        import pandas

        present = values.tolist()
        types = set(map(type, present))
        nulls = None
        if any(kind_of(t) in _MAY_BE_MISSING for t in types):
            mask = pandas.isna(values)
            if mask.any():
                present = values[~mask].tolist()
                types = set(map(type, present))
                nulls = mask.tolist()
        kinds, null_types = kinds_of(col.name, types, values, first_row)
        fill_present(col, present, types - null_types, kinds, nulls, values, first_row)
