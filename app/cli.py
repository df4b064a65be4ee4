"""The ``semsearch`` command line: the same operations as the HTTP API, on the same library.

Every command takes ``--json`` for machine-readable output on stdout; progress and logs go to stderr.
Settings come from SEMSEARCH_* environment variables; flags override them.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="semsearch: search your own documents by meaning.")
out = Console(soft_wrap=True)  # long paths stay on one line (and greppable) when piped
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("semsearch")

JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON")
COLLECTION_OPT = typer.Option(None, "--collection", "-c",
                              help="Collection name (default: SEMSEARCH_DEFAULT_COLLECTION)")


class _State:
    settings: Settings


state = _State()


@app.callback()
def _main(
    data_dir: Path = typer.Option(None, "--data-dir", help="Data folder (SEMSEARCH_DATA_DIR, default ./data)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more"),
) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    for noisy in ("sentence_transformers", "transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    state.settings = settings


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _embedder(backend: str | None = None) -> Any:
    from app.settings import model_cache_dir
    from indexer.embedding import load_embedder

    s = state.settings
    return load_embedder(s.model, backend=backend or s.backend, precision=s.precision, engine=s.engine,
                         model_cache=model_cache_dir(s.model_cache))


def _collection(name: str | None, *, create: bool, backend: str | None = None) -> Any:
    from indexer.collection import Collection, read_info

    s = state.settings
    name = name or s.default_collection
    if not create:
        read_info(s.data_dir, name)  # fail fast, before loading the model, if it does not exist
    return Collection.open(s.data_dir, name, _embedder(backend), create=create,
                           index_type=s.index_type, limits=s.limits())


def _guard(fn: Any) -> Any:
    """Turn domain errors into one clear line and exit code 2, instead of a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        from indexer.errors import SemsearchError

        try:
            return fn(*a, **kw)
        except SemsearchError as e:
            _fail(e.message)
    return wrapper


# -- index ------------------------------------------------------------------------------------------
def _print_report(report: Any, as_json: bool) -> None:
    d = report.to_dict()
    if as_json:
        _print_json(d)
        return
    f, c = d["files"], d["chunks"]
    out.print(f"files: {f['added']} added, {f['updated']} updated, {f['unchanged']} unchanged, "
              f"{f['removed']} removed, {f['skipped']} skipped")
    rate = f", {d['chunks_per_second']} chunks/s" if d["chunks_per_second"] else ""
    out.print(f"chunks: {c['embedded']} embedded, {c['removed']} removed, {c['total']} in the collection "
              f"({d['seconds']:.1f}s{rate})")
    if report.skipped:
        table = Table("skipped", "reason", "detail", box=None, show_edge=False)
        for s in report.skipped[:50]:
            table.add_row(escape(s.path), s.reason, escape(s.detail))
        out.print(table)
        if len(report.skipped) > 50:
            out.print(f"... and {len(report.skipped) - 50} more (--json lists all)")


def _index_once(coll: Any, path: Path, as_json: bool) -> Any:
    if as_json or not err.is_terminal:
        return coll.index_folder(path)
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
@_guard
def index(
    path: Path = typer.Argument(..., help="Folder to index (files are added, updated and removed to match it)"),
    collection: str = COLLECTION_OPT,
    watch: bool = typer.Option(False, "--watch", help="Keep the collection in sync as files change, until Ctrl-C"),
    as_json: bool = JSON_OPT,
) -> None:
    """Index a folder of documents."""
    if not path.is_dir():
        _fail(f"{path} is not a folder")
    with _collection(collection, create=True) as coll:
        _print_report(_index_once(coll, path, as_json), as_json)
        if watch:
            from watchfiles import watch as watch_changes

            err.print(f"watching {path} for changes (Ctrl-C to stop)")
            try:
                for _changes in watch_changes(path, rust_timeout=0, yield_on_timeout=False):
                    _print_report(coll.index_folder(path), as_json)
            except KeyboardInterrupt:
                err.print("stopped watching")


# -- query ------------------------------------------------------------------------------------------
@app.command()
@_guard
def query(
    text: str = typer.Argument(..., help="What to look for"),
    k: int = typer.Option(10, "--k", "-k", min=1, help="Number of hits"),
    mode: str = typer.Option("hybrid", "--mode", help="dense | keyword | hybrid"),
    path_glob: str = typer.Option(None, "--path-glob", help="Only files whose path matches, e.g. 'docs/**'"),
    ext: list[str] = typer.Option([], "--ext", help="Only files with this extension (repeatable)"),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many hits (paging)"),
    explain: bool = typer.Option(False, "--explain", help="Show dense, keyword and fused scores per hit"),
    collection: str = COLLECTION_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Search a collection."""
    from indexer.search import Filters

    with _collection(collection, create=False) as coll:
        hits = coll.search(text, k=k, mode=mode, offset=offset, explain=explain,
                           filters=Filters(path_glob=path_glob, ext=ext))
    if as_json:
        _print_json({"query": text, "mode": mode, "hits": hits.to_list()})
        return
    if not hits.hits:
        out.print("no hits")
    for i, h in enumerate(hits, start=offset + 1):
        snippet = re.sub(r"\*\*(.+?)\*\*", r"[bold yellow]\1[/bold yellow]", escape(h.snippet))
        out.print(f"[bold]{i}.[/bold] {h.score:.4f}  [cyan]{escape(h.id)}[/cyan]  [dim]chars {h.start}-{h.end}[/dim]")
        out.print(f"   {snippet}")
        if explain and h.explain:
            out.print(f"   [dim]{json.dumps(h.explain)}[/dim]")


# -- embed / compare ----------------------------------------------------------------------------------
@app.command()
@_guard
def embed(
    texts: list[str] = typer.Argument(..., help="Texts to embed"),
    backend: str = typer.Option(None, "--backend", help="sentence-transformers | minimal"),
    as_json: bool = JSON_OPT,
) -> None:
    """Print the embedding vectors of texts (JSON)."""
    emb = _embedder(backend)
    vecs = emb.embed_queries(texts, exact=True)  # the model's own fp32 vectors
    _print_json({"model": emb.name, "backend": emb.backend, "dimension": emb.dimension,
                 "tokens": emb.count_tokens(texts),
                 "embeddings": [[round(float(x), 7) for x in v] for v in vecs]})


@app.command()
@_guard
def compare(
    texts: list[str] = typer.Argument(..., help="Two or more texts"),
    as_json: bool = JSON_OPT,
) -> None:
    """Cosine similarity of two texts, or the matrix for more."""
    from indexer.similarity import similarity_matrix

    if len(texts) < 2:
        _fail("compare needs at least two texts")
    m = similarity_matrix(_embedder(), texts)
    if as_json:
        if len(texts) == 2:
            _print_json({"similarity": float(m[0, 1])})
        else:
            _print_json({"texts": texts, "matrix": m.round(6).tolist()})
        return
    if len(texts) == 2:
        out.print(f"{m[0, 1]:.4f}")
        return
    table = Table("", *[str(i + 1) for i in range(len(texts))])
    for i, t in enumerate(texts):
        table.add_row(f"{i + 1} {escape(t[:30])}", *[f"{m[i, j]:.3f}" for j in range(len(texts))])
    out.print(table)


# -- collections ----------------------------------------------------------------------------------------
@app.command()
@_guard
def collections(as_json: bool = JSON_OPT) -> None:
    """List collections with counts, model and size on disk."""
    from indexer.collection import read_info

    infos = [read_info(state.settings.data_dir, n).to_dict() for n in _names()]
    if as_json:
        _print_json({"collections": infos})
        return
    if not infos:
        out.print(f"no collections in {state.settings.data_dir}")
        return
    table = Table("name", "files", "documents", "chunks", "model", "dim", "index", "size")
    for i in infos:
        table.add_row(i["name"], str(i["files"]), str(i["documents"]), str(i["chunks"]), i["model"],
                      str(i["dimension"]), i["index_type"], f"{i['size_bytes'] / 1e6:.1f} MB")
    out.print(table)


def _names() -> list[str]:
    from indexer.collection import list_collection_names

    return list_collection_names(state.settings.data_dir)


@app.command()
@_guard
def remove(
    path: Path = typer.Argument(..., help="File (or folder) whose chunks to drop"),
    collection: str = COLLECTION_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Drop a file's chunks from a collection."""
    with _collection(collection, create=False) as coll:
        n = coll.remove_path(path)
    if as_json:
        _print_json({"removed": n})
    elif n == 0:
        _fail(f"{path} is not in the collection")
    else:
        out.print(f"removed {n} file(s)")


# -- serve ------------------------------------------------------------------------------------------
@app.command()
@_guard
def explain(
    text: str = typer.Argument(..., help="A sentence to follow through the model"),
    links: int = typer.Option(5, "--links", min=1, max=50, help="Strongest attention links shown per layer"),
    compare_with: str = typer.Option(None, "--compare", help="Also show which tokens align with this text"),
    as_json: bool = JSON_OPT,
) -> None:
    """Walk through the bundled NumPy transformer: tokens, matrix, attention, FFN, pooling, vector."""
    import numpy as np

    from indexer.embedding import resolve_model
    from indexer.transformer import MiniLM, render_trace_text, token_similarity, trace

    _, path = resolve_model(state.settings.model)
    model = MiniLM.from_pretrained(path)
    tr = trace(model, text)
    pairs = token_similarity(model, text, compare_with) if compare_with else None
    if as_json:
        _print_json({**tr, "token_similarity": pairs} if pairs else tr)
        return
    out.print(escape(render_trace_text(tr, links_per_layer=links)))
    if pairs:
        sim = np.asarray(pairs["similarity"])
        out.print(f"\ntoken alignment with {compare_with!r} (best match per token, cosine of final token vectors)")
        for i, tok in enumerate(pairs["tokens_a"]):
            j = int(sim[i].argmax())
            out.print(f"   {escape(tok):>16} -> {escape(pairs['tokens_b'][j]):<16} {sim[i, j]:.3f}")


@app.command()
def serve(
    host: str = typer.Option(None, "--host", help="Bind address (SEMSEARCH_HOST)"),
    port: int = typer.Option(None, "--port", help="Port (SEMSEARCH_PORT)"),
    workers: int = typer.Option(None, "--workers", help="Worker processes (SEMSEARCH_WORKERS)"),
) -> None:
    """Run the HTTP API and web page."""
    import uvicorn

    s = state.settings
    os.environ["SEMSEARCH_DATA_DIR"] = str(s.data_dir)  # workers rebuild Settings from the environment
    uvicorn.run("app.main:create_app", factory=True, host=host or s.host, port=port or s.port,
                workers=workers or s.workers, log_level="info", log_config=server_log_config())


def server_log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the service's own INFO lines (model loaded and how, ready, jobs) in
    the same format; uvicorn applies it in every worker process too."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for name in ("app", "indexer", "semsearch"):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


# -- eval -------------------------------------------------------------------------------------------
@app.command("eval")
@_guard
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
        _fail(f"{dataset_dir} is not a folder")
    modes = tuple(dict.fromkeys(mode)) or EVAL_MODES
    s = state.settings
    embedder = _embedder()

    def tell(stage: str, done: int, total: int) -> None:
        if err.is_terminal and not as_json:
            err.print(f"[dim]{stage}: {done}/{total}[/dim]", end="\r")

    try:
        result = run_beir(dataset_dir, data_dir=s.data_dir, collection=collection, embedder=embedder,
                          modes=modes, split=split, index_type=s.index_type, limits=s.limits(), progress=tell)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    if as_json:
        _print_json(result)
        return
    table = Table("mode", "nDCG@10", "Recall@100", "MRR@10", "p50 ms", "p95 ms", title=f"{dataset_dir.name} ({split})")
    for m in modes:
        r = result[m]
        table.add_row(m, f"{r['ndcg@10']:.4f}", f"{r['recall@100']:.4f}", f"{r['mrr@10']:.4f}",
                      f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}")
    out.print(table)
    ix = result["index"]
    out.print(f"index: collection {ix['collection']}, {ix['documents']} documents, {ix['docs_embedded']} embedded "
              f"({ix['chunks_embedded']} chunks, {ix['chunks_total']} in the collection) in {ix['seconds']:.1f}s")


@app.command()
@_guard
def bench(
    corpus: Path = typer.Option(None, "--corpus", help="BEIR folder or any folder of files (default: bench/corpus)"),
    repeats: int = typer.Option(None, "--repeats", min=1, help="Repeats per figure (default 3; 2 with --quick)"),
    quick: bool = typer.Option(False, "--quick", help="Small sizes: a smoke test in about two minutes"),
    section: list[str] = typer.Option([], "--section", help="embed | query | http | index | hnsw (repeatable)"),
    files: int = typer.Option(None, "--files", min=4, help="Small files for the re-index/memory figures (10000)"),
    hnsw_1m: bool = typer.Option(False, "--hnsw-1m", help="Also HNSW recall at 1M vectors (slow: ~25 min build here)"),
    as_json: bool = JSON_OPT,
) -> None:
    """Benchmark against plain sentence-transformers + FAISS (A/B alternating in one run)."""
    from bench import SECTIONS, BenchConfig, run_bench, table_rows

    bad = [s for s in section if s not in SECTIONS]
    if bad:
        _fail(f"--section must be one of {', '.join(SECTIONS)}, not {', '.join(bad)}")
    cfg = BenchConfig.make(quick=quick, hnsw_1m=hnsw_1m, corpus=corpus, repeats=repeats, reindex_files=files,
                           sections=tuple(dict.fromkeys(section)) or None)
    embedder = _embedder("sentence-transformers")
    try:
        result = run_bench(cfg, embedder, progress=lambda msg: err.print(f"[dim]bench: {escape(msg)}[/dim]"))
    except (FileNotFoundError, RuntimeError) as e:
        _fail(str(e))
    if as_json:
        _print_json(result.to_dict())
        return
    table = Table("figure", "value", "measured (median [min-max] over repeats)", "target",
                  title=f"semsearch vs sentence-transformers + FAISS ({result.environment['embed_path']}, "
                        f"{result.environment['precision']})")
    for row in table_rows(result):
        table.add_row(*row)
    out.print(table, width=max(out.width, 160))
    env = result.environment
    out.print(f"cpu: {env['cpu']['model']} ({env['cpu']['cores']} cores; {' '.join(env['cpu']['flags'])}); "
              f"corpus: {env['corpus']}; load average {' '.join(f'{x:.1f}' for x in env['load_average'])}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
