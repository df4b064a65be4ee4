"""The converted-graph cache: a second load skips torch, sentence-transformers and the conversion,
gives the same vectors, and a bad, stale or unwritable cache never breaks a load. On a tiny model of the
bundled one's layout (tests/models.py): the cache does not depend on the model's size, and the bundled
model's conversion cost ~10 s a load. Every other test's model comes through the run's cache."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.settings import model_cache_dir
from indexer.embedding import Embedder, SentenceTransformerEmbedder, load_embedder
from indexer.embedding.graph_cache import GraphCache
from indexer.embedding.openvino_engine import OpenVinoModel
from tests.models import TINY_DIMENSION, make_tiny_model

TEXTS = ["What does vitamin D do for bone density?", "semsearch", "x " * 300]


def _entry(root: Path) -> Path:
    entries = [p for p in (root / "openvino").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1, entries
    return entries[0]


def _no_conversion(monkeypatch):
    """From here on a load may neither convert the model nor load sentence-transformers."""
    def fail(*a, **k):
        raise AssertionError("converted or loaded sentence-transformers despite the cache")

    monkeypatch.setattr(OpenVinoModel, "convert", staticmethod(fail))
    monkeypatch.setattr(SentenceTransformerEmbedder, "_load_sentence_transformer", fail)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return str(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny"))


@pytest.fixture(scope="module", autouse=True)
def convert_once():
    """The tiny model is traced into a graph once for the module (the first load below, a real
    conversion); the loads that convert again get a copy of that graph. Tracing costs ~5 s a load
    whatever the model's size, and what these tests check is what the cache does with a graph."""
    real = OpenVinoModel.convert
    graphs: list = []

    def convert(hf, pooling, torch):
        if not graphs:
            graphs.append(real(hf, pooling, torch))
        return graphs[0].clone()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(OpenVinoModel, "convert", staticmethod(convert))
        yield


@pytest.fixture(scope="module")
def converted(tmp_path_factory, model) -> tuple[Embedder, Path]:
    """One load with an empty cache for the whole module: converts, passes the self-check, writes the
    entry. Each test works on its own copy of that cache."""
    root = tmp_path_factory.mktemp("converted") / "model-cache"
    e = load_embedder(model, model_cache=root)
    if e.engine != "openvino":
        pytest.skip("OpenVINO engine not available here")
    return e, root


@pytest.fixture
def cache_root(tmp_path, converted) -> Path:
    """This test's cache: a copy of the one the first load wrote, free to tamper with."""
    root = tmp_path / "model-cache"
    shutil.copytree(converted[1], root)
    return root


@pytest.fixture
def first(converted) -> Embedder:
    """The load that converted the graph and wrote the entry (into the cache ``cache_root`` copies)."""
    return converted[0]


def test_second_load_comes_from_the_cache(model, first, cache_root, monkeypatch, caplog):
    entry = _entry(cache_root)
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["dimension"] == TINY_DIMENSION and meta["max_seq_length"] == 256 and len(meta["reference"]) == 3
    assert first.graph_source == "conversion" and "graph converted" in first.describe()
    _no_conversion(monkeypatch)
    with caplog.at_level(logging.INFO, logger="indexer.embedding"):
        e = load_embedder(model, model_cache=cache_root)
    assert e.graph_source == "cache"  # the load says so: the Docker smoke test reads this line
    assert "loaded in " in caplog.text and "engine openvino" in caplog.text and "graph from the cache" in caplog.text
    assert e.engine == "openvino" and e.dimension == first.dimension and e.max_seq_length == first.max_seq_length
    assert e._model is None  # sentence-transformers was never needed
    np.testing.assert_allclose(e.embed(TEXTS), first.embed(TEXTS), atol=1e-6)
    np.testing.assert_allclose(e.embed_queries(TEXTS, exact=True), first.embed_queries(TEXTS, exact=True), atol=1e-6)
    assert e.count_tokens(["x " * 300]) == [256]  # the window comes from the entry


def test_unreadable_entry_is_converted_again(model, first, cache_root, caplog):
    entry = _entry(cache_root)
    (entry / "model.xml").write_text("<not a graph")
    with caplog.at_level(logging.WARNING, logger="indexer.embedding"):
        e = load_embedder(model, model_cache=cache_root)
    assert e.engine == "openvino"
    assert "unreadable" in caplog.text
    assert GraphCache(cache_root, e.path).load() is not None  # written again, whole


def test_incomplete_entry_is_replaced(model, first, cache_root):
    entry = _entry(cache_root)
    (entry / "meta.json").unlink()
    e = load_embedder(model, model_cache=cache_root)
    assert e.engine == "openvino" and e._model is not None  # converted again
    assert (entry / "meta.json").is_file()  # and the entry written whole


def test_entry_failing_the_check_is_replaced(model, first, cache_root, caplog):
    entry = _entry(cache_root)
    meta = json.loads((entry / "meta.json").read_text())
    meta["reference"] = (-np.asarray(meta["reference"])).tolist()  # vectors this graph does not give
    (entry / "meta.json").write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="indexer.embedding"):
        e = load_embedder(model, model_cache=cache_root)
    assert e.engine == "openvino" and e._model is not None  # converted afresh from the model
    assert "fails the self-check" in caplog.text and "converting the model again" in caplog.text
    fixed = json.loads((_entry(cache_root) / "meta.json").read_text())
    np.testing.assert_allclose(fixed["reference"], -np.asarray(meta["reference"]), atol=1e-6)


def test_unwritable_cache_only_warns(model, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="indexer.embedding"):
        e = load_embedder(model, model_cache=blocker / "cache")  # cannot be created
    if e.engine != "openvino":
        pytest.skip("OpenVINO engine not available here")
    assert "not cached" in caplog.text and "model_cache off" in caplog.text
    assert e.embed(TEXTS).shape == (3, TINY_DIMENSION)


def test_cache_location_and_off(model, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache_dir() == tmp_path / "xdg" / "semsearch"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_cache_dir() == tmp_path / "home" / ".cache" / "semsearch"
    assert model_cache_dir(str(tmp_path / "setting")) == tmp_path / "setting"  # the setting (from .env too)
    assert model_cache_dir("off") is None
    calls = []
    monkeypatch.setattr("indexer.embedding.sentence_transformer.GraphCache", lambda *a: calls.append(a))
    e = load_embedder(model, model_cache=None)
    assert calls == [] and e.dimension == TINY_DIMENSION


def test_entry_name_follows_the_model_files(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"\0" * 10)
    root = tmp_path / "cache"
    a = GraphCache(root, model).dir
    assert GraphCache(root, model).dir == a
    (model / "model.safetensors").write_bytes(b"\1" * 11)  # retrained weights
    b = GraphCache(root, model).dir
    os.utime(model / "config.json", ns=(1, 1))
    c = GraphCache(root, model).dir
    assert len({a, b, c}) == 3 and a.parent == root / "openvino"
