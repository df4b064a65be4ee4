"""The folder-sync recipe (indexer/sync/): odd file names, big files in bounded batches, cancel and
resume mid-file, SIGKILL mid-file, and progress phases. Real model, real SQLite and FAISS."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from indexer.chunking import chunk_text, iter_chunks
from indexer.collection import Collection, Limits
from indexer.stores.embedded import EmbeddedBackend
from indexer.sync import FolderSync, forward_passes
from indexer.walk import key_bytes, path_key
from tests.indexer.stores.embedded import files

REPO = Path(__file__).resolve().parents[2]
WORDS = ("river mountain engine protein galaxy violin harvest circuit glacier lantern orchard compiler "
         "volcano theorem falcon copper meadow satellite enzyme harbor quartz tundra beacon canyon").split()


def one_line(n_words: int, seed: int = 3) -> str:
    """A single line of prose-like words (no paragraph breaks), like a minified dump."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + ("." if i % 17 == 16 else "") for i in range(n_words))


class CountingEmbed:
    """Counts the texts the model embeds (wraps the real embedder's ``embed``)."""

    def __init__(self, embedder, monkeypatch) -> None:
        self.texts = 0
        real = embedder.embed

        def embed(texts, **kw):
            self.texts += len(texts)
            return real(texts, **kw)

        monkeypatch.setattr(embedder, "embed", embed)


def spans(coll: Collection, key: str) -> list[tuple[int, int, int]]:
    return files.catalog(coll).chunk_spans("file", key)


def make_bad_name_folder(root: Path) -> bytes:
    """``root`` with good.txt and a file whose name is not UTF-8 (``bad_\\xff.txt``); returns that name's bytes."""
    root.mkdir()
    (root / "good.txt").write_text("Penguins huddle together through the antarctic winter.")
    raw = os.fsencode(root) + b"/bad_\xff.txt"
    with open(raw, "wb") as f:
        f.write(b"Volcanoes pour out molten lava.")
    return raw


def test_a_non_utf8_file_name_is_indexed_under_an_escaped_key(tmp_path, embedder):
    root = tmp_path / "bn"
    raw = make_bad_name_folder(root)
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "names", embedder) as c:
        report = c.index_folder(root)
        assert (report.added, report.skipped) == (2, [])
        key = str(root) + "/bad_\\xff.txt"
        hit = c.search("lava from a volcano", k=1, mode="dense").hits[0]
        assert hit.path == key and key_bytes(key) == raw  # the key maps back to the exact bytes
        assert c.index_folder(root).unchanged == 2
        os.unlink(raw)
        assert c.index_folder(root).removed == 1


def test_path_key_round_trips_and_leaves_utf8_names_alone(tmp_path):
    assert path_key("/x/caf\u00e9.txt") == "/x/caf\u00e9.txt"
    name = os.fsdecode(b"/nowhere/a\xff\xfe b\xc3.txt")
    assert path_key(name) == "/nowhere/a\\xff\\xfe b\\xc3.txt"
    assert key_bytes(path_key(name)) == b"/nowhere/a\xff\xfe b\xc3.txt"


def test_segmented_chunking_is_deterministic_and_matches_whole_text_chunking(embedder):
    text = one_line(12_000)
    whole = chunk_text(text, embedder.token_offsets(text), max_tokens=254, overlap=32)
    parts = list(iter_chunks(text, embedder.token_offsets, max_tokens=254, overlap=32, segment_chars=6000))
    assert [(c.ord, c.text) for c in parts] == [(c.ord, c.text) for c in whole]


def test_a_big_file_is_committed_in_batches_with_progress_per_batch(tmp_path, embedder, monkeypatch):
    root = tmp_path / "big"
    root.mkdir()
    (root / "dump.txt").write_text(one_line(4_000))  # one line, ~25 chunks
    seen, commits = [], []
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "big", embedder, limits=Limits(batch_chunks=4)) as c:
        real_commit = c.commit

        def commit(upserts=(), **kw):
            commits.append(sum(len(u.chunks) for u in upserts))
            return real_commit(upserts, **kw)

        monkeypatch.setattr(c, "commit", commit)
        report = c.index_folder(root, progress=seen.append)
        total = report.chunks_total
    assert report.added == 1 and total > 12
    assert max(commits) <= 4 and sum(commits) == total  # never more than one batch in memory or in flight
    committed = [p.chunks_embedded for p in seen if p.phase == "indexing"]
    assert len(set(committed)) >= total // 4  # progress moved at every batch, inside the one file


@pytest.mark.parametrize("commit_seconds", [0.0, 1e-6])
def test_a_run_commits_by_time_as_well_as_by_size(tmp_path, embedder, monkeypatch, commit_seconds):
    """With batches too big to ever fill, only ``commit_seconds`` makes a run commit before its end
    (1e-6: due at every piece; 0: by size only, so one commit at the end)."""
    root = tmp_path / "big"
    root.mkdir()
    (root / "dump.txt").write_text(one_line(2_000))
    commits, seen = [], []
    limits = Limits(batch_chunks=10_000, commit_seconds=commit_seconds)
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "timed", embedder, limits=limits) as c:
        real_commit = c.commit

        def commit(upserts=(), **kw):
            if upserts:
                commits.append(sum(len(u.chunks) for u in upserts))
            return real_commit(upserts, **kw)

        monkeypatch.setattr(c, "commit", commit)
        report = c.index_folder(root, progress=seen.append)
    assert sum(commits) == report.chunks_total > 4
    if commit_seconds:
        assert len(commits) >= report.chunks_total // 2  # about a piece at a time
        indexing = [p for p in seen if p.phase == "indexing"]
        assert len({p.chunks_committed for p in indexing}) > 2 and indexing[-1].current == str(root / "dump.txt")
        assert 0 < indexing[-1].bytes_done <= indexing[-1].bytes_total == (root / "dump.txt").stat().st_size
    else:
        assert commits == [report.chunks_total]


def test_a_batch_is_what_the_model_embeds_in_commit_seconds(tmp_path, embedder):
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "target", embedder,
                         limits=Limits(batch_chunks=256, embed_batch_size=32, commit_seconds=5)) as c:
        run = FolderSync(c, tmp_path)
        assert run.batch_target() == 32  # no rate yet: one forward pass, which measures it
        run.rate = 10.0
        assert run.batch_target() == 50
        run.rate = 1000.0
        assert run.batch_target() == 256  # never more than batch_chunks
        c.limits.commit_seconds = 0
        assert run.batch_target() == 256  # by size only


def test_forward_passes_keep_similar_lengths_together():
    lengths = [250, 240, 30, 20, 200, 10, 254]
    passes = forward_passes(lengths, 3)
    assert [[lengths[i] for i in p] for p in passes] == [[254, 250, 240], [200], [30, 20], [10]]
    assert sorted(i for p in passes for i in p) == list(range(len(lengths)))


def test_progress_phases_come_in_order_from_the_first_call(tmp_path, embedder):
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(5):
        (root / f"n{i}.txt").write_text(f"Note {i} about birds that migrate south.")
    seen = []
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "phases", embedder) as c:
        c.index_folder(root, progress=seen.append)
    phases = list(dict.fromkeys(p.phase for p in seen))
    assert phases == ["walking", "indexing", "removing", "saving", "done"]
    assert seen[0].phase == "walking" and seen[0].files_done == 0
    walked = [p for p in seen if p.phase == "indexing"][0]
    assert walked.files_total == 5  # "N files found" is known before the first file is read


def test_cancel_mid_file_stops_within_a_batch_and_the_next_run_resumes(tmp_path, embedder, monkeypatch):
    root = tmp_path / "big"
    root.mkdir()
    (root / "dump.txt").write_text(one_line(4_000))
    key = str(root / "dump.txt")
    cancel = threading.Event()

    def stop_after_two_batches(p) -> None:
        if p.chunks_embedded >= 8:
            cancel.set()

    limits = Limits(batch_chunks=4, embed_batch_size=2, commit_seconds=0)  # (batches by size alone: 8 = 2 of them)
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "cancel", embedder, limits=limits) as c:
        report = c.index_folder(root, progress=stop_after_two_batches, cancel=cancel)
        done = spans(c, key)
        assert report.added == 0 and 8 <= len(done) <= 12  # stopped within one batch of the request
        assert c.file_states(root)[key][3] is True  # marked partial, so never taken for unchanged
        counter = CountingEmbed(embedder, monkeypatch)
        again = c.index_folder(root)
        assert again.resumed == 1 and again.unchanged == 0
        assert spans(c, key)[: len(done)] == done  # committed chunks kept, not embedded again
        assert counter.texts == again.chunks_embedded == again.chunks_total - len(done)
        assert c.file_states(root)[key][3] is False
        resumed = spans(c, key)
    with Collection.open(EmbeddedBackend(tmp_path / "clean"), "clean", embedder, limits=limits) as clean:
        clean.index_folder(root)
        assert spans(clean, key) == resumed  # the same chunks as a run that was never interrupted


CHILD = """
import sys
from pathlib import Path
from indexer.collection import Collection, Limits
from indexer.embedding import load_embedder
from indexer.stores.embedded import EmbeddedBackend
with Collection.open(EmbeddedBackend(sys.argv[1]), "kill", load_embedder(), limits=Limits(batch_chunks=4)) as c:
    c.index_folder(Path(sys.argv[2]))
"""


def committed_chunks(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def wait_for_chunks(proc: subprocess.Popen, db: Path, n: int, timeout: float, poll: float = 0.05) -> bool:
    """Wait until the catalog ``db`` holds ``n`` committed chunks (the moment to SIGKILL ``proc``), ``proc``
    ends, or ``timeout`` seconds pass; True if ``proc`` still runs."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline and committed_chunks(db) < n:
        time.sleep(poll)
    return proc.poll() is None


@pytest.mark.slow  # SIGKILLs a real process
def test_sigkill_mid_file_keeps_committed_batches_and_resumes_without_reembedding(tmp_path, embedder, monkeypatch):
    root = tmp_path / "big"
    root.mkdir()
    (root / "dump.txt").write_text(one_line(6_000))
    key = str(root / "dump.txt")
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data), str(root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = data / "collections" / "kill" / "catalog.sqlite3"
    assert wait_for_chunks(proc, db, 8, timeout=600), proc.stderr.read().decode() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Collection.open(EmbeddedBackend(data), "kill", embedder, limits=Limits(batch_chunks=4)) as c:
        done = spans(c, key)
        assert len(done) >= 8 and c.file_states(root)[key][3] is True  # a partly indexed file survived the kill
        counter = CountingEmbed(embedder, monkeypatch)
        report = c.index_folder(root)
        assert report.resumed == 1
        assert spans(c, key)[: len(done)] == done
        assert counter.texts == report.chunks_total - len(done)  # only the chunks after the kill were embedded
        assert files.vectors(c).ntotal == files.catalog(c).count_chunks() == report.chunks_total
        resumed_hits = [(h.start, round(h.score, 4)) for h in c.search("glacier tundra", k=5, mode="dense")]
        resumed = spans(c, key)
    with Collection.open(EmbeddedBackend(tmp_path / "clean"), "clean", embedder,
                         limits=Limits(batch_chunks=4)) as clean:
        clean.index_folder(root)
        assert spans(clean, key) == resumed
        assert [(h.start, round(h.score, 4)) for h in clean.search("glacier tundra", k=5, mode="dense")] \
            == resumed_hits
