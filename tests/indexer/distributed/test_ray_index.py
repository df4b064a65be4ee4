"""Indexing on Ray (indexer/distributed/ray_index.py) with a REAL local Ray cluster (2 CPUs, shut down
after the module): the same chunks and vectors (within 1e-6) as the in-process path, an unchanged
re-run embeds nothing, and a Ray run whose CLI process is SIGKILLed midway resumes and converges to a
clean run's chunks without embedding again what was committed. No Ray installed: one line, exit 2."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from indexer.collection import Collection, Limits
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.stores.embedded import files
from tests.indexer.test_sync import committed_chunks, one_line, wait_for_chunks
from tests.serving import SEMSEARCH, cli_env

CORPUS_DOCS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "docs"
LIMITS = Limits(batch_chunks=8, commit_seconds=0)  # small batches: a big file is committed in several partial
# pieces; by size alone, so the local run forms the same batches as the Ray driver (which keeps batch_chunks)
MBOX = """From alice@example.org Mon Jan  1 00:00:00 2024
From: alice@example.org
Subject: Glaciers

The glacier moved a few metres over the winter, carving the valley below.

From bob@example.org Tue Jan  2 00:00:00 2024
From: bob@example.org
Subject: Orchards

The orchard gave a good harvest of apples and pears this autumn.
"""


def make_folder(root: Path) -> Path:
    """Six shipped corpus files, a file of many batches, a two-message mailbox (chunks with their own
    metadata), an empty file and a binary one (skipped)."""
    for src in sorted(CORPUS_DOCS.rglob("*.md"))[:6]:
        dst = root / src.relative_to(CORPUS_DOCS)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    (root / "big.txt").write_text(one_line(3_000))
    (root / "mail.mbox").write_text(MBOX)
    (root / "empty.txt").write_text("")
    (root / "blob.txt").write_bytes(bytes(range(256)) * 8)
    return root


def contents(coll: Collection) -> tuple[list[tuple], np.ndarray]:
    """Every chunk as (file, ord, start, end, text, its metadata, its file's metadata, partial) in file
    order, and their vectors in that order."""
    rows = files.catalog(coll).reader.execute(
        "SELECT s.key, c.ord, c.start, c.end, c.text, c.metadata, s.metadata, s.partial, c.id FROM chunks c "
        "JOIN sources s ON s.id = c.source_id ORDER BY s.key, c.ord").fetchall()
    vectors = files.catalog(coll).vectors_for([r[-1] for r in rows])
    return [r[:-1] for r in rows], np.stack([vectors[r[-1]] for r in rows])


@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray", reason="the Ray tests need the optional extra: pip install 'semsearch[ray]'")
    from indexer.distributed import ray_index

    ray = ray_index.connect(num_cpus=2)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def pool(ray_cluster):
    from indexer.distributed.ray_index import ModelSpec, RayPool

    p = RayPool(ModelSpec("default", model_cache=os.environ["SEMSEARCH_MODEL_CACHE"]), LIMITS, actors=2)
    try:
        yield p
    finally:
        p.close()


@pytest.mark.slow
def test_the_ray_path_gives_the_same_chunks_and_vectors_and_an_unchanged_rerun_embeds_nothing(
        tmp_path, embedder, pool):
    from indexer.distributed.ray_index import index_folder

    root = make_folder(tmp_path / "docs")
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "ray", embedder, limits=LIMITS) as on_ray, \
            Collection.open(EmbeddedBackend(tmp_path / "data"), "local", embedder, limits=LIMITS) as local:
        r = index_folder(on_ray, root, pool)
        expected = local.index_folder(root)
        assert r.to_dict()["files"] == expected.to_dict()["files"] == {
            "added": 8, "updated": 0, "resumed": 0, "unchanged": 0, "removed": 0, "skipped": 2, "copies": 0}
        assert sorted((s.path, s.reason) for s in r.skipped) == sorted((s.path, s.reason) for s in expected.skipped)
        assert r.chunks_embedded == expected.chunks_embedded > 8 * 4
        assert len(files.catalog(on_ray).chunk_spans("file", str(root / "big.txt"))) > LIMITS.batch_chunks
        chunks, vectors = contents(on_ray)
        local_chunks, local_vectors = contents(local)
        assert chunks == local_chunks
        assert any(c[5] != "{}" for c in chunks if c[0].endswith(".mbox"))  # chunks carry their message's metadata
        # The same batches in the same order; an actor's forward passes run on one core (OpenVINO's per-core
        # compiled model), which may round the last bit differently from the all-core one: within 1e-6.
        assert vectors.shape == local_vectors.shape
        assert np.abs(vectors - local_vectors).max() <= 1e-6
        assert (vectors * local_vectors).sum(axis=1).min() >= 1 - 1e-6
        assert files.vectors(on_ray).ntotal == files.catalog(on_ray).count_chunks() == r.chunks_total

        again = index_folder(on_ray, root, pool)
        assert again.chunks_embedded == 0 and again.to_dict()["files"]["unchanged"] == 8

        os.utime(root / "big.txt", (1, 1))  # same content, new mtime: hashed, not embedded
        (root / "mail.mbox").unlink()
        changed = sorted(root.rglob("*.md"))[0]
        changed.write_text("Penguins huddle together through the antarctic winter.")
        third = index_folder(on_ray, root, pool)
        assert third.to_dict()["files"] == {"added": 0, "updated": 1, "resumed": 0, "unchanged": 6, "removed": 1,
                                            "skipped": 2, "copies": 0}
        assert third.chunks_embedded == 1
        local.index_folder(root)
        assert contents(on_ray)[0] == contents(local)[0]


@pytest.mark.slow
def test_a_ray_run_killed_midway_resumes_and_converges_to_a_clean_run(tmp_path, embedder, ray_cluster):
    """The CLI joins the test's cluster (``--ray-address``), is SIGKILLed after some batches; the next Ray
    run resumes the partial file, embeds only what was not committed and ends with a clean run's chunks."""
    from indexer.distributed.ray_index import ModelSpec, RayPool, index_folder

    root = tmp_path / "docs"
    root.mkdir()
    (root / "big.txt").write_text(one_line(8_000))
    for i in range(4):
        (root / f"small{i}.txt").write_text(one_line(400, seed=i))
    data = tmp_path / "data"
    db = data / "collections" / "default" / "catalog.sqlite3"
    address = ray_cluster.get_runtime_context().gcs_address
    proc = subprocess.Popen([*SEMSEARCH, "index", str(root), "--ray-address", address, "--json"],
                            env=cli_env(data, SEMSEARCH_BATCH_CHUNKS="8", SEMSEARCH_RAY_ACTORS="2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert wait_for_chunks(proc, db, 24, timeout=300), \
        proc.stderr.read().decode() if proc.stderr else "the run ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()

    with Collection.open(EmbeddedBackend(data), "default", embedder, limits=LIMITS) as coll:
        before = committed_chunks(db)
        assert before >= 24 and files.vectors(coll).ntotal == before  # nothing committed was lost; it opens at once
        pool = RayPool(ModelSpec("default", model_cache=os.environ["SEMSEARCH_MODEL_CACHE"]), LIMITS, actors=2)
        try:
            report = index_folder(coll, root, pool)
        finally:
            pool.close()
        assert report.resumed + report.to_dict()["files"]["unchanged"] >= 1  # the kill came after a commit
        assert report.chunks_embedded == report.chunks_total - before  # only what the killed run had not committed
        resumed, resumed_vectors = contents(coll)
    with Collection.open(EmbeddedBackend(tmp_path / "clean"), "clean", embedder, limits=LIMITS) as clean:
        clean.index_folder(root)
        expected, expected_vectors = contents(clean)
    assert resumed == expected
    assert resumed_vectors.shape == expected_vectors.shape
    assert np.abs(resumed_vectors - expected_vectors).max() <= 1e-6


def test_without_ray_installed_the_ray_option_is_one_line_and_exit_2(tmp_path, monkeypatch):
    import app.cli as cli

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    monkeypatch.setattr("app.service.load_model",
                        lambda settings, backend=None: pytest.fail("the model must not load"))
    (tmp_path / "docs").mkdir()
    result = CliRunner().invoke(cli.app, ["index", str(tmp_path / "docs"), "--ray", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["error: indexing on Ray needs the optional extra: pip install 'semsearch[ray]' "
                     "(import of ray halted; None in sys.modules)"]
    assert not (tmp_path / "collections").exists()


def test_a_ray_address_where_nothing_listens_is_one_line_and_exit_2_at_once(tmp_path, monkeypatch):
    import socket

    import app.cli as cli

    pytest.importorskip("ray", reason="the Ray tests need the optional extra: pip install 'semsearch[ray]'")
    monkeypatch.setattr("app.service.load_model",
                        lambda settings, backend=None: pytest.fail("the model must not load"))
    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
        (tmp_path / "docs").mkdir()
        t0 = time.monotonic()
        result = CliRunner().invoke(cli.app, ["index", str(tmp_path / "docs"), "--ray-address", address,
                                              "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert time.monotonic() - t0 < 30  # not Ray's minutes of retries
    assert f"error: nothing answers at the Ray address '{address}' (Connection refused)" in result.output
    assert not (tmp_path / "collections").exists()


def test_a_ray_report_says_what_each_node_did(capsys):
    from app.cli.indexing import _print_report
    from indexer.distributed.ray_index import NodeWork, RayIndexReport

    report = RayIndexReport(added=3, chunks_embedded=12, chunks_total=12,
                            nodes={"127.0.0.3": NodeWork(actors=1, files=2, chunks=8),
                                   "127.0.0.2": NodeWork(actors=1, files=1, chunks=4)})
    assert report.to_dict()["ray"] == {"nodes": {"127.0.0.2": {"actors": 1, "files": 1, "chunks": 4},
                                                 "127.0.0.3": {"actors": 1, "files": 2, "chunks": 8}}}
    _print_report(report, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == ["ray node 127.0.0.2: actors 1, files read 1, chunks embedded 4",
                          "ray node 127.0.0.3: actors 1, files read 2, chunks embedded 8"]
