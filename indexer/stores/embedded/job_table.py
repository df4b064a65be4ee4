"""The job table (``indexer/job_table.py``) in one SQLite file: ``<data dir>/jobs.sqlite3``, for the
embedded store. Every process that shares the data folder (the workers of one server, the CLI) sees
every job.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexer.job_table import COLUMNS, FINISHED_STATES, JSON_COLUMNS
from indexer.stores.embedded.space import disk_full_answer

JOBS_FILE = "jobs.sqlite3"


def jobs_file(data_dir: Path | str) -> Path:
    """Where a data folder keeps its jobs (created with the folder if needed)."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return Path(data_dir) / JOBS_FILE


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
        self._data_dir = Path(path).parent if path is not None else Path(":memory:")
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
        with disk_full_answer(self._data_dir, "queuing the job"):  # a full disk refuses the job: 507, not 500
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
