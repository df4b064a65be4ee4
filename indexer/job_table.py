"""Where the job manager (``indexer/jobs.py``) keeps job state: a table every process of a deployment
reads and writes.

Two implementations, chosen by the store (``StoreBackend.job_table()``):
- :class:`SqliteJobTable`: ``<data dir>/jobs.sqlite3``, for the embedded store: every process that
  shares the data folder (the workers of one server, the CLI) sees every job;
- ``indexer/stores/qdrant_jobs.py``: a Qdrant collection, for the Qdrant store: API replicas on
  several machines share nothing but Qdrant, so that is where their jobs live.

A row is a dict of the columns in :data:`COLUMNS`; dict-valued columns (params, progress, report,
error) stay dicts. ``update(..., where_state=...)`` is a compare-and-set: it changes the row only if
its state is one of those, and says whether it did. That is what keeps two processes from both
starting, or one starting and another cancelling, the same queued job.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

COLUMNS = ("id", "key", "kind", "params", "state", "created_at", "started_at", "finished_at", "progress", "report",
           "error", "cancel_requested", "owner", "heartbeat")
JSON_COLUMNS = frozenset({"params", "progress", "report", "error"})
FINISHED_STATES = ("succeeded", "failed", "cancelled", "interrupted")


class JobTable(Protocol):
    errors: tuple[type[BaseException], ...]  # what a failed read or write raises (progress is best effort)

    def insert(self, row: dict[str, Any]) -> None: ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def select(self, *, key: str | None = None, states: Sequence[str] | None = None,
               ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Rows, newest first."""
        ...

    def update(self, job_id: str, values: dict[str, Any], *, where_state: Sequence[str] | None = None) -> bool: ...

    def touch(self, ids: Sequence[str], heartbeat: float) -> None: ...

    def prune(self, keep: int) -> None:
        """Forget the oldest finished jobs beyond ``keep``."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,           -- JSON
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    progress TEXT NOT NULL DEFAULT '{}',  -- JSON: whatever the work reports
    report TEXT,                    -- JSON
    error TEXT,                     -- JSON {code, message, field}
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    owner TEXT NOT NULL,            -- host:pid:token of the process that runs (or will run) it
    heartbeat REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
"""


class SqliteJobTable:
    """Jobs in one SQLite file (WAL, so readers never wait for the writer), or in memory (``None``)."""

    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, path: Path | str | None) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:" if path is None else str(path), timeout=30, isolation_level=None,
                                   check_same_thread=False)
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)

    def _sql(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(params))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(sql, tuple(params)).fetchall()
        return [_decode(r) for r in rows]

    def insert(self, row: dict[str, Any]) -> None:
        cols = [c for c in COLUMNS if c in row]
        self._sql(f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                  [_encode(c, row[c]) for c in cols])

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE id=?", (job_id,))
        return rows[0] if rows else None

    def select(self, *, key: str | None = None, states: Sequence[str] | None = None,
               ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if key is not None:
            where.append("key=?")
            params.append(key)
        for column, values in (("state", states), ("id", ids)):
            if values is not None:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return self._rows(f"SELECT {', '.join(COLUMNS)} FROM jobs {clause} ORDER BY created_at DESC, rowid DESC",
                          params)

    def update(self, job_id: str, values: dict[str, Any], *, where_state: Sequence[str] | None = None) -> bool:
        sql = f"UPDATE jobs SET {', '.join(f'{k}=?' for k in values)} WHERE id=?"
        params = [*(_encode(k, v) for k, v in values.items()), job_id]
        if where_state:
            sql += f" AND state IN ({','.join('?' * len(where_state))})"
            params.extend(where_state)
        return self._sql(sql, params).rowcount > 0

    def touch(self, ids: Sequence[str], heartbeat: float) -> None:
        self._sql(f"UPDATE jobs SET heartbeat=? WHERE id IN ({','.join('?' * len(ids))})", (heartbeat, *ids))

    def prune(self, keep: int) -> None:
        done = ",".join("?" * len(FINISHED_STATES))
        self._sql(f"DELETE FROM jobs WHERE state IN ({done}) AND id NOT IN (SELECT id FROM jobs WHERE state IN "
                  f"({done}) ORDER BY finished_at DESC LIMIT ?)", (*FINISHED_STATES, *FINISHED_STATES, keep))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _encode(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS:
        return None if value is None else json.dumps(value)
    if column == "cancel_requested":
        return int(bool(value))
    return value


def _decode(r: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, r, strict=True))
    for c in JSON_COLUMNS:
        row[c] = json.loads(row[c]) if row[c] else ({} if c in ("params", "progress") else None)
    row["cancel_requested"] = bool(row["cancel_requested"])
    return row
