"""The ``semsearch`` command line, run as a user runs it: a real process, real files, real model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.indexer.test_collection import TOPICS, make_folder
from tests.serving import as_json

pytestmark = pytest.mark.slow  # real processes: skip with -m "not slow"


def test_index_query_remove_collections(tmp_path, run_cli):
    root = make_folder(tmp_path / "docs")
    (root / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    first = as_json(run_cli("index", str(root), "--json"))
    assert first["files"] == {"added": len(TOPICS), "updated": 0, "resumed": 0, "unchanged": 0, "removed": 0,
                              "skipped": 1, "copies": 0}
    assert first["chunks"]["embedded"] == first["chunks"]["total"] == len(TOPICS)
    assert first["skipped"] == [{"path": str(root / "blob.txt"), "reason": "binary",
                                 "detail": first["skipped"][0]["detail"]}]
    assert first["seconds"] >= 0

    again = as_json(run_cli("index", str(root), "--json"))
    assert again["files"]["unchanged"] == len(TOPICS) and again["chunks"]["embedded"] == 0

    hits = as_json(run_cli("query", "bake a loaf with a golden crust", "--json", "--k", "3"))["hits"]
    assert hits[0]["path"] == str(root / "cooking/bread.md")
    assert {"path", "score", "start", "end", "snippet"} <= set(hits[0])
    text = (root / "cooking/bread.md").read_text()
    assert text[hits[0]["start"] : hits[0]["end"]].startswith("# Baking bread")

    only_md = as_json(run_cli("query", "animals", "--json", "--ext", "md", "--mode", "keyword"))["hits"]
    assert all(h["path"].endswith(".md") for h in only_md)
    globbed = as_json(run_cli("query", "planet", "--json", "--path-glob", "space/**", "--mode", "dense"))["hits"]
    assert {h["path"] for h in globbed} == {str(root / "space/mars.rst"), str(root / "space/notes.html")}

    human = run_cli("query", "purring cats")
    assert "cats.txt" in human.stdout

    cols = as_json(run_cli("collections", "--json"))["collections"]
    assert cols[0]["name"] == "default" and cols[0]["files"] == len(TOPICS) and cols[0]["size_bytes"] > 0
    assert cols[0]["model"] == "sentence-transformers/all-MiniLM-L6-v2"

    assert as_json(run_cli("remove", str(root / "animals/cats.txt"), "--json")) == {"removed": 1}
    hits = as_json(run_cli("query", "purring cats", "--json"))["hits"]
    assert all(not h["path"].endswith("cats.txt") for h in hits)


def test_embed_and_compare(run_cli, embedder):
    out = as_json(run_cli("embed", "hello world", "a second text", "--json"))
    vecs = np.array(out["embeddings"], dtype=np.float32)
    assert vecs.shape == (2, 384) and out["dimension"] == 384
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vecs, embedder.embed_queries(["hello world", "a second text"], exact=True), atol=1e-5)

    pair = as_json(run_cli("compare", "a cat sleeps", "a kitten naps", "--json"))
    assert 0.5 < pair["similarity"] <= 1.0
    matrix = as_json(run_cli("compare", "a", "b", "c", "--json"))["matrix"]
    assert np.allclose(np.diag(matrix), 1.0, atol=1e-5) and np.allclose(matrix, np.array(matrix).T)


def test_errors_are_one_clear_line(tmp_path, run_cli):
    proc = run_cli("query", "x", "--collection", "missing", check=False)
    assert proc.returncode == 2
    assert "Collection 'missing' does not exist" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("index", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 2 and "is not a folder" in proc.stderr


def test_explain_walks_through_the_model(run_cli, embedder):
    human = run_cli("explain", "The cat sat on the mat.", "--compare", "A kitten rested on a rug.")
    for step in ("1. tokens and ids", "2. input matrix (9 x 384)", "layer 5", "L2 normalization", "total"):
        assert step in human.stdout
    assert "cat" in human.stdout and "kitten" in human.stdout
    tr = as_json(run_cli("explain", "The cat sat on the mat.", "--json"))
    assert tr["tokens"][:3] == ["[CLS]", "the", "cat"] and len(tr["ids"]) == 9
    assert len(tr["layers"]) == 6 and np.asarray(tr["layers"][0]["attention"]).shape == (12, 9, 9)
    assert tr["parameters"]["total"] > 22_000_000
    vec = np.asarray(tr["normalized"])
    assert float(vec @ embedder.embed_queries(["The cat sat on the mat."], exact=True)[0]) > 0.99999
