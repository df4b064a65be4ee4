"""A model that loads on the first call that needs it: :class:`LazyEmbedder`.

Opening a collection checks only the model's name and dimension, and most of what a command does with a
collection (remove a path, list, re-index an unchanged folder, say a path is not indexed) needs nothing
more. Loading the real model takes seconds (minutes the first time, when its graph is converted), so the
service hands collections this proxy: the name and dimension are read from the model's folder
(:func:`peek_dimension`), tokens are counted by the model's tokenizer alone (a fraction of a second to
load), and the first call that embeds loads the model, once. So chunking a file whose every chunk the
embedding cache (:mod:`indexer.embedding.cache`) already has needs no model either.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding.base import (
    Embedder,
    EmbedderInfo,
    count_tokens,
    load_tokenizer,
    read_max_seq_length,
    token_offsets,
)

__all__ = ["LazyEmbedder", "peek_dimension"]


def peek_dimension(path: Path) -> int | None:
    """The dimension of a sentence-transformers model's vectors, read from its folder's config files
    without loading it: the last ``Dense`` module's ``out_features``, else the pooling's
    ``word_embedding_dimension`` (one pooling mode), else the transformer's ``hidden_size``. None when
    the folder says something else (several pooling modes, an unknown module): then only loading tells."""
    try:
        modules = json.loads((path / "modules.json").read_text()) if (path / "modules.json").exists() else []
        dim: int | None = None
        for module in modules:
            kind, folder = str(module.get("type", "")), path / str(module.get("path", ""))
            if kind.endswith(".Transformer"):
                dim = int(json.loads((path / "config.json").read_text())["hidden_size"])
            elif kind.endswith(".Pooling"):
                cfg = json.loads((folder / "config.json").read_text())
                modes = [k for k, v in cfg.items() if k.startswith("pooling_mode_") and v is True]
                if len(modes) != 1:
                    return None
                dim = int(cfg["word_embedding_dimension"])
            elif kind.endswith(".Dense"):
                dim = int(json.loads((folder / "config.json").read_text())["out_features"])
            elif not kind.endswith(".Normalize"):
                return None
        if not modules:  # a bare transformer folder (the minimal backend reads these too): mean pooling
            dim = int(json.loads((path / "config.json").read_text())["hidden_size"])
        return dim
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LazyEmbedder(Embedder):
    """An :class:`Embedder` whose ``name``, ``dimension`` and ``max_seq_length`` are known at once, whose
    tokens come from the model's tokenizer file (the same one, set up the same way, as the model's own:
    :class:`Embedder`), and whose model is ``load()``-ed on the first call that embeds (from any thread,
    once)."""

    def __init__(self, name: str, path: Path, dimension: int, load: Callable[[], Embedder]) -> None:
        # No Embedder.__init__: it loads the tokenizer, which this proxy leaves to the real model.
        self.name = name
        self.path = path
        self.dimension = dimension
        self.max_seq_length = read_max_seq_length(path)
        self._load = load
        self._model: Embedder | None = None
        self._lock = threading.Lock()
        self._tokenizer: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model(self) -> Embedder:
        """The real model, loaded now if it is not yet."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    model = self._load()
                    if (model.name, model.dimension) != (self.name, self.dimension):
                        raise RuntimeError(f"the model loaded as {model.name!r} with {model.dimension} dimensions, "
                                           f"not {self.name!r} with {self.dimension} as its folder says")
                    self._model = model
        return self._model

    # the class attributes of Embedder, which would say "base" and "fp32" for any model
    @property
    def backend(self) -> str:  # type: ignore[override]
        return self.model().backend

    @property
    def precision(self) -> str:  # type: ignore[override]
        return self.model().precision

    def tokenizer(self) -> Any:
        """The model's fast tokenizer, without truncation or padding (as :class:`Embedder` sets it up)."""
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = load_tokenizer(self.path)
        return self._tokenizer

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        if self._model is not None:
            return self._model.token_offsets(text)
        return token_offsets(self.tokenizer(), text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self._model is not None:
            return self._model.count_tokens(texts)
        return count_tokens(self.tokenizer(), texts, self.max_seq_length)

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self.model().embed(texts, batch_size=batch_size)

    def embed_queries(self, texts: Sequence[str], *, exact: bool = False) -> np.ndarray:
        return self.model().embed_queries(texts, exact=exact)

    def clear_cache(self) -> None:
        if self._model is not None:
            self._model.clear_cache()

    def info(self) -> EmbedderInfo:
        return self.model().info()

    def describe(self) -> str:
        return self.model().describe() if self._model is not None else "not loaded yet"

    def __getattr__(self, attr: str) -> Any:  # engine, graph_source ...: the real model's
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.model(), attr)
