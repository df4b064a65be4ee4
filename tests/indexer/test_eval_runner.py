"""The BEIR eval runner: a tiny hand-made BEIR folder indexed and queried through a real collection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexer.collection import Collection, Document
from indexer.errors import InvalidInput
from indexer.evaluation import _percentile, default_collection_name, run_beir
from indexer.stores.embedded import EmbeddedBackend

DOCS = {
    "d1": ("Photosynthesis", "Plants convert sunlight, water and carbon dioxide into glucose and oxygen."),
    "d2": ("Volcanoes", "Magma rises through the crust and erupts as lava, ash and volcanic gas."),
    "d3": ("Sourdough bread", "A starter of wild yeast and lactobacilli leavens the dough and sours it."),
    "d4": ("Black holes", "Gravity so strong that not even light escapes beyond the event horizon."),
    "d5": ("Chess openings", "The Sicilian Defence answers the king's pawn with the c-pawn."),
    "d6": ("Honeybees", "Worker bees dance to tell the hive where the flowers with nectar are."),
    "d7": ("Tides", "The pull of the moon and the sun raises and lowers the level of the sea."),
}
QUERIES = {
    "q1": "how do plants turn sunlight and carbon dioxide into glucose",
    "q2": "lava and ash erupting from volcanoes",
    "q3": "why does the bee dance in the hive",
    "q9": "a query that is not judged",
}
QRELS = [("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d6", 2)]


def write_beir(root: Path, docs: dict[str, tuple[str, str]] = DOCS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc_id, (title, text) in docs.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid, text in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    rows = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{s}" for q, d, s in QRELS)]
    (root / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def _eval_embedder(embedder: Any) -> Any:
    """The session's real model (tests/conftest.py)."""
    return embedder


def test_runner_scores_a_perfect_ranking_and_reuses_the_collection(tmp_path: Path, _eval_embedder: Any) -> None:
    dataset = write_beir(tmp_path / "tiny")
    data = tmp_path / "data"
    first = run_beir(dataset, backend=EmbeddedBackend(data), embedder=_eval_embedder)
    assert set(first) == {"dense", "keyword", "hybrid", "index"}
    for mode in ("dense", "keyword", "hybrid"):
        r = first[mode]
        assert r["ndcg@10"] == 1.0 and r["mrr@10"] == 1.0 and r["recall@100"] == 1.0, (mode, r)
        assert r["queries"] == 3  # the unjudged query is not run
        assert 0 < r["p50_ms"] <= r["p95_ms"]
    ix = first["index"]
    assert ix["collection"] == "beir-tiny"
    assert ix["documents"] == len(DOCS) and ix["docs_embedded"] == len(DOCS) and ix["chunks_embedded"] >= len(DOCS)

    # The corpus went through the normal indexing path: a named, persistent collection of documents.
    with Collection.open(EmbeddedBackend(data), "beir-tiny", _eval_embedder, create=False) as coll:
        assert coll.get_document("d1").text == "Photosynthesis " + DOCS["d1"][1]
        assert coll.search(QUERIES["q2"], k=1, mode="hybrid")[0].id == "d2"

    second = run_beir(dataset, backend=EmbeddedBackend(data), embedder=_eval_embedder, modes=("keyword",))
    assert set(second) == {"keyword", "index"}
    assert second["index"]["docs_embedded"] == 0 and second["index"]["chunks_embedded"] == 0
    assert second["index"]["docs_unchanged"] == len(DOCS)
    assert second["keyword"]["ndcg@10"] == 1.0


def test_runner_measures_an_imperfect_ranking(tmp_path: Path, _eval_embedder: Any) -> None:
    # Without d1 and d6 in the corpus, q1 and q3 find nothing relevant: their metrics are 0.
    docs = {k: v for k, v in DOCS.items() if k not in ("d1", "d6")}
    dataset = write_beir(tmp_path / "partial", docs)
    result = run_beir(dataset, backend=EmbeddedBackend(tmp_path / "data"), collection="mine", embedder=_eval_embedder,
                      modes=("dense",))
    assert result["index"]["collection"] == "mine"
    assert result["dense"]["ndcg@10"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["dense"]["recall@100"] == pytest.approx(1 / 3, abs=1e-4)


def test_runner_refuses_a_collection_with_other_sources(tmp_path: Path, _eval_embedder: Any) -> None:
    data = tmp_path / "data"
    with Collection.open(EmbeddedBackend(data), "busy", _eval_embedder) as coll:
        coll.upsert_documents([Document("someone-else", "a document that is not in the dataset")])
    with pytest.raises(InvalidInput, match="not in this dataset"):
        run_beir(write_beir(tmp_path / "tiny"), backend=EmbeddedBackend(data), collection="busy",
                 embedder=_eval_embedder)


def test_runner_rejects_bad_modes_and_missing_folders(tmp_path: Path, _eval_embedder: Any) -> None:
    with pytest.raises(InvalidInput, match="modes"):
        run_beir(tmp_path, backend=EmbeddedBackend(tmp_path), embedder=_eval_embedder, modes=("fuzzy",))
    with pytest.raises(FileNotFoundError):
        run_beir(tmp_path / "nope", backend=EmbeddedBackend(tmp_path), embedder=_eval_embedder)


def test_default_collection_name_and_percentile() -> None:
    assert default_collection_name("/x/scifact") == "beir-scifact"
    assert default_collection_name("/x/trec covid!") == "beir-trec-covid"
    assert _percentile([], 50) == 0.0
    assert _percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert _percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)


def test_cli_eval_prints_json_and_a_table(tmp_path: Path, _eval_embedder: Any, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    from typer.testing import CliRunner

    import app.cli as cli

    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: _eval_embedder)
    dataset = write_beir(tmp_path / "tiny")
    runner = CliRunner()
    res = runner.invoke(cli.app, ["--data-dir", str(tmp_path / "data"), "eval", str(dataset), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {"dense", "keyword", "hybrid", "index"}
    assert {"ndcg@10", "recall@100", "mrr@10", "p50_ms", "p95_ms"} <= set(data["hybrid"])
    assert data["index"]["docs_embedded"] == len(DOCS)
    res = runner.invoke(cli.app, ["--data-dir", str(tmp_path / "data"), "eval", str(dataset), "--mode", "dense"])
    assert res.exit_code == 0, res.output
    assert "nDCG@10" in res.stdout and "dense" in res.stdout and "hybrid" not in res.stdout
    assert "0 embedded" in res.stdout
    res = runner.invoke(cli.app, ["--data-dir", str(tmp_path / "data"), "eval", str(dataset), "--split", "dev"])
    assert res.exit_code == 2 and "split 'dev' not found" in res.output
