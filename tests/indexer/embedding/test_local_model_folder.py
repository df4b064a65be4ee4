"""SEMSEARCH_MODEL pointing at a local sentence-transformers folder of another dimension (as a
multilingual model would be): it loads by path, and a collection made with it (128 dimensions,
German keyword analysis) indexes and searches in every mode. The folder is the bundled model with a
fixed Dense projection 384 -> 128 saved after it: only one model is installed here, and what matters is
that the path, the name and the dimension all differ from the default."""

from __future__ import annotations

import pytest
import torch

from indexer.collection import Collection, read_info
from indexer.embedding import load_embedder
from indexer.embedding.selection import bundled_model_path
from indexer.stores.embedded import EmbeddedBackend


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    st = SentenceTransformer(str(bundled_model_path()), device="cpu")
    torch.manual_seed(7)
    st.append(Dense(384, 128, bias=False, activation_function=torch.nn.Identity()))
    st.append(Normalize())
    folder = tmp_path_factory.mktemp("models") / "multilingual-128"
    st.save(str(folder))
    return folder


@pytest.mark.parametrize("engine", ["auto", "torch"])
def test_a_local_model_folder_of_another_dimension_indexes_and_searches(model_folder, tmp_path, engine):
    # auto: the OpenVINO graph of the whole module list (Dense included) or, failing its self-check
    # against encode(), the next engine; torch: the model's own modules
    embedder = load_embedder(str(model_folder), engine=engine, model_cache=tmp_path / "cache")
    assert (embedder.name, embedder.dimension) == ("multilingual-128", 128)
    backend = EmbeddedBackend(tmp_path / "data")
    docs = [{"id": "haus", "text": "Die alten Häuser am Fluss wurden im Winter renoviert."},
            {"id": "zug", "text": "Der Zug nach Berlin fährt jeden Morgen um sieben Uhr ab."}]
    with Collection.open(backend, "de", embedder, language="de") as c:
        c.upsert_documents(docs)
        assert c.search("Haus", mode="keyword", k=1)[0].id == "haus"
        for mode in ("dense", "hybrid"):
            hits = c.search("Zug nach Berlin", mode=mode, k=2)
            assert hits[0].id == "zug" and hits[0].cosine is not None, (mode, hits)
    info = read_info(backend, "de")
    assert (info.model, info.dimension, info.language) == ("multilingual-128", 128, "de")
