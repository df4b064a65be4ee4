"""The job table (``indexer/job_table.py``) in Qdrant: how API replicas on several machines, which share
nothing but their Qdrant, see and cancel each other's folder jobs.

One collection, ``semsearch-jobs`` (never a semsearch collection's name: those are ``semsearch_NAME``),
with one vectorless point per job whose payload is the job's row. The compare-and-set that keeps two
replicas from both starting, or one starting and another cancelling, the same queued job is a
``set_payload`` whose filter names the point *and* the states it may be in: the server applies a
point's updates one at a time and checks the filter as it applies it, so of two racing updates only
the first matches. The client is not told whether the filter matched, so each conditional update
writes a fresh ``stamp`` and reads the point back: the update took if the stamp is its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from qdrant_client import models

from indexer.errors import StoreUnavailable
from indexer.job_table import COLUMNS, FINISHED_STATES
from indexer.stores.qdrant.points import Connection

JOBS = "semsearch-jobs"
PAGE = 1000


class QdrantJobTable:
    errors: tuple[type[BaseException], ...] = (StoreUnavailable,)

    def __init__(self, qb: Connection) -> None:
        self.qb = qb
        if not self.qb.call("collection_exists", JOBS, what=f"look for {JOBS}"):
            self.qb.call("create_collection", JOBS, vectors_config={}, what=f"create {JOBS}")
            for field, schema in (("key", "keyword"), ("state", "keyword")):
                self.qb.index_field(JOBS, field, schema)

    def _call(self, method: str, *args: Any, what: str, **kwargs: Any) -> Any:
        return self.qb.call(method, *args, what=f"{what} (job table {JOBS})", **kwargs)

    def insert(self, row: dict[str, Any]) -> None:
        self._call("upsert", JOBS, [models.PointStruct(id=_pid(row["id"]), vector={}, payload=_payload(row))],
                   wait=True, what="add a job")

    def get(self, job_id: str) -> dict[str, Any] | None:
        got = self._call("retrieve", JOBS, [_pid(job_id)], with_payload=True, what="read a job")
        return _row(got[0].payload) if got else None

    def select(self, *, key: str | None = None, states: Sequence[str] | None = None,
               ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        must: list[Any] = []
        if key is not None:
            must.append(models.FieldCondition(key="key", match=models.MatchValue(value=key)))
        if states is not None:
            must.append(models.FieldCondition(key="state", match=models.MatchAny(any=list(states))))
        if ids is not None:
            must.append(models.HasIdCondition(has_id=[_pid(i) for i in ids]))
        rows, offset = [], None
        while True:
            pts, offset = self._call("scroll", JOBS, scroll_filter=models.Filter(must=must) if must else None,
                                     limit=PAGE, offset=offset, with_payload=True, what="list jobs")
            rows += [_row(p.payload) for p in pts]
            if offset is None:
                break
        return sorted(rows, key=lambda r: r["created_at"], reverse=True)

    def update(self, job_id: str, values: dict[str, Any], *, where_state: Sequence[str] | None = None) -> bool:
        stamp = uuid.uuid4().hex
        must: list[Any] = [models.HasIdCondition(has_id=[_pid(job_id)])]
        if where_state:
            must.append(models.FieldCondition(key="state", match=models.MatchAny(any=list(where_state))))
        self._call("set_payload", JOBS, {**_payload(values), "stamp": stamp}, points=models.Filter(must=must),
                   wait=True, what="update a job")
        got = self._call("retrieve", JOBS, [_pid(job_id)], with_payload=["stamp"], what="read a job")
        return bool(got) and (got[0].payload or {}).get("stamp") == stamp

    def touch(self, ids: Sequence[str], heartbeat: float) -> None:
        self._call("set_payload", JOBS, {"heartbeat": heartbeat}, points=[_pid(i) for i in ids], wait=True,
                   what="mark jobs alive")

    def prune(self, keep: int) -> None:
        done = self.select(states=FINISHED_STATES)
        old = sorted(done, key=lambda r: r.get("finished_at") or 0, reverse=True)[keep:]
        for i in range(0, len(old), PAGE):
            self._call("delete", JOBS, models.PointIdsList(points=[_pid(r["id"]) for r in old[i : i + PAGE]]),
                       wait=True, what="forget old jobs")

    def close(self) -> None:
        pass  # the client belongs to the backend, closed with the collections


def _pid(job_id: str) -> str:
    return str(uuid.UUID(hex=job_id))  # job ids are uuid4 hex; a Qdrant point id is an int or a UUID


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in COLUMNS}


def _row(payload: dict[str, Any] | None) -> dict[str, Any]:
    p = payload or {}
    row = {c: p.get(c) for c in COLUMNS}
    row["params"] = row["params"] or {}
    row["progress"] = row["progress"] or {}
    row["cancel_requested"] = bool(row["cancel_requested"])
    return row
