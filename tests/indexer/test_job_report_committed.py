"""An interrupted job's report states only what is committed: files and chunks that are in the collection,
never the batch that was being embedded when it stopped."""

from __future__ import annotations

import threading

import indexer.sync.recipe as sync
from indexer.collection import Collection, Limits
from indexer.jobs import _interrupted
from indexer.stores.embedded import EmbeddedBackend

TOPICS = ["cats nap in the sun", "dogs fetch sticks", "bread rises in the oven", "mars is a red planet"]


def test_progress_and_the_interrupted_report_count_only_committed_work(tmp_path, embedder, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(24):
        (docs / f"f{i:02d}.txt").write_text(f"{TOPICS[i % 4]}, note number {i}.")
    monkeypatch.setattr(sync, "TELL_EVERY", 0.0)  # a progress line after every forward pass
    cancel = threading.Event()
    at_stop: list[sync.Progress] = []

    def progress(p: sync.Progress) -> None:
        # Stop in the middle of the second batch: one batch committed, part of the next embedded.
        if not cancel.is_set() and p.chunks_committed > 0 and p.chunks_embedded > p.chunks_committed:
            at_stop.append(p)
            cancel.set()

    limits = Limits(batch_chunks=8, embed_batch_size=2)
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "c", embedder, limits=limits) as coll:
        coll.index_folder(docs, progress=progress, cancel=cancel)
        info = coll.info()
    assert at_stop, "the run never stopped with a batch in flight"
    p = at_stop[0]
    assert 0 < info.chunks < p.chunks_embedded  # the batch in flight was dropped
    assert (p.files_committed, p.chunks_committed) == (info.files, info.chunks)

    message = _interrupted({"files_done": p.files_done, "chunks_embedded": p.chunks_embedded,
                            "files_committed": p.files_committed, "chunks_committed": p.chunks_committed})["message"]
    assert f"committed {info.files} new or changed file(s) and {info.chunks} chunk(s)" in message
    assert f"{p.chunks_embedded} chunk" not in message and "stay in the collection" in message


def test_an_old_progress_line_claims_nothing():
    message = _interrupted({"files_done": 49, "chunks_embedded": 128})["message"]  # no committed counts
    assert "49" not in message and "128" not in message and "Start it again" in message
