"""SIGKILL the indexer at several moments, then check the collection opens, searches, and converges
to exactly what an uninterrupted run produces - without re-embedding what was already committed."""

from __future__ import annotations

import random
import signal
import subprocess
from pathlib import Path

import pytest

from indexer.collection import Collection
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.stores.embedded import files
from tests.indexer.test_sync import committed_chunks, wait_for_chunks
from tests.serving import SEMSEARCH, as_json, cli_env

pytestmark = pytest.mark.slow  # real processes: skip with -m "not slow"

WORDS = ("river mountain engine protein galaxy violin harvest circuit glacier lantern orchard compiler "
         "volcano theorem falcon copper meadow satellite enzyme harbor quartz tundra beacon canyon").split()
QUERIES = ["glacier and tundra", "protein enzyme", "violin in the orchard"]


def make_corpus(root: Path, n: int = 240) -> None:
    rng = random.Random(7)
    for i in range(n):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(14)]
        p = root / f"part{i % 6}" / f"doc{i:04d}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"Document {i}. " + " ".join(sentences))


def catalog_db(data: Path) -> Path:
    return data / "collections" / "default" / "catalog.sqlite3"


def chunk_count(data: Path) -> int:
    return committed_chunks(catalog_db(data))


def run(data: Path, *args: str) -> dict:
    proc = subprocess.run([*SEMSEARCH, *args, "--json"], env=cli_env(data, SEMSEARCH_BATCH_CHUNKS="8"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return as_json(proc)


def results(data: Path, embedder) -> list[list[tuple[str, float]]]:
    """Top hits for QUERIES, opening the collection in this process (which repairs it if needed)."""
    with Collection.open(EmbeddedBackend(data), "default", embedder, create=False) as coll:
        assert files.vectors(coll).ntotal == files.catalog(coll).count_chunks()
        return [[(h.id, round(h.score, 5)) for h in coll.search(q, k=5, mode="hybrid")] for q in QUERIES]


def test_sigkill_during_indexing_converges_to_a_clean_run(tmp_path, embedder):
    root = tmp_path / "corpus"
    make_corpus(root)
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"

    reference = run(clean, "index", str(root))
    total = reference["chunks"]["total"]
    assert reference["files"]["added"] == 240 and total >= 240

    # Kill the indexer three times, each time after it committed more than the time before.
    seen = 0
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen([*SEMSEARCH, "index", str(root), "--json"],
                                env=cli_env(crashed, SEMSEARCH_BATCH_CHUNKS="8"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = seen + max(8, (total - seen) // 3)
        if wait_for_chunks(proc, catalog_db(crashed), target, timeout=300, poll=0.02):
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        now = chunk_count(crashed)
        assert now >= seen, "a kill must never lose committed work"
        seen = now
        # The killed collection opens and answers right away (the vector index is caught up from the catalog).
        if now:
            assert all(results(crashed, embedder))
    assert kills >= 2, "the corpus indexed too fast to be interrupted; make it larger"
    assert 0 < seen < total

    final = run(crashed, "index", str(root))
    assert final["chunks"]["total"] == total
    # committed files were not embedded again: only the rest were
    assert final["files"]["unchanged"] >= 1 and final["chunks"]["embedded"] <= total - seen + 8
    assert results(crashed, embedder) == results(clean, embedder)
