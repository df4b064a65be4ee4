"""benchmarks/readers_bench.py runs end to end on a tiny folder and prints its figures."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path


def load_bench():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "readers_bench.py"
    spec = importlib.util.spec_from_file_location("readers_bench", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_run_indexes_every_generated_file_and_prints_figures(embedder) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    figures = load_bench().run(6, 0, embedder=embedder, out=out)
    assert figures["files"] == 6 and figures["chunks"] >= 6
    assert 0 < figures["embed_seconds"] <= figures["index_seconds"]
    printed = out.getvalue()
    for label in ("files/s", "chunks/s", "embed", "load avg", "(parse)", ".docx", ".pptx", ".xlsx"):
        assert label in printed
    assert "skipped   : 0" in printed
