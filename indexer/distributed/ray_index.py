"""Bulk indexing on Ray: the folder-sync recipe of :mod:`indexer.sync` with its expensive stages
(reading a file's format, chunking, embedding) on a pool of Ray actors, each loading the model once.

The driver (the process that owns the collection) keeps what must stay in one place, exactly as in
the in-process path: the race-safe walk (directory descriptors), the diff against the collection by
size and mtime, then sha256 (unchanged files cost a ``stat``, or one read), the order of commits, and
every write (``Collection.commit`` in batches of ``Limits.batch_chunks`` chunks, a big file in
partial pieces). So a killed run resumes and loses at most the batches in flight, as the in-process
path does. The driver reads the bytes of each changed file (it hashes them anyway) and ships them to
an actor with the task, so the workers need no shared filesystem, only the package and its model.

Why plain actors rather than Ray Data's ``map_batches`` over an actor pool: a Dataset is planned from
a finite input (a list, or read tasks made up front), while the walk is a stream that keeps no list of
the folder; each execution of a Dataset starts its own actors (one model load per actor per run, and
the batches below must be formed from the results of the reads, which would take a second Dataset);
and the commit order that resume depends on (a file's pieces in order, batch after batch) is simplest
to keep when the driver holds each task's reference. What Ray Data would add - a bounded stream with
back-pressure over a pool of model-holding actors, retries of failed tasks - is here in ~60 lines:
bounded windows of tasks in flight, the least busy actor first, and Ray's own actor restarts and task
retries (every task is a pure function of its arguments, so a retry is safe).

The driver's embedding cache (:mod:`indexer.embedding.cache`, in its data folder) is asked first: only
the chunks it does not have are sent to the actors, and their vectors are kept in it when they come back.

Batches are formed on the driver exactly as :class:`~indexer.sync.FolderSync` forms them, and cut
into the forward passes :meth:`FolderSync.embed` makes (:func:`~indexer.sync.forward_passes`: similar
lengths together, at most ``embed_batch_size``), each sent to the least busy actor; so both paths give
the same chunks and the same vectors, and one batch keeps every actor busy (a batch per actor would
leave all but one idle on a folder of one batch, and the last batch of any folder on one core).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from indexer.chunking import Chunk
from indexer.embedding.cache import remember
from indexer.errors import InvalidInput, RayUnavailable
from indexer.readers import Extracted, ReadLimits, SkipFile, read_data
from indexer.sync import FolderSync, IndexReport, Progress, _Piece, forward_passes
from indexer.walk import Candidate, why_unreadable

if TYPE_CHECKING:
    from indexer.collection import Collection, Limits

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'semsearch[ray]'"
# What the actors' processes need in their environment: the model loads from the installed package,
# never from a hub (this library reads no environment; these are set for the processes Ray starts).
WORKER_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
FILES_PER_ACTOR = 4  # files read and chunked ahead of the batches, per actor
TASKS_PER_ACTOR = 2  # forward passes queued per actor while a second batch waits to be sent
BYTES_IN_FLIGHT = 256 * 1024 * 1024  # file bytes shipped and not yet taken back, at most (a file may pass it)


def require_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise RayUnavailable(f"indexing on Ray needs the optional extra: {INSTALL_HINT} ({e.msg})") from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Join the Ray cluster at ``address`` ("auto", "HOST:PORT", "ray://HOST:10001"), or start a local
    one of ``num_cpus`` CPUs (default: this machine's) when ``address`` is None. Already connected:
    that connection is used. Returns the ``ray`` module."""
    ray = require_ray()
    if address is not None:
        probe(address)
    if ray.is_initialized():
        return ray
    opts: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
                            "configure_logging": False}
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, **opts)
        else:
            ray.init(address=address, **opts)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray cluster"
        raise RayUnavailable(f"could not start or join {where}: {str(e).splitlines()[0] if str(e) else e!r}; "
                             "start one with `ray start --head` (then use --ray auto), or give no address "
                             "for a local one") from None
    return ray


def probe(address: str, *, timeout: float = 5.0) -> None:
    """Fail at once, in one line, when nothing listens at a ``HOST:PORT`` or ``ray://HOST:PORT``
    address: ``ray.init`` would retry for minutes, logging a warning every few seconds."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return  # "auto" (found through Ray's own files) or a form Ray itself parses and explains
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as e:
        raise RayUnavailable(f"nothing answers at the Ray address {address!r} ({e.strerror or e}); start a cluster "
                             "there with `ray start --head`, or give no address for a local one",
                             field="ray_address") from None


@dataclass(frozen=True)
class ModelSpec:
    """The embedding settings an actor loads its model with (the arguments of ``load_embedder``)."""

    model: str
    backend: str = "sentence-transformers"
    precision: str = "auto"
    engine: str = "auto"
    model_cache: str | None = None


class EmbedWorker:
    """The work of one Ray actor: the model, loaded once; reading + chunking a file; embedding a batch.

    With ``cpus == 1`` every forward pass runs on one core (:func:`~indexer.embedding.cpu.one_core`),
    so actors on the same machine run side by side instead of each spreading over every core."""

    def __init__(self, spec: ModelSpec, limits: Limits, cpus: int) -> None:
        from indexer.embedding import load_embedder

        self.embedder = load_embedder(spec.model, backend=spec.backend, precision=spec.precision,
                                      engine=spec.engine, model_cache=spec.model_cache)
        self.limits = limits
        self.single_core = cpus == 1
        self.busy = 0.0  # seconds spent reading, chunking and embedding (the benchmark's busy fraction)

    def ready(self) -> str:
        return self.embedder.name

    def node_id(self) -> str:
        """The id of the Ray node this actor runs on."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def busy_seconds(self) -> float:
        return self.busy

    def extract(self, data: bytes, path: str, language: str = "en") -> tuple[Extracted, list[Chunk]] | tuple[str, str]:
        """A file's text and its chunks (made by the same code as in process), or why it is skipped
        as (reason, detail): exceptions with their own constructors do not survive pickling.
        ``language``: the collection's (OCR reads images in it)."""
        from indexer.collection import Collection

        t0 = time.perf_counter()
        try:
            doc = read_data(data, Path(path), max_bytes=self.limits.max_file_bytes,
                            limits=ReadLimits.of(self.limits, language))
        except SkipFile as e:
            return e.reason, e.detail
        except OSError as e:  # as FolderSync reports it (and keeps what was indexed)
            return "unreadable", why_unreadable(e)
        # Collection.iter_chunks reads only ``embedder`` and ``limits``, which this worker has: calling
        # it here keeps one chunking rule for both paths.
        chunks = list(Collection.iter_chunks(cast(Any, self), doc.text, [p.start for p in doc.parts]))
        self.busy += time.perf_counter() - t0
        return doc, chunks

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts`` in their order, computed as ``FolderSync.embed`` computes a batch."""
        from indexer.embedding.cpu import one_core

        t0 = time.perf_counter()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.embedder.dimension), np.float32)
        group = self.limits.embed_batch_size
        with one_core(self.single_core):
            for at in range(0, len(order), group):
                idx = order[at : at + group]
                out[idx] = self.embedder.embed([texts[i] for i in idx], batch_size=group)
        self.busy += time.perf_counter() - t0
        return out


class RayPool:
    """``actors`` Ray actors of ``cpus`` CPUs each, each holding the model; a task goes to the actor
    with the fewest tasks in flight. Default size: every CPU of the cluster, one actor per ``cpus``.
    Start-up (the model loads) runs in the background; :meth:`wait_ready` waits for it."""

    def __init__(self, spec: ModelSpec, limits: Limits, *, actors: int = 0, cpus: int = 1) -> None:
        if actors < 0 or cpus < 1:
            raise InvalidInput(f"Ray actors must be at least 1 (or 0: one per {cpus} CPUs of the cluster) "
                               "and CPUs per actor at least 1", field="ray_actors")
        ray = require_ray()
        if not ray.is_initialized():
            connect()
        self.ray = ray
        total = int(ray.cluster_resources().get("CPU", 1))
        n = actors or max(1, total // cpus)
        if n * cpus > total:
            log.warning("%d Ray actors of %d CPUs ask for more than the cluster's %d CPUs: some wait", n, cpus, total)
        remote = ray.remote(EmbedWorker).options(num_cpus=cpus, max_restarts=2, max_task_retries=2,
                                                 runtime_env={"env_vars": WORKER_ENV})
        self.started = time.monotonic()
        self.actors = [remote.remote(spec, limits, cpus) for _ in range(n)]
        self.load = [0] * n
        self.owner: dict[Any, int] = {}
        self._ready = [a.ready.remote() for a in self.actors]
        self.startup_seconds: float | None = None
        self.nodes: list[str] = []  # each actor's node, by its address (known once the actors are ready)

    def __len__(self) -> int:
        return len(self.actors)

    def wait_ready(self) -> float:
        """Wait until every actor has loaded its model; seconds since the pool was made."""
        if self.startup_seconds is None:
            self.get_all(self._ready)
            self.startup_seconds = time.monotonic() - self.started
            ids = self.get_all([a.node_id.remote() for a in self.actors])
            address = {n["NodeID"]: n["NodeManagerAddress"] for n in self.ray.nodes()}
            self.nodes = [address.get(i, i) for i in ids]
        return self.startup_seconds

    def node_of(self, ref: Any) -> str:
        """The node (its address) of the actor running task ``ref``, not yet taken by :meth:`get`: the node
        it started on (a restarted actor may run elsewhere; it is rare enough not to track)."""
        return self.nodes[self.owner[ref]]

    def submit(self, method: str, *args: Any) -> Any:
        i = min(range(len(self.actors)), key=self.load.__getitem__)
        ref = getattr(self.actors[i], method).remote(*args)
        self.load[i] += 1
        self.owner[ref] = i
        return ref

    def ready(self, ref: Any) -> bool:
        done, _ = self.ray.wait([ref], timeout=0)
        return bool(done)

    def get(self, ref: Any) -> Any:
        """The task's result (waiting for it); a failed actor or task is one clear error."""
        self.load[self.owner.pop(ref)] -= 1
        return self.get_all([ref])[0]

    def get_all(self, refs: list[Any]) -> list[Any]:
        from ray.exceptions import RayError

        try:
            return cast(list[Any], self.ray.get(refs))
        except RayError as e:
            first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
            raise RayUnavailable(f"a Ray actor failed ({type(e).__name__}): {first[:300]}; what was committed "
                                 "is kept, and the next run resumes from it (run with -v for details)") from e

    def busy_seconds(self) -> list[float]:
        """Seconds each actor has spent on tasks so far."""
        return self.get_all([a.busy_seconds.remote() for a in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []


@dataclass
class NodeWork:
    """What the actors of one Ray node did in one run."""

    actors: int = 0
    files: int = 0  # files read and chunked there
    chunks: int = 0  # chunks embedded there


@dataclass
class RayIndexReport(IndexReport):
    """An :class:`~indexer.sync.IndexReport` with the work of each Ray node, by its address (``index --ray
    --json`` shows it under ``ray.nodes``): how a cluster's nodes shared the run."""

    nodes: dict[str, NodeWork] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"ray": {"nodes": {node: asdict(w) for node, w in sorted(self.nodes.items())}}}


@dataclass
class _Reading:
    """A changed file shipped to an actor, waiting to be taken back in walk order."""

    cand: Candidate
    old: tuple[int, float, str, bool] | None
    sha: str
    ref: Any
    nbytes: int


@dataclass
class _Embedding:
    """A batch (as ``FolderSync.flush`` forms it) being embedded: one task per forward pass, so one
    batch spreads over every actor; ``tasks`` empty: mtime updates only."""

    pieces: list[_Piece]
    touches: list[tuple[str, float]]
    tasks: list[tuple[list[int], Any]]  # (positions in the batch, the task's reference)


class RaySync(FolderSync):
    """One run of the folder-sync recipe with reading, chunking and embedding on ``pool``.

    Files are read and chunked ahead (``FILES_PER_ACTOR`` per actor), taken back in walk order and cut
    into batches as in process; a batch's forward passes are spread over the actors while the next
    batch forms (at most two batches in flight), and batches are committed in the order they were
    formed, so a file's pieces land in order and a kill loses at most the batches in flight."""

    def __init__(self, collection: Collection, root: Path, pool: RayPool, *,
                 progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None) -> None:
        super().__init__(collection, root, progress=progress, cancel=cancel)
        self.pool = pool
        self.reading: deque[_Reading] = deque()
        self.reading_bytes = 0
        self.embedding: deque[_Embedding] = deque()
        self.tasks_in_flight = 0
        self.report: RayIndexReport = RayIndexReport(cache_lookups=self.report.cache_lookups)

    def run(self) -> RayIndexReport:
        self.pool.wait_ready()
        for node in self.pool.nodes:
            self.report.nodes.setdefault(node, NodeWork()).actors += 1
        super().run()
        return self.report

    def work_on(self, ref: Any) -> NodeWork:
        """The tally of the node running task ``ref`` (before :meth:`RayPool.get` takes it)."""
        return self.report.nodes.setdefault(self.pool.node_of(ref), NodeWork())

    def changed(self, cand: Candidate, old: tuple[int, float, str, bool] | None, sha: str, data: bytes) -> None:
        ref = self.pool.submit("extract", data, str(cand.path), self.language)
        self.reading.append(_Reading(cand, old, sha, ref, len(data)))
        self.reading_bytes += len(data)
        self.take_files()

    def take_files(self, *, drain: bool = False) -> None:
        """Queue the files the actors have read, in walk order; wait for the oldest while too many are out."""
        while self.reading and not self.cancelled():
            head = self.reading[0]
            full = (len(self.reading) > FILES_PER_ACTOR * len(self.pool)
                    or self.reading_bytes > BYTES_IN_FLIGHT)
            if not (drain or full or self.pool.ready(head.ref)):
                break
            self.reading.popleft()
            self.reading_bytes -= head.nbytes
            self.work_on(head.ref).files += 1
            result = self.pool.get(head.ref)
            if isinstance(result[0], str):
                self.unreadable(head.cand, head.old, SkipFile(*result))
            else:
                doc, chunks = result
                self.extracted(head.cand, head.old, head.sha, doc, iter(chunks))
        self.take_batches()

    def batch_target(self) -> int:
        """Batches of ``batch_chunks``: their forward passes spread over the actors while the next batch
        forms (``commit_seconds`` still sends what is pending that often)."""
        return self.limits.batch_chunks

    def flush(self) -> None:
        """Send the pending pieces to an actor to embed (mtime updates ride along) and commit the
        batches that are back, in order."""
        pieces, touches = self.pending, self.touches
        self.pending, self.pending_chunks, self.touches = [], 0, []
        self.copies.targets.clear()
        if not pieces and not touches:
            return
        # The chunks the embedding cache has are filled in here (the driver's data folder holds it); the
        # others go out in the forward passes FolderSync.embed makes (sync.forward_passes: similar lengths
        # together, at most embed_batch_size), each on the least busy actor: a pass's vectors do not depend
        # on the others.
        chunks = [c for p in pieces for c in p.write.chunks] if pieces else []
        todo = self.cached(pieces) if pieces else []
        passes = forward_passes([chunks[i].tokens for i in todo], self.limits.embed_batch_size)
        tasks = [(idx, self.pool.submit("embed", [chunks[i].text for i in idx]))
                 for idx in ([todo[g] for g in group] for group in passes)]
        self.embedding.append(_Embedding(pieces, touches, tasks))
        self.tasks_in_flight += len(tasks)
        self.take_batches()

    def take_batches(self, *, drain: bool = False) -> None:
        while self.embedding and not self.cancelled():
            head = self.embedding[0]
            full = len(self.embedding) > 1 and self.tasks_in_flight > TASKS_PER_ACTOR * len(self.pool)
            if not (drain or full or all(self.pool.ready(ref) for _, ref in head.tasks)):
                break
            self.embedding.popleft()
            self.tasks_in_flight -= len(head.tasks)
            if head.tasks:
                where = [(p.write, ci) for p in head.pieces for ci in range(len(p.write.chunks))]
                for idx, ref in head.tasks:
                    self.work_on(ref).chunks += len(idx)
                    vectors = self.pool.get(ref)
                    for i, v in zip(idx, vectors, strict=True):
                        write, ci = where[i]
                        write.vectors[ci] = v
                    remember(self.coll.embedder, [where[i][0].chunks[where[i][1]].text for i in idx], vectors)
            self.commit_batch(head.pieces, head.touches)
            self.report.embed_seconds = time.monotonic() - self.indexing_started

    def finish(self) -> None:
        """The walk is over: take every file back, send the last batch, commit every batch. Cancelled:
        what is in flight is dropped (none of it was committed)."""
        self.take_files(drain=True)
        self.flush()
        self.take_batches(drain=True)


def index_folder(collection: Collection, root: Path | str, pool: RayPool, *,
                 progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None) -> RayIndexReport:
    """Bring ``collection`` in line with the files under ``root``, reading, chunking and embedding on
    ``pool`` (see :class:`RaySync`). The pool's actors must use the collection's model. The report says
    what each node's actors did (``nodes``)."""
    return RaySync(collection, Path(root), pool, progress=progress, cancel=cancel).run()
