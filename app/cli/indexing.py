"""Commands that change a collection from files: ``index``, ``remove``, ``eval``."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from app.cli import common
from app.cli.common import COLLECTION_OPT, JSON_OPT, app, command, err, fail, out, print_json, state


def _print_report(report: Any, as_json: bool) -> None:
    d = report.to_dict()
    if as_json:
        print_json(d)
        return
    f, c = d["files"], d["chunks"]
    resumed = f", {f['resumed']} resumed" if f.get("resumed") else ""
    ocr = f" ({d['ocr_pages']} pages read by OCR)" if d.get("ocr_pages") else ""
    copies = f" ({f['copies']} of them stored as copies of a file with the same content)" if f.get("copies") else ""
    out.print(f"files: {f['added']} added, {f['updated']} updated{resumed}, {f['unchanged']} unchanged, "
              f"{f['removed']} removed, {f['skipped']} skipped{copies}{ocr}")
    if len(d.get("languages") or {}) > 1:  # (one language: the collection's, nothing to tell)
        out.print("languages: " + ", ".join(f"{lang} {n}" for lang, n in d["languages"].items()))
    rate = f", {d['chunks_per_second']} chunks/s" if d["chunks_per_second"] else ""
    cache = d.get("embedding_cache") or {}
    hits = (f" ({cache['hits']} from the embedding cache: {cache['hit_rate']:.0%} hit rate)"
            if cache.get("looked_up") else "")
    out.print(f"chunks: {c['embedded']} embedded{hits}, {c['removed']} removed, {c['total']} in the collection "
              f"({d['seconds']:.1f}s{rate})")
    for node, work in d.get("ray", {}).get("nodes", {}).items():  # index --ray: what each node did
        out.print(f"ray node {escape(node)}: actors {work['actors']}, files read {work['files']}, "
                  f"chunks embedded {work['chunks']}", highlight=False)
    if report.skipped:
        from rich.table import Table

        table = Table("skipped", "reason", "detail", box=None, show_edge=False)
        for s in report.skipped[:50]:
            table.add_row(escape(s.path), s.reason, escape(s.detail))
        out.print(table)
        if len(report.skipped) > 50:
            out.print(f"... and {len(report.skipped) - 50} more (--json lists all)")


def _size(n: int) -> str:
    from indexer.readers.base import human_size

    return human_size(n).replace(" bytes", " B")


def _tail(path: str, width: int = 48) -> str:
    """The end of a long path (the file's name is what tells)."""
    return path if len(path) <= width else "…" + path[-(width - 1):]


def _eta(p: Any) -> str:
    return "-" if p.eta_seconds is None else time.strftime("%H:%M:%S", time.gmtime(p.eta_seconds))


def _progress_line(p: Any) -> str:
    """One line of index progress: phase, files, chunks (committed), bytes, rate, ETA and the file at hand."""
    if p.phase == "waiting":
        return f"waiting: {p.current}"
    if p.phase == "walking":
        return f"walking: {p.files_total} files found"
    rate = f", {p.chunks_per_second:.0f} chunks/s" if p.chunks_per_second else ""
    eta = "" if p.eta_seconds is None else f", ETA {_eta(p)}"
    current = f", {p.current}" if p.current and p.phase == "indexing" else ""
    return (f"{p.phase}: {p.files_done}/{p.files_total} files, {p.chunks_embedded} chunks "
            f"({p.chunks_committed} committed), {_size(p.bytes_done)}/{_size(p.bytes_total)}{rate}{eta}{current}")


class _StderrProgress:
    """Progress as plain lines on stderr (piped, or with --json): each phase change, else every 2 s."""

    def __init__(self, every: float = 2.0) -> None:
        self.every, self.last, self.phase = every, 0.0, ""

    def __call__(self, p: Any) -> None:
        now = time.monotonic()
        if p.phase != self.phase or now - self.last >= self.every:
            self.phase, self.last = p.phase, now
            sys.stderr.write(_progress_line(p) + "\n")
            sys.stderr.flush()


def _index_once(coll: Any, path: Path, as_json: bool, pool: Any = None, cancel: threading.Event | None = None) -> Any:
    def index_folder(path: Path, progress: Any) -> Any:
        if pool is None:
            return coll.index_folder(path, progress=progress, cancel=cancel)
        from indexer.distributed.ray_index import index_folder as on_ray

        return on_ray(coll, path, pool, progress=progress)

    if as_json or not err.is_terminal:
        return index_folder(path, progress=_StderrProgress())
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    # The bar measures bytes of the new and changed files (what costs time), not files: a folder of
    # small files and one big one is not "90 %" while the big one is still being embedded.
    columns = (TextColumn("[bold]{task.fields[phase]}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[files]} files"), TextColumn("{task.fields[chunks]}"),
               TextColumn("{task.fields[bytes]}"), TextColumn("{task.fields[rate]} chunks/s"),
               TextColumn("ETA {task.fields[eta]}"), TimeElapsedColumn(), TextColumn("[dim]{task.fields[current]}"))
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("index", total=None, phase="walking", files="0 found", chunks="", bytes="", rate="-",
                            eta="-", current="")

        def update(p: Any) -> None:
            walking = p.phase in ("walking", "waiting")
            total = max(p.bytes_total, 1)
            bar.update(task, total=None if walking else total,
                       completed=total if p.phase in ("removing", "saving", "done") else p.bytes_done,
                       phase=p.phase, files=f"{p.files_total} found" if walking else f"{p.files_done}/{p.files_total}",
                       chunks=f"{p.chunks_embedded} chunks ({p.chunks_committed} committed)",
                       bytes="" if walking else f"{_size(p.bytes_done)}/{_size(p.bytes_total)}",
                       rate=f"{p.chunks_per_second:.0f}" if p.chunks_per_second else "-", eta=_eta(p),
                       current=p.current if p.phase == "waiting" else _tail(p.current))

        return index_folder(path, progress=update)


def _loading_model() -> None:
    """Say at once what the next seconds are spent on."""
    err.print(f"loading the model {escape(state.settings.model)} ...", highlight=False)


def _say_when_the_model_loads() -> None:
    """The model loads on the first chunk to embed (an unchanged folder loads none): say so then."""
    common.service().on_model_load = _loading_model


@app.command()
@command
def index(
    path: Path = typer.Argument(..., help="Folder to index (files are added, updated and removed to match it)"),
    collection: str = COLLECTION_OPT,
    watch: bool = typer.Option(False, "--watch", help="Keep the collection in sync as files change, until Ctrl-C"),
    ray: bool = typer.Option(False, "--ray", help="Read, chunk and embed on Ray actors (pip install "
                             "'semsearch[ray]'): on a local cluster, or the one at --ray-address"),
    ray_address: str | None = typer.Option(None, "--ray-address", metavar="ADDRESS",
                                           help="The Ray cluster for --ray (implies it): auto, HOST:PORT or "
                                                "ray://HOST:10001 (default SEMSEARCH_RAY_ADDRESS; none: a local one)"),
    ray_actors: int | None = typer.Option(None, "--ray-actors", min=1,
                                          help="Ray actors to start (default SEMSEARCH_RAY_ACTORS: one per CPU)"),
    as_json: bool = JSON_OPT,
) -> None:
    """Index a folder of documents."""
    if not path.is_dir():
        fail(f"{path} is not a folder")
    if not (ray or ray_address):
        _say_when_the_model_loads()
        with common.service().open_collection(collection, create=True) as coll:
            _index_and_watch(coll, path, watch, as_json)
        return
    from indexer.distributed import ray_index

    ray_index.require_ray()  # not installed: one line saying how, before anything loads
    common.configure_logging(state.verbose)  # (importing ray set its own loggers' levels)
    s = state.settings
    address = ray_address or s.ray_address or None
    err.print("starting a local Ray cluster ..." if address is None else f"joining the Ray cluster at {address} ...",
              highlight=False)
    module = ray_index.connect(address)
    try:
        from app.settings import model_cache_dir

        cache = model_cache_dir(s.model_cache)
        spec = ray_index.ModelSpec(s.model, backend=s.backend, precision=s.precision, engine=s.engine,
                                   model_cache=str(cache) if cache else None)
        pool = ray_index.RayPool(spec, s.limits(), actors=ray_actors or s.ray_actors, cpus=s.ray_cpus_per_actor)
        _say_when_the_model_loads()  # if this process needs it at all: the actors embed
        with common.service().open_collection(collection, create=True) as coll:
            err.print(f"waiting for {len(pool)} Ray actors to load the model ...", highlight=False)
            pool.wait_ready()
            _index_and_watch(coll, path, watch, as_json, pool)
    finally:
        module.shutdown()


def _index_and_watch(coll: Any, path: Path, watch: bool, as_json: bool, pool: Any = None) -> None:
    """Index once (on ``pool`` if given), then with ``watch`` re-index in this process at each change."""
    if not watch:
        _print_report(_index_once(coll, path, as_json, pool), as_json)
        return
    from watchfiles import watch as watch_changes

    # Ctrl-C sets an event instead of raising KeyboardInterrupt wherever the main thread happens to be
    # (inside a commit, a lock or the model): the watcher stops, a round under way ends at its next
    # check with what it committed kept, and the collection closes normally. A second Ctrl-C forces it.
    stop, watching, changed = threading.Event(), threading.Event(), threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    failed: list[str] = []

    def watcher() -> None:
        # Watching starts before the first round, so a file changed while it runs (minutes, for a big
        # folder) or just after it is not missed; the first (possibly empty) yield says watching began.
        try:
            for changes in watch_changes(path, rust_timeout=200, yield_on_timeout=True, stop_event=stop):
                watching.set()
                if changes:
                    changed.set()
        except Exception as e:  # the folder went away, or the OS ran out of watches: say so, and stop
            failed.append(f"{type(e).__name__}: {e}")
            stop.set()
        watching.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    thread = threading.Thread(target=watcher, name="watch", daemon=True)
    try:
        thread.start()
        watching.wait(10)
        _print_report(_index_once(coll, path, as_json, pool, cancel=stop), as_json)
        if not stop.is_set():
            err.print(f"watching {path} for changes (Ctrl-C to stop)")
        while not stop.is_set():
            if changed.wait(0.2):
                changed.clear()
                _print_report(_index_once(coll, path, as_json, cancel=stop), as_json)  # with progress, like the first
    finally:
        stop.set()
        signal.signal(signal.SIGINT, previous)
        thread.join(5)
    if failed:
        fail(f"stopped watching {path}: {failed[0]}")
    err.print("stopped watching")


@app.command()
@command
def remove(
    path: Path = typer.Argument(..., help="File (or folder) whose chunks to drop"),
    collection: str = COLLECTION_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Drop a file's chunks from a collection."""
    n = common.service().remove_path(collection, path)
    if n == 0:  # the same exit code with and without --json: nothing matched, nothing changed
        fail(f"{path} is not in collection {collection or state.settings.default_collection!r}")
    if as_json:
        print_json({"removed": n})
    else:
        out.print(f"removed {n} file(s)")


@app.command("eval")
@command
def eval_(
    dataset_dir: Path = typer.Argument(..., help="BEIR-format folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv"),
    collection: str = typer.Option(None, "--collection", "-c",
                                   help="Collection to index into and reuse (default: beir-<folder name>)"),
    mode: list[str] = typer.Option([], "--mode", help="dense | keyword | hybrid (repeatable; default all three)"),
    split: str = typer.Option("test", "--split", help="qrels split to evaluate"),
    as_json: bool = JSON_OPT,
) -> None:
    """Measure retrieval quality on a BEIR dataset: nDCG@10, Recall@100, MRR@10, index time, latency."""
    from indexer.evaluation import EVAL_MODES, run_beir

    if not dataset_dir.is_dir():
        fail(f"{dataset_dir} is not a folder")
    modes = tuple(dict.fromkeys(mode)) or EVAL_MODES
    s = state.settings
    _loading_model()
    embedder = common.service().embedder
    last: dict[str, Any] = {"stage": "", "at": 0.0}

    def tell(stage: str, done: int, total: int) -> None:  # on stderr, also with --json (stdout is the result)
        now = time.monotonic()
        if stage == last["stage"] and now - last["at"] < (0.2 if err.is_terminal else 2.0) and done != total:
            return
        last.update(stage=stage, at=now)
        if err.is_terminal:
            err.print(f"[dim]{stage}: {done}/{total}[/dim]", end="\r")
        else:
            sys.stderr.write(f"{stage}: {done}/{total}\n")
            sys.stderr.flush()

    try:
        result = run_beir(dataset_dir, backend=s.data_dir_backend(), collection=collection, embedder=embedder,
                          modes=modes, split=split, index_type=s.index_type, limits=s.limits(), progress=tell)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    table = Table("mode", "nDCG@10", "Recall@100", "MRR@10", "p50 ms", "p95 ms", title=f"{dataset_dir.name} ({split})")
    for m in modes:
        r = result[m]
        table.add_row(m, f"{r['ndcg@10']:.4f}", f"{r['recall@100']:.4f}", f"{r['mrr@10']:.4f}",
                      f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}")
    out.print(table)
    ix = result["index"]
    out.print(f"index: collection {ix['collection']}, {ix['documents']} documents, {ix['docs_embedded']} embedded "
              f"({ix['chunks_embedded']} chunks, {ix['chunks_total']} in the collection) in {ix['seconds']:.1f}s")


