"""indexer/embedding/lazy.py: a model's dimension read from its folder, and a proxy that loads it once."""

from __future__ import annotations

import json
from pathlib import Path

from indexer.embedding import bundled_model_path
from indexer.embedding.lazy import LazyEmbedder, peek_dimension


def test_the_folder_tells_the_dimension_the_loaded_model_has(embedder):
    assert peek_dimension(bundled_model_path()) == embedder.dimension


def test_a_dense_layer_sets_the_dimension_and_an_unknown_module_says_nothing(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 384}))
    (tmp_path / "2_Dense").mkdir()
    (tmp_path / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 384, "out_features": 128}))
    modules = [{"path": "", "type": "sentence_transformers.models.Transformer"},
               {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    assert peek_dimension(tmp_path) == 128
    (tmp_path / "modules.json").write_text(json.dumps([*modules, {"path": "x", "type": "some.Other"}]))
    assert peek_dimension(tmp_path) is None


def test_the_proxy_loads_on_the_first_embedding_only(embedder):
    loads = []

    def load():
        loads.append(1)
        return embedder

    lazy = LazyEmbedder(embedder.name, bundled_model_path(), embedder.dimension, load)
    assert (lazy.name, lazy.dimension, lazy.max_seq_length) == (embedder.name, embedder.dimension,
                                                                embedder.max_seq_length)
    assert loads == [] and not lazy.loaded
    assert lazy.embed(["a", "b"]).shape == (2, embedder.dimension)
    lazy.embed_queries(["c"])
    assert loads == [1] and lazy.backend == embedder.backend
