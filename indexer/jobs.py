"""Background jobs: long work (indexing a folder) run on threads, with durable state, progress and cancel.

A job belongs to a *key* (the collection name). Within one process, jobs with the same key run one at
a time in the order they were submitted and jobs with different keys run in parallel; each key gets
a worker thread while it has work.

State lives in a job table the whole deployment shares (``indexer/job_table.py``): a SQLite file in
the data folder for the embedded store, a Qdrant collection for the Qdrant store. So every worker
process of a server - and every API replica over one Qdrant - sees every job, and a restart forgets none:
- ``queued -> running -> succeeded | failed | cancelled``, plus ``interrupted``: the process running
  (or holding) the job stopped first. A stopped server's jobs are marked ``interrupted`` by the next
  manager that opens the file (its owner's pid is gone, or its heartbeat is stale); what they
  committed stays in the collection, and their last progress says how far they got. They are not
  resumed on their own: the server that restarts may have other roots or settings, and running the
  job again is cheap (unchanged files cost nothing).
- Cancel works from any process: it sets a flag in the table; the owner's watcher thread sees it
  within ``POLL_SECONDS`` and sets the event the work checks between files/batches. A queued job
  ends at once. A job whose work finished without ever *seeing* the cancel reports ``succeeded``
  (and ``cancel_requested``): its final state says what it did, not what was asked.
- Progress is a JSON object (whatever the work reports), spread into ``to_dict()``, so new fields
  need no schema change here.

Nothing here knows about HTTP, SQL or Qdrant: one class (``JobManager``) whose queue, threads,
durable rows and cross-process cancel share one lock, so they stay together.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from indexer.errors import JobNotFound, SemsearchError
from indexer.job_table import JobTable

log = logging.getLogger(__name__)

State = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
STATES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "interrupted"})

POLL_SECONDS = 0.5  # how often a running job's owner looks for a cancel asked by another process
HEARTBEAT_SECONDS = 5.0  # how often an owner marks its unfinished jobs alive
STALE_SECONDS = 120.0  # an unfinished job not marked alive for this long has lost its process
PROGRESS_SECONDS = 0.2  # progress is written at most this often (the last one always)

_LIVE_OWNERS: set[str] = set()  # owners of this process's open managers (a fact about the process)

# The work a job runs: it gets a progress callback and a cancel event, and returns a report (an object
# with ``to_dict()``, or a dict).
Work = Callable[[Callable[[Any], None], threading.Event], Any]

@dataclass
class Job:
    """A job as stored: a snapshot, read again for fresh state."""

    id: str
    key: str
    kind: str
    params: dict[str, Any]
    state: State
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "collection": self.key, "kind": self.kind, "params": dict(self.params),
            "state": self.state, "created_at": self.created_at, "started_at": self.started_at,
            "finished_at": self.finished_at, **self.progress, "cancel_requested": self.cancel_requested,
            "report": self.report, "error": self.error,
        }


class CancelFlag(threading.Event):
    """The event the work checks; it remembers whether the work ever saw it set."""

    def __init__(self) -> None:
        super().__init__()
        self.observed = False

    def is_set(self) -> bool:
        if super().is_set():
            self.observed = True
            return True
        return False

    def wait(self, timeout: float | None = None) -> bool:
        if super().wait(timeout):
            self.observed = True
            return True
        return False


@dataclass
class _Local:
    """What only the owning process has: the work, its cancel flag, the latest unsaved progress."""

    job_id: str
    key: str
    work: Work
    cancel: CancelFlag = field(default_factory=CancelFlag)
    done: threading.Event = field(default_factory=threading.Event)
    progress: dict[str, Any] | None = None
    progress_saved_at: float = 0.0
    final: dict[str, Any] | None = None  # its end state while the table cannot take it (a full disk)


_JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Job))


def _row_job(row: dict[str, Any]) -> Job:
    return Job(**{k: row[k] for k in _JOB_FIELDS})


class JobManager:
    """Runs jobs on background threads (one at a time per key) and keeps their state in ``table`` (the
    store's: ``StoreBackend.job_table()``). Keeps the last ``keep`` finished jobs."""

    def __init__(self, table: JobTable, *, keep: int = 200) -> None:
        self._keep = keep
        # host:pid:token - the token tells this process from an earlier one with the same pid (a container's pid 1)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._table: JobTable = table
        self._lock = threading.Lock()
        self._local: dict[str, _Local] = {}
        self._queues: dict[str, deque[_Local]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._closed = threading.Event()
        _LIVE_OWNERS.add(self.owner)
        self.interrupt_abandoned()
        self._watcher = threading.Thread(target=self._watch, name="jobs-watch", daemon=True)
        self._watcher.start()

    # -- storage ------------------------------------------------------------------------------------
    def _update(self, job_id: str, where_state: tuple[str, ...] | None = None, **values: Any) -> bool:
        """Set fields of one job; only if it is in ``where_state``. True if changed."""
        return self._table.update(job_id, values, where_state=where_state)

    def interrupt_abandoned(self) -> int:
        """Mark ``interrupted`` the unfinished jobs whose process is gone (run at start). Returns how many."""
        now = time.time()
        host = socket.gethostname()
        n = 0
        for row in self._table.select(states=("queued", "running")):
            job_id, owner, heartbeat, progress = row["id"], row["owner"], row["heartbeat"], row["progress"]
            if owner == self.owner:
                continue
            owner_host, pid, _token = (owner.split(":") + ["", "0", ""])[:3]
            if owner_host == host and int(pid) == os.getpid():
                gone = owner not in _LIVE_OWNERS  # an earlier process with our pid (a container's pid 1)
            else:
                gone = now - heartbeat > STALE_SECONDS or (owner_host == host and not pid_alive(int(pid)))
            if gone and self._update(job_id, ("queued", "running"), state="interrupted", finished_at=now,
                                     error=_interrupted(progress)):
                n += 1
        if n:
            log.warning("%d job(s) of a stopped process marked interrupted", n)
        return n

    # -- the API ------------------------------------------------------------------------------------
    def submit(self, key: str, work: Work, *, kind: str = "index_folder", params: dict[str, Any] | None = None
               ) -> Job:
        """Queue ``work`` under ``key``; it starts when the key's earlier jobs (in this process) have finished."""
        local = _Local(job_id=uuid.uuid4().hex, key=key, work=work)
        now = time.time()
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the job manager is shut down")
            self._table.insert({"id": local.job_id, "key": key, "kind": kind, "params": params or {},
                                "state": "queued", "created_at": now, "progress": {}, "cancel_requested": False,
                                "owner": self.owner, "heartbeat": now})
            self._local[local.job_id] = local
            self._queues.setdefault(key, deque()).append(local)
            if key not in self._workers:
                t = threading.Thread(target=self._drain, args=(key,), name=f"job-{key}", daemon=True)
                self._workers[key] = t
                t.start()
        self._prune()
        return self.get(local.job_id)

    def get(self, job_id: str) -> Job:
        row = self._table.get(job_id)
        if row is None:
            raise JobNotFound(job_id)
        return _row_job(self._with_final(row))

    def list_jobs(self, *, key: str | None = None, state: str | None = None) -> list[Job]:
        """Jobs, newest first."""
        return [_row_job(self._with_final(r))
                for r in self._table.select(key=key, states=None if state is None else (state,))]

    def _with_final(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with the end state this process holds for it but could not save yet."""
        local = self._local.get(row["id"])
        return {**row, **local.final} if local is not None and local.final is not None else row

    def active(self, key: str) -> list[Job]:
        """Queued and running jobs of ``key`` (in any process)."""
        return [j for j in self.list_jobs(key=key) if not j.finished]

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop, from any process. A queued job ends at once; a running one at its next
        check. A finished job is left as it is. Idempotent."""
        self.get(job_id)  # 404 first
        now = time.time()
        self._update(job_id, ("queued", "running"), cancel_requested=True)
        if self._update(job_id, ("queued",), state="cancelled", finished_at=now):
            local = self._local.get(job_id)
            if local is not None:
                local.done.set()  # its worker skips it
        local = self._local.get(job_id)
        if local is not None:
            local.cancel.set()
        return self.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once finished (or as it is after ``timeout`` seconds)."""
        local = self._local.get(job_id)
        if local is not None:
            local.done.wait(timeout)
            return self.get(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.finished or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(0.1)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop this process's jobs (they end ``interrupted``) and wait up to ``timeout`` seconds in all."""
        with self._lock:
            self._closed.set()
            _LIVE_OWNERS.discard(self.owner)
            locals_ = list(self._local.values())
            workers = list(self._workers.values())
        for local in locals_:
            local.cancel.set()
        deadline = time.monotonic() + timeout
        for t in workers:
            t.join(max(0.0, deadline - time.monotonic()))
        self._watcher.join(max(0.0, deadline - time.monotonic()))
        for local in locals_:  # never started, or still running past the timeout
            job = self.get(local.job_id)
            self._update(local.job_id, ("queued", "running"), state="interrupted", finished_at=time.time(),
                         error=_interrupted(job.progress))
        if not any(t.is_alive() for t in workers):  # a job past the timeout still writes its end state
            self._table.close()

    # -- internals --------------------------------------------------------------------------------
    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(key)
                if not queue or self._closed.is_set():
                    self._queues.pop(key, None)
                    self._workers.pop(key, None)
                    return
                local = queue.popleft()
            # running and its first phase in one write: a reader never sees a running job without a phase
            if self._update(local.job_id, ("queued",), state="running", started_at=time.time(),
                            progress={"phase": "starting"}):
                self._run(local)
            else:  # cancelled (here or by another process) while queued
                self._forget(local)

    def _run(self, local: _Local) -> None:
        job_id = local.job_id
        try:
            result = local.work(lambda p: self._on_progress(local, p), local.cancel)
        except SemsearchError as e:
            log.info("job %s (%s) failed: %s", job_id, local.key, e.message)
            self._finish(local, "failed", error={"code": e.code, "message": e.message, "field": e.field})
        except Exception:
            log.exception("job %s (%s) failed", job_id, local.key)
            self._finish(local, "failed", error={
                "code": "internal_error", "field": None,
                "message": "The job failed with an internal error; see the server log."})
        else:
            report = result.to_dict() if hasattr(result, "to_dict") else result
            if not local.cancel.observed:
                state: State = "succeeded"  # it did all its work, whatever was asked meanwhile
            elif self._closed.is_set() and not self.get(job_id).cancel_requested:
                state = "interrupted"  # the server stopped it, not a user
            else:
                state = "cancelled"
            error = _interrupted(local.progress or {}) if state == "interrupted" else None
            self._finish(local, state, report=report, error=error)

    def _on_progress(self, local: _Local, p: Any) -> None:
        data = dataclasses.asdict(p) if dataclasses.is_dataclass(p) and not isinstance(p, type) else dict(p)
        for k in ("chunks_per_second", "eta_seconds"):
            if data.get(k) is not None:
                data[k] = round(float(data[k]), 1)
        committed = _committed(local.progress) != _committed(data)  # saved at once: what a crash report says
        local.progress = data
        now = time.monotonic()
        if committed or now - local.progress_saved_at >= PROGRESS_SECONDS:
            local.progress_saved_at = now
            try:
                self._update(local.job_id, progress=data, heartbeat=time.time())
            except self._table.errors:  # the work's commits matter more than one progress line: keep going
                log.exception("job %s: saving progress failed", local.job_id)

    def _finish(self, local: _Local, state: State, **changes: Any) -> None:
        if local.progress is not None:
            changes["progress"] = local.progress
        changes = {"state": state, "finished_at": time.time(), **changes}
        try:
            self._update(local.job_id, ("running",), **changes)
        except self._table.errors:  # (a full disk): answered from memory, saved by the watcher once it can be
            log.exception("job %s: saving its end state failed; retried every %s s", local.job_id, POLL_SECONDS)
            local.final = changes
            local.done.set()
            return
        self._forget(local)

    def _forget(self, local: _Local) -> None:
        local.done.set()
        with self._lock:
            self._local.pop(local.job_id, None)
        self._prune()

    def _watch(self) -> None:
        """Carry cancels asked by other processes to this process's jobs; keep its jobs' heartbeat."""
        last_beat = last_scan = time.monotonic()
        while not self._closed.wait(POLL_SECONDS):
            try:
                if time.monotonic() - last_scan >= STALE_SECONDS / 4:  # other hosts' lost jobs, too
                    last_scan = time.monotonic()
                    self.interrupt_abandoned()
                with self._lock:
                    mine = list(self._local.values())
                for m in mine:
                    if m.final is not None:  # an end state the table could not take before
                        self._update(m.job_id, ("running",), **m.final)
                        self._forget(m)
                if not mine:
                    continue
                ids = [m.job_id for m in mine]
                asked = {r["id"] for r in self._table.select(ids=ids) if r["cancel_requested"]}
                for m in mine:
                    if m.job_id in asked:
                        m.cancel.set()
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    self._table.touch(ids, time.time())
            except self._table.errors:
                log.exception("job watcher")

    def _prune(self) -> None:
        """Forget the oldest finished jobs beyond ``keep`` (later, if the table cannot be written now)."""
        try:
            self._table.prune(self._keep)
        except self._table.errors as e:
            log.warning("pruning finished jobs failed: %s", e)


def _committed(progress: dict[str, Any] | None) -> tuple[Any, Any]:
    return (progress or {}).get("files_committed"), (progress or {}).get("chunks_committed")


def _interrupted(progress: dict[str, Any]) -> dict[str, Any]:
    """The error of a job the server stopped under. It states only what was committed (the last saved
    progress, written at once after each commit): the batch being embedded is not in the collection,
    and neither are the files walked but not yet committed."""
    done = ""
    if progress and "chunks_committed" in progress:
        done = (f" Before it stopped it had committed {progress.get('files_committed', 0)} new or changed "
                f"file(s) and {progress['chunks_committed']} chunk(s), which stay in the collection; the "
                "batch it was embedding was not committed.")
    return {"code": "interrupted", "field": None,
            "message": "The server stopped while this job was queued or running." + done +
                       " Start it again to finish: unchanged files cost nothing."}


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (this process counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
