"""Shared fixtures (the real bundled model, loaded once per session per worker, and a private data folder)
and the ``slow`` marker's rule: a test that starts a real server, a CLI subprocess, Chromium or Ray, or that
SIGKILLs a process, is ``slow`` (``make test-fast`` leaves it out). Everything under tests/e2e and
tests/browser is marked here; a test elsewhere carries ``@pytest.mark.slow``, and a test without it that
starts such a process or sends SIGKILL fails, saying so. The helpers that start processes: tests/serving.py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Converted model graphs go to a cache of the tests, never the user's ~/.cache: SEMSEARCH_TEST_MODEL_CACHE
# (the Makefile keeps one in .venv, so the edit-test loop converts the model once, not on every run: an
# entry is keyed by the model's files and checked against the model when loaded), else one of this run.
# pytest-xdist workers inherit the controller's (entries are renamed into place, so two workers filling
# it at once is safe). The cache's own tests use folders of their own (tests/indexer/embedding).
if not (os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("SEMSEARCH_MODEL_CACHE")):
    os.environ["SEMSEARCH_MODEL_CACHE"] = (os.environ.get("SEMSEARCH_TEST_MODEL_CACHE")
                                           or tempfile.mkdtemp(prefix="semsearch-test-model-cache-"))


from tests.cores import one_core_per_worker  # noqa: E402

one_core_per_worker()

import pytest  # noqa: E402

from tests.postgres_server import postgres, postgres_db  # noqa: E402, F401 (fixtures: a real Postgres)

#: The corpus shipped in the repository (World Factbook sections, public domain; see tests/corpus/README.md):
#: ``docs/`` holds ordinary Markdown files, ``corpus.jsonl``/``queries.jsonl``/``qrels/`` the same as BEIR.
CORPUS = Path(__file__).resolve().parent / "corpus"
#: SciFact checks are opt-in: they run only when this variable names the BEIR SciFact folder.
SCIFACT_ENV = "SEMSEARCH_SCIFACT"
SCIFACT_HOWTO = (f"SciFact checks are opt-in: set {SCIFACT_ENV}=<folder with corpus.jsonl, queries.jsonl, qrels/> "
                 "or run `make test-scifact` (which points it at ../shared/data/scifact)")


#: The files that take longest (summed test time, `pytest --durations=0`, 2026-12-07), handed out first.
LONGEST = ("e2e/test_crash_test.py", "e2e/test_postgres_replicas.py", "indexer/distributed/test_ray_two_nodes.py",
           "benchmarks/test_bench.py", "indexer/distributed/test_ray_index.py", "e2e/test_qdrant_store.py",
           "e2e/test_docs_examples.py", "browser/test_page_flows.py", "app/test_fuzz.py")
#: Folders (under tests/) whose every test runs real processes.
SLOW_FOLDERS = ("e2e", "browser")
#: A command line that starts what only a ``slow`` test may start: the CLI or a server, Chromium, a Ray node.
# (Postgres's initdb and postgres are not in it: the session's server is shared, like the model; a test
# that makes a standby of its own, pg_basebackup, is slow.)
REAL_PROCESS = re.compile(r"-m app\.cli\b|(^|[/\s])semsearch(\s|$)|uvicorn|chromium|\bray\b|raylet|gcs_server"
                          r"|pg_basebackup")
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Tests under tests/e2e and tests/browser are ``slow``. The LONGEST files run first, then the other
    files with a slow test: pytest-xdist hands out whole files in this order, so the long ones start at once
    and the short ones fill the end (alphabetical order left two long files running alone at the end).
    Tests marked ``scifact`` are deselected (and counted in the summary) unless SciFact is asked for."""
    for item in items:
        path = Path(str(item.path)).resolve()
        if path.is_relative_to(TESTS) and path.relative_to(TESTS).parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}

    def rank(item: pytest.Item) -> tuple[int, int]:
        path = Path(str(item.path)).resolve()
        name = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else ""
        first = LONGEST.index(name) if name in LONGEST else len(LONGEST)
        return first, item.path not in slow_files

    items.sort(key=rank)  # stable: a file's tests stay together, in order
    if os.environ.get(SCIFACT_ENV):
        return
    keep = [i for i in items if i.get_closest_marker("scifact") is None]
    dropped = [i for i in items if i.get_closest_marker("scifact") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        config._semsearch_scifact_deselected = len(dropped)


class NotMarkedSlow(Exception):
    """A test without the ``slow`` marker started a real process or sent SIGKILL."""


@contextmanager
def _only_if_slow(item: pytest.Item) -> Iterator[None]:
    """While a test without ``slow`` sets up and runs, starting the CLI, a server, Chromium or Ray, or
    sending SIGKILL, raises NotMarkedSlow. Cheap: two wrapped functions. (Not around teardown, where the
    last test of a module may close what a slow test of that module started.)"""
    if item.get_closest_marker("slow") is not None:
        yield
        return
    popen_init, kill = subprocess.Popen.__init__, os.kill

    def checked_popen(self, args, *a, **kw):  # type: ignore[no-untyped-def]
        line = " ".join(map(str, args)) if isinstance(args, list | tuple) else str(args)
        if REAL_PROCESS.search(line):
            raise NotMarkedSlow(f"{item.nodeid} starts `{line[:200]}`: mark it @pytest.mark.slow")
        popen_init(self, args, *a, **kw)

    def checked_kill(pid: int, sig: int) -> None:
        if sig == signal.SIGKILL:
            raise NotMarkedSlow(f"{item.nodeid} sends SIGKILL: mark it @pytest.mark.slow")
        kill(pid, sig)

    subprocess.Popen.__init__ = checked_popen  # type: ignore[method-assign]
    os.kill = checked_kill
    try:
        yield
    finally:
        subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]
        os.kill = kill


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _only_if_slow(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _only_if_slow(item):
        yield


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

