"""The benchmark's statistics and a tiny in-process run of its fast sections."""

from __future__ import annotations

import numpy as np

from indexer.bench import (
    BenchConfig,
    Corpus,
    alternate,
    check_targets,
    make_folder,
    ratio,
    replicate,
    run_bench,
    summarize,
    table_rows,
    unique_queries,
)


def test_summarize_and_ratio():
    s = summarize([3.0, 1.0, 2.0])
    assert s == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert ratio([4.0, 6.0, 5.0], [2.0, 2.5, 3.0]) == 2.0  # ratio of medians
    assert summarize([])["n"] == 0


def test_alternate_rotates_the_order():
    seen: list[str] = []
    sides = {"a": lambda: seen.append("a") or 1.0, "b": lambda: seen.append("b") or 2.0}
    got = alternate(sides, 3)
    assert seen == ["a", "b", "b", "a", "a", "b"]
    assert got == {"a": [1.0, 1.0, 1.0], "b": [2.0, 2.0, 2.0]}


def test_targets():
    met = check_targets({"embed_ratio": 2.6, "query_ratio": 0.8, "reindex_ratio": 0.01, "http_qps_ratio": None})
    assert met == {"embed_ratio": True, "query_ratio": False, "reindex_ratio": True}


def test_helpers(tmp_path):
    qs = unique_queries(["a", "b"])
    assert [next(qs) for _ in range(5)] == ["a", "b", "a (1)", "b (1)", "a (2)"]
    base = np.eye(4, dtype=np.float32)
    r = replicate(base, 10)
    assert r.shape == (10, 4) and np.allclose(np.linalg.norm(r, axis=1), 1, atol=1e-5)
    assert np.allclose(r[:4], base)
    corpus = Corpus("t", ["One sentence here. Another sentence there. And a third one now."], ["q"])
    root = make_folder(tmp_path / "f", corpus, 150)
    files = sorted(root.rglob("*.txt"))
    assert len(files) == 150 and len({p.parent for p in files}) == 2


def test_tiny_run_in_process(embedder):
    cfg = BenchConfig.make(quick=True, embed_chunks=8, queries=3, index_size=300, repeats=2,
                           hnsw_sizes=(2000,), sections=("embed", "query", "hnsw"))
    result = run_bench(cfg, embedder)
    d = result.to_dict()
    for key in ("embed_ratio", "query_ratio", "fidelity_min_cos", "recall@10"):
        assert key in d
    assert d["fidelity_min_cos"] >= 0.9999
    assert d["embed"]["plain_chunks_per_s"]["n"] == 2
    assert d["hnsw"]["2000"]["filtered"]["1%"]["k_hits_inside_filter"]
    assert d["environment"]["backend"] == "sentence-transformers"
    assert table_rows(result)


def test_tiny_http_section(embedder, monkeypatch):
    """A real server in a subprocess; each lone query over HTTP is followed at once by the same search
    in process, and the overhead figure compares those pairs."""
    import http.client
    import threading
    import urllib.parse

    from indexer.collection import Collection

    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    request, search = http.client.HTTPConnection.request, Collection.search

    def logged_request(self, method, url, *args, **kwargs):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("q")
        if q:
            with lock:
                events.append(("http", q[0]))
        return request(self, method, url, *args, **kwargs)

    def logged_search(self, query, *args, **kwargs):
        with lock:
            events.append(("local", query))
        return search(self, query, *args, **kwargs)

    monkeypatch.setattr(http.client.HTTPConnection, "request", logged_request)
    monkeypatch.setattr(Collection, "search", logged_search)
    cfg = BenchConfig.make(quick=True, queries=3, index_size=300, repeats=1, http_requests=8, concurrency=2,
                           sections=("http",))
    result = run_bench(cfg, embedder)
    h = result.to_dict()["http"]
    assert h["qps_c1"]["median"] > 0 and h["qps_c2"]["median"] > 0
    assert h["http_c1_p50_ms"]["n"] == h["http_lone_p50_ms"]["n"] == h["in_process_p50_ms"]["n"] == 1
    assert h["http_p50_excess_ms"] == h["http_lone_p50_ms"]["median"] - h["in_process_p50_ms"]["median"]
    assert result.figures["http_p50_excess_ms"] == h["http_p50_excess_ms"]
    local = [i for i, (kind, _) in enumerate(events) if kind == "local"]
    assert len(local) == 10 + 8 // 2  # the warm-up pairs and one repeat's lone queries
    for i in local:  # every in-process search right after the same text over HTTP
        assert events[i - 1] == ("http", events[i][1])
    assert len({q for kind, q in events if kind == "http"}) == len([e for e in events if e[0] == "http"])
    assert any(row[0] == "HTTP c1 p50 - in-process" for row in table_rows(result))
