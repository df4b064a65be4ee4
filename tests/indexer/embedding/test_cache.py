"""indexer/embedding/cache.py: a chunk this model embedded before, in any collection, is read back, never
embedded again - and never served to another model; the file stays in its bound; a damaged file or a
full disk costs embeddings, never an index run."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.collection import Collection
from indexer.embedding import bundled_model_path
from indexer.embedding.cache import CachedEmbedder, EmbeddingCache, model_identity
from indexer.embedding.lazy import LazyEmbedder
from indexer.stores.embedded import EmbeddedBackend
from tests.app.conftest import write_docs
from tests.indexer.stores.qdrant.test_qdrant_reindex import Projected
from tests.small_disk import fill, needs_root, small_disk


class Counting:
    """A model that records every text it embeds (everything else is ``model``'s)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str], **kw: Any) -> np.ndarray:
        self.embedded.extend(texts)
        return np.asarray(self.model.embed(texts, **kw))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def identity_of(model: Any, **change: Any) -> str:
    args = {"backend": "sentence-transformers", "precision": "fp32", "engine": "auto", "dimension": model.dimension,
            "max_seq_length": model.max_seq_length} | change
    return model_identity(model.name, bundled_model_path(), **args)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[EmbeddingCache]:
    c = EmbeddingCache(tmp_path / "data" / "embedding-cache.sqlite3", max_bytes=64 * 2**20)
    yield c
    c.close()


def test_a_copy_in_another_collection_loads_no_model_and_gets_the_same_bytes(tmp_path, embedder, cache):
    counting = Counting(embedder)
    loads: list[int] = []

    def load() -> Any:
        loads.append(1)
        return counting

    def model() -> CachedEmbedder:  # what the service gives collections: a lazy model behind the cache
        lazy = LazyEmbedder(embedder.name, bundled_model_path(), embedder.dimension, load)
        return CachedEmbedder(lazy, cache, identity_of(embedder))

    docs = write_docs(tmp_path / "docs")
    backend = EmbeddedBackend(tmp_path / "data")
    with Collection.open(backend, "first", model()) as coll:
        report = coll.index_folder(docs)
    assert report.cache_lookups == report.chunks_embedded == len(counting.embedded) > 0
    assert report.cache_hits == 0 and loads == [1]
    computed = dict(zip(counting.embedded, embedder.embed(counting.embedded), strict=True))

    copy = write_docs(tmp_path / "copy")  # the same files elsewhere, into another collection, by a fresh process
    loads.clear()
    counting.embedded.clear()
    with Collection.open(backend, "second", model()) as coll:
        again = coll.index_folder(copy)
    assert again.chunks_embedded == report.chunks_embedded
    assert counting.embedded == [] and loads == []  # every chunk from the cache: no model loaded
    assert again.to_dict()["embedding_cache"] == {"looked_up": again.chunks_embedded, "hits": again.chunks_embedded,
                                                  "hit_rate": 1.0}
    texts = list(computed)
    vectors, missing = model().cached(texts)
    assert missing == []
    for text, v in zip(texts, vectors, strict=True):
        assert v.tobytes() == computed[text].tobytes()


def test_another_model_never_gets_this_models_vectors(embedder, cache):
    texts = ["Otters hold hands while they sleep.", "The tide comes in twice a day."]
    first = CachedEmbedder(Counting(embedder), cache, identity_of(embedder))
    first.embed(texts)
    projected = Counting(Projected(embedder))
    other = CachedEmbedder(projected, cache, identity_of(projected))
    vectors = other.embed(texts)
    assert projected.embedded == texts and vectors.shape == (2, 128)  # its own vectors, computed
    # every part of the identity counts: the same model run otherwise is another key
    changes = [{"precision": "bf16"}, {"engine": "openvino"}, {"backend": "minimal"}, {"max_seq_length": 128},
               {"dimension": 128}]
    ids = {identity_of(embedder)} | {identity_of(embedder, **c) for c in changes}
    assert len(ids) == len(changes) + 1
    for change in changes:
        _, missing = CachedEmbedder(embedder, cache, identity_of(embedder, **change)).cached(texts)
        assert missing == [0, 1]


def test_new_weights_are_another_identity(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    args: dict[str, Any] = {"backend": "minimal", "precision": "fp32", "engine": "auto", "dimension": 4,
                            "max_seq_length": 8}
    before = model_identity("m", folder, **args)
    (folder / "model.safetensors").write_bytes(b"new weights")
    assert model_identity("m", folder, **args) != before


def test_the_file_stays_within_its_bound_least_recently_used_first(tmp_path):
    bound = 256 * 1024
    cache = EmbeddingCache(tmp_path / "cache.sqlite3", max_bytes=bound)
    rng = np.random.default_rng(0)
    keys = cache.keys("model", [f"text {i}" for i in range(1000)])  # 1.5 KB a row: ~6x the bound in all
    for at in range(0, len(keys), 50):
        cache.put(keys[at:at + 50], rng.standard_normal((50, 384)).astype(np.float32))
        assert cache.size_bytes() <= 1.1 * bound
    assert 0 < cache.count() < 1000
    found = cache.get(keys, 384)
    assert found[-1] is not None and found[0] is None  # the newest stay, the oldest went
    cache.close()


def test_a_damaged_file_is_rebuilt_with_one_log_line(tmp_path, embedder, caplog):
    path = tmp_path / "embedding-cache.sqlite3"
    path.write_bytes(b"this is not a database" * 500)
    cache = EmbeddingCache(path, max_bytes=2**20)
    model = CachedEmbedder(embedder, cache, identity_of(embedder))
    texts = ["Otters hold hands while they sleep."]
    with caplog.at_level(logging.WARNING, logger="indexer.embedding.cache"):
        vectors = model.embed(texts)
        again, missing = model.cached(texts)
    assert np.array_equal(vectors, embedder.embed(texts))
    assert missing == [] and again.tobytes() == vectors.tobytes()  # rebuilt, and in use
    assert [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()] != []
    assert len(caplog.records) == 1
    cache.close()


@needs_root
def test_a_full_disk_only_costs_embeddings(tmp_path, embedder, caplog):
    with small_disk(tmp_path / "small-disk") as disk:
        cache = EmbeddingCache(disk / "embedding-cache.sqlite3", max_bytes=2**20)
        model = CachedEmbedder(Counting(embedder), cache, identity_of(embedder))
        model.embed(["warm"])  # the file exists
        fill(disk)
        docs = write_docs(tmp_path / "docs")
        with caplog.at_level(logging.WARNING, logger="indexer.embedding.cache"):
            with Collection.open(EmbeddedBackend(tmp_path / "data"), "notes", model) as coll:
                report = coll.index_folder(docs)
        assert report.added == 4 and report.cache_hits == 0
        assert len([r for r in caplog.records if "full" in r.getMessage()]) == 1
        cache.close()


class InProcessPool:
    """A RayPool stand-in that runs each task at once in this process (a reference is its result)."""

    nodes = ["here"]

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    def __len__(self) -> int:
        return 1

    def wait_ready(self) -> float:
        return 0.0

    def submit(self, method: str, *args: Any) -> Any:
        return getattr(self.worker, method)(*args)

    def ready(self, ref: Any) -> bool:
        return True

    def get(self, ref: Any) -> Any:
        return ref

    def node_of(self, ref: Any) -> str:
        return "here"


def test_the_ray_path_sends_the_actors_only_what_the_cache_lacks(tmp_path, embedder, cache):
    from indexer.collection import Limits
    from indexer.distributed.ray_index import EmbedWorker, index_folder

    worker = EmbedWorker.__new__(EmbedWorker)  # an actor's work, without Ray or a second model load
    worker.embedder, worker.limits, worker.single_core, worker.busy = Counting(embedder), Limits(), False, 0.0
    model = CachedEmbedder(embedder, cache, identity_of(embedder))
    backend = EmbeddedBackend(tmp_path / "data")
    docs = write_docs(tmp_path / "docs")
    with Collection.open(backend, "first", model) as coll:
        first = index_folder(coll, docs, InProcessPool(worker))
    assert first.cache_hits == 0 and len(worker.embedder.embedded) == first.chunks_embedded == 4
    worker.embedder.embedded.clear()
    with Collection.open(backend, "second", model) as coll:
        again = index_folder(coll, write_docs(tmp_path / "copy"), InProcessPool(worker))
        hits = coll.search("sourdough bread rise", k=1)
    assert again.cache_hits == again.cache_lookups == 4 and worker.embedder.embedded == []
    assert hits[0].path.endswith("bread.md")
