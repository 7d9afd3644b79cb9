"""How one load runs: ``LoadOptions``, shared by ``Client.load`` and
``Client.writer``.

This module owns the options a caller gives a load (as a ``LoadOptions``,
as keyword arguments, or both), their defaults, and their translation into
the wire's ``LoadConfig``; a bad mode or duplicates policy is an
``InvalidRequest`` before any call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from loadsvc._errors import InvalidRequest
from loadsvc._result import duplicates_value, mode_value
from loadsvc.v1 import loadsvc_pb2 as pb

__all__ = ["DEFAULT_CHUNK_SIZE", "LoadOptions"]

#: The chunk_size a load asks for when its options give none: rows of one
#: COPY on the service, which also ends a COPY at 4 MiB of rows. PostgreSQL
#: 15 spends about 2 ms of CPU on each COPY into an indexed table beyond its
#: rows (most of it in ResourceOwnerRememberTupleDesc, once per buffered
#: tuple slot), about what a thousand rows cost. So a load asks for as few
#: COPYs as the service allows: at the service's default of 1,000 rows, an
#: append of make bench-python's 200,000 rows cost PostgreSQL 1.03 s of CPU
#: against 0.57 s with this.
DEFAULT_CHUNK_SIZE = 1_000_000


@dataclass(frozen=True)
class LoadOptions:
    """The options of one load. ``Client.load`` and ``Client.writer`` take
    one as ``options=``, its fields as keyword arguments, or both (the
    keyword arguments win)::

        daily = loadsvc.LoadOptions("delete_insert", pk=["月度"], schema="business")
        client.load("规模明细", rows, options=daily)
        client.load("规模明细", rows, options=daily, dry_run=True)
        client.load("规模明细", rows, "delete_insert", pk=["月度"], schema="business")

    ``mode`` and ``duplicates`` take short names (``"append"``,
    ``"keep_last"``) or enum values; ``duplicates=None`` is the mode's
    default. ``pk`` is the key columns (a str is one column). ``chunk_size``
    is the rows of one COPY on the service (``None``:
    ``DEFAULT_CHUNK_SIZE``, so a COPY ends only where the service cuts it at
    4 MiB of rows). ``plan_only`` returns the SQL
    (with a psql script) without touching the database; ``dry_run`` runs
    the load and rolls it back. ``request_id`` makes the load exactly-once
    (``load`` picks a random one when it is ``None``).

    ``max_rejected_rows`` lets the load leave out up to that many bad rows
    and write the others (``result.rejected`` lists them; 0: a bad row
    refuses the load, ``LoadFailed.row_errors`` lists every one).
    ``max_deleted_rows`` refuses a load that would delete more rows (0: no
    limit). ``labels`` are recorded with the load in the service's history
    (at most 16; keys ``[a-z0-9_.-]``, values up to 256 bytes), and
    ``stamp_column`` names a target column that receives the load's
    ``load_id`` in every row written.
    """

    mode: str | int = "delete_insert"
    pk: Sequence[str] | str | None = None
    schema: str | None = None
    chunk_size: int | None = None
    plan_only: bool = False
    duplicates: str | int | None = None
    request_id: str | None = None
    dry_run: bool = False
    max_rejected_rows: int = 0
    max_deleted_rows: int = 0
    labels: Mapping[str, str] | None = None
    stamp_column: str | None = None

    @classmethod
    def of(cls, caller: str, options: LoadOptions | None, given: Mapping[str, Any]) -> LoadOptions:
        """options (or the defaults) with the keyword arguments given to
        caller ("load()") applied; an unknown name is a TypeError that
        lists the known ones."""
        unknown = [k for k in given if k not in _FIELDS]
        if unknown:
            raise TypeError(
                f"{caller} got an unexpected keyword argument {unknown[0]!r}; "
                f"the options of a load are {', '.join(_FIELDS)}"
            )
        base = options if options is not None else cls()
        return dataclasses.replace(base, **given) if given else base

    def config(self, table: str, *, request_id: str) -> pb.LoadConfig:
        """The LoadConfig of a load of table; request_id (given when the
        options have none) is the caller's."""
        try:
            mode_v = mode_value(self.mode)
        except ValueError as e:
            raise InvalidRequest("INVALID_ARGUMENT", str(e), field="config.mode") from None
        try:
            dup_v = duplicates_value(self.duplicates)
        except ValueError as e:
            raise InvalidRequest("INVALID_ARGUMENT", str(e), field="config.duplicates") from None
        keys = [self.pk] if isinstance(self.pk, str) else list(self.pk or ())
        return pb.LoadConfig(
            table=table,
            schema=self.schema or "",
            mode=cast("pb.Mode", mode_v),
            pk=keys,
            plan_only=self.plan_only,
            chunk_size=self.chunk_size or DEFAULT_CHUNK_SIZE,
            duplicates=cast("pb.Duplicates", dup_v),
            request_id=self.request_id or request_id,
            dry_run=self.dry_run,
            max_rejected_rows=self.max_rejected_rows,
            max_deleted_rows=self.max_deleted_rows,
            labels=dict(self.labels or {}),
            stamp_column=self.stamp_column or "",
        )


_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LoadOptions))
