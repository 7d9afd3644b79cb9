"""What a load did: ``LoadResult``, and the short names of modes and
duplicate policies.

This module owns the result a caller gets back (a read-only mapping that
also has attributes, so code written for the old psycopg2 loader's dict
keeps working) and the translation between the short names callers write
(``"delete_insert"``, ``"keep_last"``) and the protobuf enums.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import timezone
from typing import Any, NamedTuple

from loadsvc._errors import RowError, row_errors
from loadsvc.v1 import loadsvc_pb2 as pb

__all__ = ["LoadResult", "Statement", "duplicates_value", "load_record", "mode_name", "mode_value"]

# Short name → enum value, in the proto's order.
MODES: dict[str, int] = {
    "delete_insert": pb.MODE_DELETE_INSERT,
    "append": pb.MODE_APPEND,
    "upsert": pb.MODE_UPSERT,
    "insert_missing": pb.MODE_INSERT_MISSING,
    "fill_null_only": pb.MODE_FILL_NULL_ONLY,
    "replace": pb.MODE_REPLACE,
}
DUPLICATES: dict[str, int] = {
    "keep_last": pb.DUPLICATES_KEEP_LAST,
    "refuse": pb.DUPLICATES_REFUSE,
    "keep_all": pb.DUPLICATES_KEEP_ALL,
}


def _enum_value(value: str | int, short: dict[str, int], prefix: str, what: str) -> int:
    """The enum value of a short name ("keep_last"), a full name
    ("DUPLICATES_KEEP_LAST", any case) or a number."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r}: want one of {', '.join(short)}")
    if isinstance(value, int):
        if value in short.values():
            return value
        raise ValueError(f"{what} {value!r}: want one of {', '.join(short)} or its enum value")
    key = str(value).lower().removeprefix(prefix.lower())
    if key in short:
        return short[key]
    raise ValueError(f"{what} {value!r}: want one of {', '.join(short)}")


def mode_value(mode: str | int) -> int:
    """The Mode enum value of a short name, a full name or a number."""
    return _enum_value(mode, MODES, "MODE_", "mode")


def duplicates_value(duplicates: str | int | None) -> int:
    """The Duplicates enum value; None is DUPLICATES_UNSPECIFIED (the
    mode's default)."""
    if duplicates is None or duplicates == pb.DUPLICATES_UNSPECIFIED:
        return pb.DUPLICATES_UNSPECIFIED
    return _enum_value(duplicates, DUPLICATES, "DUPLICATES_", "duplicates")


def mode_name(value: int) -> str:
    """The short name of a Mode enum value ("unspecified" for 0)."""
    for name, v in MODES.items():
        if v == value:
            return name
    full: str = pb.Mode.Name(value)
    return full.removeprefix("MODE_").lower()


class Statement(NamedTuple):
    """One SQL statement of a load, and the rows it carries (COPY, INSERT;
    0 if none)."""

    sql: str
    rows: int


@dataclass(frozen=True, eq=False)
class LoadResult(Mapping[str, Any]):
    """What a load did (or, for a plan, would do).

    A read-only mapping with the keys below, which are also its attributes:
    ``result["inserted"]``, ``result.get("deleted", 0)`` and
    ``result.inserted`` all work, and ``dict(result)`` is a plain dict. It
    compares equal to a mapping with the same items.
    """

    mode: str  # the mode that ran, as a short name ("delete_insert")
    table: str
    deleted: int  # target rows deleted; in a plan: distinct key tuples targeted
    inserted: int
    batches: int
    updated: int  # existing rows changed (upsert, fill_null_only)
    skipped: int  # rows not written (insert_missing, fill_null_only)
    rows: int  # rows the load carried
    duplicates_dropped: int  # rows dropped for a later row with the same key
    replayed: bool  # the recorded result of an earlier load with this request_id
    dry_run: bool  # ran, then rolled back: nothing was written
    skipped_columns: tuple[str, ...]  # generated columns the rows carried, left out
    statements: tuple[Statement, ...]
    sql_script: str | None  # plan_only: a psql script doing the same load; else None
    rejected_rows: int  # bad rows left out under max_rejected_rows
    rejected: tuple[RowError, ...]  # those rows, with what was wrong (up to the service's cap)
    load_id: str | None  # the load's id in the service's history; None for a plan

    @classmethod
    def from_response(
        cls, resp: pb.LoadResponse, label: Callable[[int], Hashable | None] | None = None
    ) -> LoadResult:
        """The result of a LoadResponse; label(row) is the DataFrame index
        label of a rejected row, when a DataFrame was loaded."""
        return cls(
            mode=mode_name(resp.mode),
            table=resp.table,
            deleted=resp.deleted,
            inserted=resp.inserted,
            batches=resp.batches,
            updated=resp.updated,
            skipped=resp.skipped,
            rows=resp.rows,
            duplicates_dropped=resp.duplicates_dropped,
            replayed=resp.replayed,
            dry_run=resp.dry_run,
            skipped_columns=tuple(resp.skipped_columns),
            statements=tuple(Statement(s.sql, s.rows) for s in resp.statements),
            sql_script=resp.sql_script if resp.plan_only else None,
            rejected_rows=resp.rejected_rows,
            rejected=row_errors(resp.rejected, label),
            load_id=resp.load_id or None,
        )

    def __getitem__(self, key: str) -> Any:
        if key not in _KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS)

    def __len__(self) -> int:
        return len(_KEYS)

    def __contains__(self, key: object) -> bool:
        return key in _KEYS

    def __repr__(self) -> str:
        shown = {k: self[k] for k in _KEYS if k not in ("statements", "sql_script", "rejected")}
        return f"LoadResult({shown})"


_KEYS: tuple[str, ...] = tuple(f.name for f in fields(LoadResult))


def load_record(r: pb.LoadRecord) -> dict[str, Any]:
    """A LoadRecord of the history as a plain dict: mode as a short name,
    times as aware UTC datetimes (None when unset), duration a timedelta."""
    return {
        "load_id": r.load_id,
        "status": r.status,
        "principal": r.principal,
        "peer": r.peer,
        "schema": r.schema,
        "table": r.table,
        "mode": mode_name(r.mode),
        "request_id": r.request_id,
        "labels": dict(r.labels),
        "rows": r.rows,
        "inserted": r.inserted,
        "updated": r.updated,
        "deleted": r.deleted,
        "skipped": r.skipped,
        "rejected": r.rejected,
        "started_at": r.started_at.ToDatetime(tzinfo=timezone.utc) if r.HasField("started_at") else None,
        "finished_at": r.finished_at.ToDatetime(tzinfo=timezone.utc) if r.HasField("finished_at") else None,
        "duration": r.duration.ToTimedelta() if r.HasField("duration") else None,
        "code": r.code,
        "sqlstate": r.sqlstate,
        "message": r.message,
    }
