"""Background jobs: long work (indexing a folder) run on threads, with state, progress and cancel.

A job belongs to a *key* (the collection name). Jobs with the same key run one at a time, in the
order they were submitted; jobs with different keys run in parallel. Each key gets a worker thread
while it has work and the thread exits when its queue is empty, so an idle manager holds no threads.

States: ``queued -> running -> succeeded | failed | cancelled``. Cancelling a queued job drops it;
cancelling a running one sets its event, which the work checks between files, and the job ends
``cancelled`` with whatever it finished (every committed batch stays committed).

Jobs live in memory: a restart forgets them (the work they committed stays in the catalog).
Nothing here knows about HTTP.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from indexer.errors import JobNotFound, SemsearchError

log = logging.getLogger(__name__)

State = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

# The work a job runs: it gets a progress callback and a cancel event, and returns a report (an object
# with ``to_dict()``, or a dict).
Work = Callable[[Callable[[Any], None], threading.Event], Any]


@dataclass
class Job:
    id: str
    key: str
    kind: str
    params: dict[str, Any]
    work: Work = field(repr=False)
    state: State = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    done_event: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def to_dict(self) -> dict[str, Any]:
        """A consistent snapshot (taken under the job's lock)."""
        with self._lock:
            return {
                "id": self.id, "collection": self.key, "kind": self.kind, "params": dict(self.params),
                "state": self.state, "created_at": self.created_at, "started_at": self.started_at,
                "finished_at": self.finished_at, **self.progress,
                "cancel_requested": self.cancel_event.is_set(),
                "report": self.report, "error": self.error,
            }

    def _set(self, **changes: Any) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self, k, v)

    def _on_progress(self, p: Any) -> None:
        data = dataclasses.asdict(p) if dataclasses.is_dataclass(p) and not isinstance(p, type) else dict(p)
        if data.get("chunks_per_second") is not None:
            data["chunks_per_second"] = round(float(data["chunks_per_second"]), 1)
        if data.get("eta_seconds") is not None:
            data["eta_seconds"] = round(float(data["eta_seconds"]), 1)
        with self._lock:
            self.progress = data


class JobManager:
    """Runs jobs on background threads, one at a time per key; keeps the last ``keep`` finished jobs."""

    def __init__(self, *, keep: int = 200) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._closed = False

    def submit(self, key: str, work: Work, *, kind: str = "index_folder", params: dict[str, Any] | None = None
               ) -> Job:
        """Queue ``work`` under ``key``; it starts when the key's earlier jobs have finished."""
        job = Job(id=uuid.uuid4().hex, key=key, kind=kind, params=dict(params or {}), work=work)
        with self._lock:
            if self._closed:
                raise RuntimeError("the job manager is shut down")
            self._jobs[job.id] = job
            self._queues.setdefault(key, deque()).append(job)
            if key not in self._workers:
                t = threading.Thread(target=self._drain, args=(key,), name=f"job-{key}", daemon=True)
                self._workers[key] = t
                t.start()
            self._prune()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def list_jobs(self, *, key: str | None = None, state: str | None = None) -> list[Job]:
        """Jobs, newest first."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [j for j in reversed(jobs) if (key is None or j.key == key) and (state is None or j.state == state)]

    def active(self, key: str) -> list[Job]:
        """Queued and running jobs of ``key``."""
        return [j for j in self.list_jobs(key=key) if not j.finished]

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop. A queued job ends at once; a running one at its next check. Idempotent."""
        job = self.get(job_id)
        job.cancel_event.set()
        with self._lock:
            queue = self._queues.get(job.key)
            if job.state == "queued" and queue is not None and job in queue:
                queue.remove(job)
                self._finish(job, "cancelled")
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        job = self.get(job_id)
        job.done_event.wait(timeout)
        return job

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel everything and wait (up to ``timeout`` seconds in all) for running jobs to stop."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
            workers = list(self._workers.values())
        for job in jobs:
            if not job.finished:
                self.cancel(job.id)
        deadline = time.monotonic() + timeout
        for t in workers:
            t.join(max(0.0, deadline - time.monotonic()))

    # -- internals --------------------------------------------------------------------------------
    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(key)
                if not queue:
                    self._queues.pop(key, None)
                    self._workers.pop(key, None)
                    return
                job = queue.popleft()
            self._run(job)

    def _run(self, job: Job) -> None:
        if job.cancel_event.is_set():
            self._finish(job, "cancelled")
            return
        job._set(state="running", started_at=time.time())
        try:
            result = job.work(job._on_progress, job.cancel_event)
        except SemsearchError as e:
            log.info("job %s (%s) failed: %s", job.id, job.key, e.message)
            self._finish(job, "failed", error={"code": e.code, "message": e.message, "field": e.field})
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.key)
            self._finish(job, "failed", error={"code": "internal_error", "field": None,
                                               "message": "The job failed with an internal error; see the server log."})
        else:
            report = result.to_dict() if hasattr(result, "to_dict") else result
            self._finish(job, "cancelled" if job.cancel_event.is_set() else "succeeded", report=report)

    def _finish(self, job: Job, state: State, **changes: Any) -> None:
        job._set(state=state, finished_at=time.time(), **changes)
        job.done_event.set()

    def _prune(self) -> None:
        """Forget the oldest finished jobs beyond ``keep`` (called under the lock)."""
        finished = [j.id for j in self._jobs.values() if j.finished]
        for job_id in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[job_id]
