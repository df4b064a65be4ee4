"""The service's model: loading it from the settings (:func:`load_model`, the one place it loads), what
that load will do (:func:`model_load_note`), counting its forward passes (:func:`metered`) and the data
folder's embedding cache in front of it (:class:`SharedEmbeddingCache`). :class:`app.service.Service`
holds the loaded model and calls these; tests patch ``app.service.load_model``, which it calls.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast

from app.settings import Settings, model_cache_dir
from indexer.embedding import Embedder, load_embedder

if TYPE_CHECKING:
    from app.metrics import Metrics
    from indexer.embedding.cache import EmbeddingCache


def load_model(settings: Settings, *, backend: str | None = None) -> Embedder:
    """The model the settings name (``backend`` overrides ``SEMSEARCH_BACKEND``): the one place it loads."""
    s = settings
    return load_embedder(s.model, backend=backend or s.backend, precision=s.precision, engine=s.engine,
                         model_cache=model_cache_dir(s.model_cache))


def model_load_note(settings: Settings) -> str:
    """What loading the model will do, in a few words, for the start-up line a server prints before its
    address: a first load converts the model to an OpenVINO graph (a minute or more on a small machine),
    later ones read the converted graph from the cache. Only looks at the cache folder: it loads nothing."""
    from indexer.embedding.graph_cache import GraphCache
    from indexer.embedding.selection import resolve_model

    s = settings
    if s.backend == "minimal":
        return "NumPy transformer, nothing to convert"
    if s.engine not in ("auto", "openvino"):
        return f"{s.engine} engine, no converted graph"
    cache = model_cache_dir(s.model_cache)
    if cache is None:
        return "graph cache off: converting the model, a minute or more"
    try:
        _, path = resolve_model(s.model)
        cached = (GraphCache(cache, path).dir / "meta.json").is_file()
    except Exception:  # noqa: BLE001 - the load itself names what is wrong with the model setting
        return "checking the model"
    return ("converted graph cached" if cached
            else f"first load: converting the model, a minute or more; cached in {cache} for the next start")


def metered(model: Embedder, metrics: Metrics | None) -> Embedder:
    """``model`` counting its forward passes in ``metrics`` (the HTTP app's /metrics); itself without."""
    if metrics is None:
        return model
    from app.metrics import MeteredEmbedder

    return cast(Embedder, MeteredEmbedder(model, metrics))


class SharedEmbeddingCache:
    """The data folder's embedding cache (SEMSEARCH_EMBEDDING_CACHE_MB), shared by every collection and
    store, opened by the first collection that embeds; closed by the service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache: EmbeddingCache | None = None
        self._identity: str | None = None
        self._lock = threading.Lock()

    def wrap(self, model: Embedder) -> Embedder:
        """``model`` behind the cache, keyed by the identity of the model the settings describe; ``model``
        itself when the cache is off."""
        s = self.settings
        if s.embedding_cache_mb <= 0:
            return model
        from indexer.embedding.cache import CACHE_FILE, CachedEmbedder, EmbeddingCache, model_identity
        from indexer.embedding.cpu import resolve_precision
        from indexer.embedding.selection import resolve_model

        with self._lock:
            if self.cache is None:
                self.cache = EmbeddingCache(s.data_dir.expanduser() / CACHE_FILE,
                                            max_bytes=s.embedding_cache_mb * 1024 * 1024)
            if self._identity is None:
                _, path = resolve_model(s.model)
                self._identity = model_identity(
                    model.name, path, backend=s.backend, precision=resolve_precision(s.precision, quiet=True),
                    engine=s.engine, dimension=model.dimension, max_seq_length=model.max_seq_length)
        return CachedEmbedder(model, self.cache, self._identity)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
