"""The benchmark's statistics and a tiny in-process run of its fast sections."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.suite import (
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
    cfg = BenchConfig.make(quick=True, embed_chunks=2, queries=3, index_size=300, repeats=2,
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


@pytest.mark.slow
def test_tiny_http_section(embedder, monkeypatch):
    """A real server in a subprocess; lone queries run in alternating blocks of the same texts over HTTP
    and in process, and the first query of each block (the switch between processes) is kept out of
    the overhead figure."""
    import http.client
    import threading
    import time
    import urllib.parse

    from benchmarks.suite.config import LONE_BLOCK
    from indexer.collection import Collection

    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    request, search = http.client.HTTPConnection.request, Collection.search
    switch_s = 0.3  # an in-process search right after an HTTP query is made this much slower

    def logged_request(self, method, url, *args, **kwargs):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("q")
        if q:
            with lock:
                events.append(("http", q[0]))
        return request(self, method, url, *args, **kwargs)

    def logged_search(self, query, *args, **kwargs):
        with lock:
            after_http = bool(events) and events[-1][0] == "http"
            events.append(("local", query))
        if after_http:
            time.sleep(switch_s)
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
    # The switch is measured apart and kept out of the figure.
    assert h["in_process_after_switch_p50_ms"]["median"] >= switch_s * 1000
    assert h["in_process_p50_ms"]["median"] < switch_s * 1000
    # The lone runs (warm-up: 10 texts, one repeat: 4) in blocks: each side runs the block's texts in
    # order, then the other side the same texts; which side goes first alternates block by block.
    assert LONE_BLOCK == 5
    lone = [e for e in events if e[0] == "local" or e[1] in {q for kind, q in events if kind == "local"}]
    sent = [q for kind, q in lone if kind == "http"]
    blocks = [sent[0:5], sent[5:10], sent[10:14]]  # the warm-up's two blocks, then the repeat's one
    expected: list[tuple[str, str]] = []
    for (first, second), texts in zip((("http", "local"), ("local", "http"), ("http", "local")), blocks, strict=True):
        expected += [(first, q) for q in texts] + [(second, q) for q in texts]
    assert lone == expected
    assert len([e for e in lone if e[0] == "local"]) == 10 + 8 // 2
    assert len({q for kind, q in events if kind == "http"}) == len([e for e in events if e[0] == "http"])
    assert any(row[0] == "HTTP c1 p50 - in-process" for row in table_rows(result))


def test_query_from_a_chunk_that_starts_with_punctuation():
    from benchmarks.suite.corpus import query_from

    assert query_from(". Next sentence is here. And more.") == "Next sentence is here"
    assert query_from("... --- !!") == ""
    assert query_from(" ".join(f"w{i}" for i in range(30))) == " ".join(f"w{i}" for i in range(20))


def test_the_default_corpus_is_the_shipped_one(embedder):
    from benchmarks.suite import DEFAULT_CORPUS, load_corpus

    corpus = load_corpus(embedder, None, max_chunks=64)
    assert corpus.source == f"BEIR corpus {DEFAULT_CORPUS.resolve()}"
    assert len(corpus.chunks) == 64 and len(corpus.queries) == 346


def test_a_folder_of_ordinary_files_gives_only_non_empty_queries(embedder, tmp_path):
    from benchmarks.suite import load_corpus

    (tmp_path / "a.md").write_text(". A file that starts with a full stop. Then a sentence.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("...\n\n---\n", encoding="utf-8")  # nothing to ask about
    (tmp_path / "c.txt").write_text("Rivers carry water to the sea.", encoding="utf-8")
    corpus = load_corpus(embedder, tmp_path, max_chunks=16)
    assert corpus.source == f"folder {tmp_path.resolve()}"
    assert corpus.queries and all(q.strip() for q in corpus.queries)


@pytest.mark.slow
def test_cli_bench_on_any_folder_finishes(tmp_path):
    """``semsearch bench --corpus <folder>`` as a user runs it, on files whose chunks start with "." (the
    queries made of them once broke the HTTP section with a 422; ``query_from`` is checked above, and
    the HTTP section in process by ``test_tiny_http_section``): the query section, the cheapest whole run."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "docs"
    folder = tmp_path / "docs"
    folder.mkdir()
    for p in sorted(docs.rglob("*.md"))[:6]:
        (folder / p.name).write_text(". " + p.read_text(encoding="utf-8"), encoding="utf-8")
    cli = Path(sys.executable).with_name("semsearch")
    res = subprocess.run([str(cli), "bench", "--quick", "--corpus", str(folder), "--section", "query", "--repeats", "1",
                          "--json"], capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"},
                         check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["query"]["project_p50_ms"]["median"] > 0 and out["query"]["top10_agreement"] > 0
    assert out["environment"]["corpus"] == f"folder {folder.resolve()}"


def test_the_index_section_reports_the_cache_hit_rate_of_a_second_collection(embedder, tmp_path, monkeypatch):
    """The indexing child (run here, in process, with the session's model): a first run with a cold
    embedding cache, then the same files into a second collection, every chunk a hit."""
    from benchmarks.suite.index import child_index

    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: embedder)
    monkeypatch.delenv("SEMSEARCH_EMBEDDING_CACHE_MB", raising=False)
    corpus = Corpus("t", ["Otters hold hands. Rivers meet the sea. Tides come twice a day."], ["q"])
    res = child_index(make_folder(tmp_path / "f", corpus, 3), tmp_path / "data", 1)
    assert res["copy_cache"]["hit_rate"] == 1.0 and res["copy_cache"]["looked_up"] == res["chunks"]
    assert res["first_cache"]["looked_up"] == res["chunks"] and len(res["copy_s"]) == 1
