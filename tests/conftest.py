"""Shared fixtures: the real bundled model (loaded once per session) and a private data folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Converted model graphs go to a cache of this run, not the user's ~/.cache (the first load fills it).
os.environ["SEMSEARCH_MODEL_CACHE"] = tempfile.mkdtemp(prefix="semsearch-test-model-cache-")

import pytest  # noqa: E402

#: The corpus shipped in the repository (World Factbook sections, public domain; see tests/corpus/README.md):
#: ``docs/`` holds ordinary Markdown files, ``corpus.jsonl``/``queries.jsonl``/``qrels/`` the same as BEIR.
CORPUS = Path(__file__).resolve().parent / "corpus"
#: SciFact checks are opt-in: they run only when this variable names the BEIR SciFact folder.
SCIFACT_ENV = "SEMSEARCH_SCIFACT"
SCIFACT_HOWTO = (f"SciFact checks are opt-in: set {SCIFACT_ENV}=<folder with corpus.jsonl, queries.jsonl, qrels/> "
                 "or run `make test-scifact` (which points it at ../shared/data/scifact)")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``scifact`` are deselected (and counted in the summary) unless SciFact is asked for."""
    if os.environ.get(SCIFACT_ENV):
        return
    keep = [i for i in items if i.get_closest_marker("scifact") is None]
    dropped = [i for i in items if i.get_closest_marker("scifact") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        config._semsearch_scifact_deselected = len(dropped)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = getattr(config, "_semsearch_scifact_deselected", 0)
    if n:
        terminalreporter.write_line(f"{n} SciFact tests deselected. {SCIFACT_HOWTO}")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shipped corpus. It is part of the repository, so its absence is a failure, never a skip."""
    if not (CORPUS / "corpus.jsonl").is_file():
        pytest.fail(f"the shipped corpus is missing at {CORPUS} (regenerate it: benchmarks/make_corpus.py)")
    return CORPUS


@pytest.fixture(scope="session")
def corpus_queries(corpus_dir) -> list[str]:
    with open(corpus_dir / "queries.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


@pytest.fixture(scope="session")
def corpus_passages(corpus_dir) -> list[str]:
    """Every corpus document as the service would embed it: title + " " + text."""
    with open(corpus_dir / "corpus.jsonl", encoding="utf-8") as f:
        return [f"{d['title']} {d['text']}" for d in map(json.loads, filter(str.strip, f))]


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    """The SciFact folder named by SEMSEARCH_SCIFACT (tests using it carry the ``scifact`` marker).

    Asked for and missing is a failure, not a skip: a typo must not turn the opt-in run green."""
    value = os.environ.get(SCIFACT_ENV)
    if not value:  # only reachable when a test forgot the marker
        pytest.fail(f"this test needs SciFact but is not marked `scifact`. {SCIFACT_HOWTO}")
    root = Path(value).expanduser()
    if not (root / "corpus.jsonl").is_file() or not (root / "queries.jsonl").is_file():
        pytest.fail(f"{SCIFACT_ENV}={value}: no corpus.jsonl and queries.jsonl there")
    return root


@pytest.fixture(scope="session")
def embedder():
    """The real default model (sentence-transformers backend), shared by every test that embeds."""
    from indexer.embedding import load_embedder

    return load_embedder(model_cache=os.environ["SEMSEARCH_MODEL_CACHE"])


@pytest.fixture
def tmp_data_dir(tmp_path):
    """An empty data folder (collections go under it) with an empty ``docs/`` inside."""
    data = tmp_path / "data"
    (data / "docs").mkdir(parents=True)
    return data
