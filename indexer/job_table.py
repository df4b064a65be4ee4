"""Where the job manager (``indexer/jobs.py``) keeps job state: a table every process of a deployment
reads and writes.

Two implementations, chosen by the store (``StoreBackend.job_table()``):
- ``indexer/stores/embedded/job_table.py``: ``<data dir>/jobs.sqlite3``, for the embedded store: every
  process that shares the data folder (the workers of one server, the CLI) sees every job;
- ``indexer/stores/qdrant/jobs.py``: a Qdrant collection, for the Qdrant store: API replicas on
  several machines share nothing but Qdrant, so that is where their jobs live.

A row is a dict of the columns in :data:`COLUMNS`; dict-valued columns (params, progress, report,
error) stay dicts. ``update(..., where_state=...)`` is a compare-and-set: it changes the row only if
its state is one of those, and says whether it did. That is what keeps two processes from both
starting, or one starting and another cancelling, the same queued job.
"""

from __future__ import annotations

from collections.abc import Sequence
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
