"""Commands that change a collection from files: ``index``, ``remove``, ``eval``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from app.cli import common
from app.cli.common import COLLECTION_OPT, JSON_OPT, app, command, err, fail, open_collection, out, print_json, state


def _print_report(report: Any, as_json: bool) -> None:
    d = report.to_dict()
    if as_json:
        print_json(d)
        return
    f, c = d["files"], d["chunks"]
    out.print(f"files: {f['added']} added, {f['updated']} updated, {f['unchanged']} unchanged, "
              f"{f['removed']} removed, {f['skipped']} skipped")
    rate = f", {d['chunks_per_second']} chunks/s" if d["chunks_per_second"] else ""
    out.print(f"chunks: {c['embedded']} embedded, {c['removed']} removed, {c['total']} in the collection "
              f"({d['seconds']:.1f}s{rate})")
    if report.skipped:
        from rich.table import Table

        table = Table("skipped", "reason", "detail", box=None, show_edge=False)
        for s in report.skipped[:50]:
            table.add_row(escape(s.path), s.reason, escape(s.detail))
        out.print(table)
        if len(report.skipped) > 50:
            out.print(f"... and {len(report.skipped) - 50} more (--json lists all)")


def _index_once(coll: Any, path: Path, as_json: bool) -> Any:
    if as_json or not err.is_terminal:
        return coll.index_folder(path)
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]indexing"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.completed}/{task.total} files"), TextColumn("{task.fields[chunks]} chunks"),
               TextColumn("{task.fields[rate]} chunks/s"), TextColumn("ETA {task.fields[eta]}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("index", total=None, chunks=0, rate="-", eta="-")

        def update(p: Any) -> None:
            eta = "-" if p.eta_seconds is None else time.strftime("%H:%M:%S", time.gmtime(p.eta_seconds))
            bar.update(task, total=p.files_total, completed=p.files_done, chunks=p.chunks_embedded,
                       rate=f"{p.chunks_per_second:.0f}" if p.chunks_per_second else "-", eta=eta)

        return coll.index_folder(path, progress=update)


@app.command()
@command
def index(
    path: Path = typer.Argument(..., help="Folder to index (files are added, updated and removed to match it)"),
    collection: str = COLLECTION_OPT,
    watch: bool = typer.Option(False, "--watch", help="Keep the collection in sync as files change, until Ctrl-C"),
    as_json: bool = JSON_OPT,
) -> None:
    """Index a folder of documents."""
    if not path.is_dir():
        fail(f"{path} is not a folder")
    with open_collection(collection, create=True) as coll:
        _print_report(_index_once(coll, path, as_json), as_json)
        if watch:
            from watchfiles import watch as watch_changes

            err.print(f"watching {path} for changes (Ctrl-C to stop)")
            try:
                for _changes in watch_changes(path, rust_timeout=0, yield_on_timeout=False):
                    _print_report(coll.index_folder(path), as_json)
            except KeyboardInterrupt:
                err.print("stopped watching")



@app.command()
@command
def remove(
    path: Path = typer.Argument(..., help="File (or folder) whose chunks to drop"),
    collection: str = COLLECTION_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Drop a file's chunks from a collection."""
    with open_collection(collection, create=False) as coll:
        n = coll.remove_path(path)
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
    embedder = common.embedder()

    def tell(stage: str, done: int, total: int) -> None:
        if err.is_terminal and not as_json:
            err.print(f"[dim]{stage}: {done}/{total}[/dim]", end="\r")

    try:
        result = run_beir(dataset_dir, data_dir=s.data_dir, collection=collection, embedder=embedder,
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


