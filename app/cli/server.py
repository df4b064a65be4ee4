"""``semsearch serve`` (the HTTP API and web page), ``semsearch mcp`` (the MCP server over stdio) and
``semsearch bench``."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from app.cli import common
from app.cli.common import JSON_OPT, app, command, err, fail, out, print_json, state


@app.command()
@command
def serve(
    host: str = typer.Option(None, "--host", help="Bind address (SEMSEARCH_HOST)"),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (SEMSEARCH_PORT)"),
    workers: int = typer.Option(None, "--workers", min=1, max=64, help="Worker processes (SEMSEARCH_WORKERS)"),
) -> None:
    """Run the HTTP API and web page."""
    import uvicorn

    from app.http_limits import uvicorn_options

    s = state.settings
    os.environ["SEMSEARCH_DATA_DIR"] = str(s.data_dir)  # workers rebuild Settings from the environment
    if host:  # the app checks Host headers on /mcp only when bound to loopback, so it must know the address
        os.environ["SEMSEARCH_HOST"] = host
    uvicorn.run("app.main:create_app", factory=True, host=host or s.host, port=port or s.port,
                workers=workers or s.workers, log_level="info", log_config=server_log_config(),
                **uvicorn_options(s.max_header_bytes))  # bounded request heads: 431 past the limits


@app.command("mcp")
@command
def mcp_stdio() -> None:
    """Serve the MCP tools (list_collections, search, fetch, compare) over stdio, for agents and
    desktop assistants; `semsearch serve` serves the same tools over HTTP at /mcp."""
    from app.mcp import run_stdio

    try:
        run_stdio(state.settings)  # stdout carries the protocol; logs go to stderr
    except KeyboardInterrupt:
        pass


def server_log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the service's own INFO lines (model loaded and how, ready, jobs) in
    the same format; uvicorn applies it in every worker process too."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for name in ("app", "indexer", "semsearch"):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config



def _bench_suite() -> Any:
    """``benchmarks.suite`` from the source tree next to this ``app`` package.

    The benchmark is not installed: the wheel holds only ``app`` and ``indexer``, never a generic
    top-level name such as ``bench``. It measures this checkout against the plain pipeline, on the
    corpus shipped in ``tests/corpus/``, so it runs from a clone (``make bench``, or an editable
    install, where ``app`` is the clone's): the folder above ``app/`` is put on ``sys.path``."""
    import importlib

    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "suite" / "__init__.py").is_file():
        fail(f"semsearch bench runs from a clone of the repository (its benchmarks/ folder is not installed; "
             f"looked in {root})")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("benchmarks.suite")


@app.command()
@command
def bench(
    corpus: Path = typer.Option(None, "--corpus",
                                help="BEIR folder or any folder of documents (default: the shipped corpus)"),
    repeats: int = typer.Option(None, "--repeats", min=1, help="Repeats per figure (default 3; 2 with --quick)"),
    quick: bool = typer.Option(False, "--quick", help="Small sizes: a smoke test in about two minutes"),
    section: list[str] = typer.Option([], "--section", help="embed | query | http | index | hnsw (repeatable)"),
    files: int = typer.Option(None, "--files", min=4, help="Small files for the re-index/memory figures (10000)"),
    hnsw_1m: bool = typer.Option(False, "--hnsw-1m", help="Also HNSW recall at 1M vectors (slow: ~25 min build)"),
    as_json: bool = JSON_OPT,
) -> None:
    """Benchmark against plain sentence-transformers + FAISS (A/B alternating in one run)."""
    suite = _bench_suite()

    bad = [s for s in section if s not in suite.SECTIONS]
    if bad:
        fail(f"--section must be one of {', '.join(suite.SECTIONS)}, not {', '.join(bad)}")
    cfg = suite.BenchConfig.make(quick=quick, hnsw_1m=hnsw_1m, corpus=corpus, repeats=repeats, reindex_files=files,
                           sections=tuple(dict.fromkeys(section)) or None)
    model = common.service("sentence-transformers").embedder
    try:
        result = suite.run_bench(cfg, model, progress=lambda msg: err.print(f"[dim]bench: {escape(msg)}[/dim]"))
    except (FileNotFoundError, RuntimeError) as e:
        fail(str(e))
    if as_json:
        print_json(result.to_dict())
        return
    from rich.table import Table

    table = Table("figure", "value", "measured (median [min-max] over repeats)", "target",
                  title=f"semsearch vs sentence-transformers + FAISS ({result.environment['embed_path']}, "
                        f"{result.environment['precision']})")
    for row in suite.table_rows(result):
        table.add_row(*row)
    out.print(table, width=max(out.width, 160))
    env = result.environment
    out.print(f"cpu: {env['cpu']['model']} ({env['cpu']['cores']} cores; {' '.join(env['cpu']['flags'])}); "
              f"corpus: {env['corpus']}; load average {' '.join(f'{x:.1f}' for x in env['load_average'])}")


