"""benchmarks/postgres_store.py run with tiny inputs so it cannot rot: real Postgres servers (a primary,
standbys, failovers) and two ``semsearch serve`` replicas, 150 chunks, 4 queries, one second of QPS."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow  # real servers, a SIGKILL of a primary


def test_postgres_store_benchmark_prints_every_figure(tmp_path, capsys):
    from benchmarks.postgres_store import main

    main(["--quick", "--chunks", "150", "--docs", "12", "--queries", "4", "--failovers", "1", "--qps-seconds", "1",
          "--cache-dir", str(tmp_path / "vectors"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["cpu"]["cores"] and "2 shared cores" in out["bound"]
    figures = out["figures"]
    for vtype in ("vector", "halfvec"):
        fig = figures[f"recall@10 {vtype}"]
        assert 0 < fig["ef_search=40"] <= 1 and fig["hnsw_index_bytes"] > 0 and fig["loadavg"]
    assert figures["bulk store writes"]["postgres_hnsw_build_after_s"] > 0
    lat = figures["query latency through Collection.search (k=10, HNSW)"]
    assert {f"{m} {s}" for m in ("dense", "keyword", "hybrid") for s in ("embedded", "postgres")} <= set(lat)
    assert figures["remote_apply cost (SEMSEARCH_POSTGRES_READS=synchronous)"]["sync_standby_extra_polls_max"] == 0
    assert figures["write-to-visible lag (acknowledged write -> seen by another connection)"]["async standby"]["n"]
    for replicas in ("one serve replica", "two serve replicas"):
        qps = figures[f"QPS hybrid at concurrency 8, {replicas}"]
        assert qps["qps"] > 0 and qps["errors"] == 0
    sync = figures["failover to a synchronous standby (SIGKILL of the primary mid-stream)"]
    assert sync["acked_lost"] == [0] and sync["serving_again_s"][0] > 0
    assert "lost" in figures["failover to an async standby (the window)"]


def test_keyword_options_benchmark_ranks_the_shipped_corpus(capsys, monkeypatch):
    """benchmarks/postgres_keyword_options.py: why the store ranks keywords by BM25 sparse vectors."""
    from benchmarks.postgres_keyword_options import main

    monkeypatch.setattr("sys.argv", ["postgres_keyword_options.py", "--json"])
    main()
    out = json.loads(capsys.readouterr().out)
    ndcg = out["ndcg@10"]
    assert out["documents"] == out["queries"] == 346 and out["load"]
    assert ndcg["bm25-sparsevec"] > ndcg["ts_rank"] > ndcg["ts_rank_cd"] > 0
