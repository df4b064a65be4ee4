"""Indexing on a Ray cluster of two real nodes (tests/ray_cluster.py): a head on 127.0.0.3 and a worker node on
127.0.0.2, one CPU each, joined by ``semsearch index --ray-address`` (the command a user runs). Each node runs
one actor, and each node's actors embed chunks; the store holds what the report says; every connection of
the cluster stays on loopback addresses. Ray is stopped by pid, never ``ray stop``.

The store is a parameter (``store_settings``, by its SEMSEARCH_* settings): the embedded store, and a real
PostgreSQL the tests start (tests/postgres_server.py). The cluster is shared by both runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from indexer.collection import Collection
from tests import processes
from tests.ray_cluster import ray_cluster
from tests.serving import SEMSEARCH, as_json, cli_env

CORPUS_DOCS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "docs"
HEAD, WORKER = "127.0.0.3", "127.0.0.2"


@pytest.fixture(scope="module")
def two_nodes():
    pytest.importorskip("ray", reason="the Ray tests need the optional extra: pip install 'semsearch[ray]'")
    with ray_cluster((HEAD, WORKER), cpus=1) as cluster:
        yield cluster


@pytest.fixture(params=["embedded", "postgres"])
def store_settings(request) -> dict[str, str]:
    """The SEMSEARCH_* settings of the store the folder goes into, beside a private data folder (the embedded
    store needs nothing more; Postgres: a fresh database of the session's server). A store is one more param."""
    if request.param == "postgres":
        return {"SEMSEARCH_STORE": "postgres", "SEMSEARCH_POSTGRES_URL": request.getfixturevalue("postgres_db")}
    return {}


@pytest.mark.slow
def test_indexing_on_two_nodes_puts_the_actors_of_both_to_work(tmp_path, two_nodes, store_settings, embedder,
                                                                monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    for src in sorted(CORPUS_DOCS.rglob("*.md"))[:6]:
        shutil.copyfile(src, docs / src.name)
    data = tmp_path / "data"
    # Two actors of one CPU on two nodes of one CPU: one on each. Forward passes of 8 texts: the last batch
    # (every chunk here) is cut into several passes, sent to the least busy actor in turn.
    env = cli_env(data, SEMSEARCH_RAY_ACTORS="2", SEMSEARCH_EMBED_BATCH_SIZE="8", **two_nodes.env, **store_settings)
    run = subprocess.run([*SEMSEARCH, "index", str(docs), "--ray-address", two_nodes.address, "--json"],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = as_json(run)

    nodes = report["ray"]["nodes"]
    assert sorted(nodes) == [WORKER, HEAD]
    assert [w["actors"] for w in nodes.values()] == [1, 1]
    assert all(w["chunks"] > 0 for w in nodes.values()), nodes
    assert sum(w["chunks"] for w in nodes.values()) == report["chunks"]["embedded"] == report["chunks"]["total"]
    assert sum(w["files"] for w in nodes.values()) == report["files"]["added"] == 6

    from app.settings import Settings

    for name, value in {"SEMSEARCH_DATA_DIR": str(data), **store_settings}.items():
        monkeypatch.setenv(name, value)
    with Collection.open(Settings(_env_file=None).store_backend(), "default", embedder, create=False) as coll:
        assert coll.store.count_chunks() == report["chunks"]["total"]

    pids = [pid for node in two_nodes.nodes for pid in node.processes()]
    connected = [c for c in processes.tcp_connections(pids) if c.state == "ESTABLISHED"]
    assert connected and [c for c in connected if not c.on_loopback()] == []
