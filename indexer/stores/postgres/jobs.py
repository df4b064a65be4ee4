"""The job table (``indexer/job_table.py``) in Postgres: the ``jobs`` table every API replica over one
database reads and writes, so a folder job started on one replica is listed, followed and cancelled
from any other.

The compare-and-set the job manager relies on (``update(..., where_state=...)``: start a queued job,
cancel a running one) locks the row with ``FOR UPDATE SKIP LOCKED``: of two replicas racing for the
same job, the second finds the row taken and returns at once with "not updated" instead of waiting
for the first to commit and re-checking. A cancel is a ``cancel_requested`` flag the owner's watcher
reads every ``POLL_SECONDS`` (0.5 s, ``indexer/jobs.py``); a replica that dies stops its heartbeat and
its jobs end ``interrupted`` with what they committed (``JobManager.interrupt_abandoned``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from indexer.errors import StoreUnavailable
from indexer.job_table import COLUMNS, FINISHED_STATES, JSON_COLUMNS

if TYPE_CHECKING:
    from indexer.stores.postgres.connection import Pools

_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM jobs"


class PostgresJobTable:
    errors: tuple[type[BaseException], ...] = (StoreUnavailable,)

    def __init__(self, pools: Pools) -> None:
        self.pools = pools  # (the table itself is made with the schema: schema.SHARED)

    def insert(self, row: dict[str, Any]) -> None:
        cols = [c for c in COLUMNS if c in row]
        with self.pools.write("add a job") as con:
            con.execute(f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                        [_value(c, row[c]) for c in cols])

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.pools.read("read a job") as con:
            got = con.execute(_SELECT + " WHERE id = %s", (job_id,)).fetchone()
        return _row(got) if got else None

    def select(self, *, key: str | None = None, states: Sequence[str] | None = None,
               ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        where: list[str] = ["true"]
        params: list[Any] = []
        if key is not None:
            where.append("key = %s")
            params.append(key)
        if states is not None:
            where.append("state = ANY(%s)")
            params.append(list(states))
        if ids is not None:
            where.append("id = ANY(%s)")
            params.append(list(ids))
        with self.pools.read("list jobs") as con:
            rows = con.execute(_SELECT + f" WHERE {' AND '.join(where)} ORDER BY created_at DESC", params).fetchall()
        return [_row(r) for r in rows]

    def update(self, job_id: str, values: dict[str, Any], *, where_state: Sequence[str] | None = None) -> bool:
        cols = [c for c in COLUMNS if c in values and c != "id"]
        if not cols:
            return self.get(job_id) is not None
        sets = ", ".join(f"{c} = %s" for c in cols)
        params: list[Any] = [_value(c, values[c]) for c in cols]
        with self.pools.write("update a job") as con:
            if where_state:
                got = con.execute(f"UPDATE jobs SET {sets} WHERE id = (SELECT id FROM jobs WHERE id = %s AND "
                                  "state = ANY(%s) FOR UPDATE SKIP LOCKED)", [*params, job_id, list(where_state)])
            else:
                got = con.execute(f"UPDATE jobs SET {sets} WHERE id = %s", [*params, job_id])
            return got.rowcount == 1

    def touch(self, ids: Sequence[str], heartbeat: float) -> None:
        with self.pools.write("mark jobs alive") as con:
            con.execute("UPDATE jobs SET heartbeat = %s WHERE id = ANY(%s)", (heartbeat, list(ids)))

    def prune(self, keep: int) -> None:
        with self.pools.write("forget old jobs") as con:
            con.execute("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = ANY(%s) "
                        "ORDER BY finished_at DESC NULLS LAST OFFSET %s)", (list(FINISHED_STATES), keep))

    def close(self) -> None:
        pass  # the pools belong to the backend


def _value(column: str, v: Any) -> Any:
    return Jsonb(v) if column in JSON_COLUMNS and v is not None else v


def _row(r: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, r, strict=True))
    row["params"] = row["params"] or {}
    row["progress"] = row["progress"] or {}
    row["cancel_requested"] = bool(row["cancel_requested"])
    return row
