"""The embedding protocol every engine implements, and :func:`l2_normalize`, the one place vectors are
normalized (corpus and queries alike, so they are comparable by inner product).

An :class:`Embedder` owns the model's fast tokenizer (token counts and the character offsets that
chunking needs), a small query cache and the query micro-batcher; a backend implements ``_encode``
(raw pooled vectors) and this class normalizes them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding.batches import BatchProfile
from indexer.embedding.normalize import l2_normalize

__all__ = ["Embedder", "EmbedderInfo", "l2_normalize", "read_max_seq_length"]


@dataclass
class EmbedderInfo:
    name: str
    dimension: int
    max_seq_length: int
    backend: str
    precision: str


class Embedder:
    """An embedding model: ``indexer.embedding.load_embedder()`` picks the backend; subclasses only
    implement ``_encode``.

    Shared parts live here: the tokenizer for offsets and counts, normalization, a small query cache.
    """

    backend = "base"
    precision = "fp32"
    #: set to a :class:`BatchProfile` to record where the time of ``embed`` calls goes (the benchmark does)
    profile: BatchProfile | None = None

    def __init__(self, name: str, path: Path, *, query_cache_size: int = 1024) -> None:
        self.name = name
        self.path = path
        self._tokenizer = load_tokenizer(path)
        self.max_seq_length = read_max_seq_length(path)
        self.dimension = 0  # set by the backend once its model is loaded
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()

    # -- tokenizer -----------------------------------------------------------------------------
    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character (start, end) of every token of ``text``, without [CLS]/[SEP]."""
        return token_offsets(self._tokenizer, text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text uses in the model, [CLS]/[SEP] included, capped at the window."""
        return count_tokens(self._tokenizer, texts, self.max_seq_length)

    # -- embedding -----------------------------------------------------------------------------
    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False) -> np.ndarray:
        """(n, d) raw vectors. ``bulk``: document batches (big, length-packed); ``exact``: fp32 whatever
        the precision setting."""
        raise NotImplementedError

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Documents -> (n, d) float32 unit vectors. Batch path; may use the fast bulk precision."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        profile, t0 = self.profile, time.perf_counter()
        out = l2_normalize(self._encode(texts, batch_size=batch_size, bulk=True))
        if profile is not None:
            profile.total_s += time.perf_counter() - t0
            profile.runs += 1
        return out

    def embed_queries(self, texts: Sequence[str], *, exact: bool = False) -> np.ndarray:
        """Queries -> (n, d) unit vectors.

        For search (default): the embedder's precision (bf16 where the CPU has it natively, within
        cos 0.9999 of fp32), cached by text. ``exact=True``: fp32 whatever the precision - the vectors
        sentence-transformers computes (what the embed and compare APIs return) - computed on every
        call. Concurrent searches are batched by the caller (a server's search lanes, which also say
        with :func:`~indexer.embedding.cpu.one_core` when a pass should stay on one core)."""
        texts = list(texts)
        if exact:
            if not texts:
                return np.zeros((0, self.dimension), dtype=np.float32)
            return l2_normalize(self._encode(texts, batch_size=64, bulk=False, exact=True))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        with self._cache_lock:
            for i, t in enumerate(texts):
                hit = self._cache.get(t)
                if hit is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(t)
                    out[i] = hit
        if missing:
            vecs = l2_normalize(self._encode([texts[i] for i in missing], batch_size=64, bulk=False))
            with self._cache_lock:
                for i, v in zip(missing, vecs, strict=True):
                    out[i] = v
                    self._cache[texts[i]] = v
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return out

    def clear_cache(self) -> None:
        """Forget cached query vectors (the benchmark uses it so every timed query is computed)."""
        with self._cache_lock:
            self._cache.clear()

    def info(self) -> EmbedderInfo:
        return EmbedderInfo(self.name, self.dimension, self.max_seq_length, self.backend, self.precision)

    def describe(self) -> str:
        """How the model runs, for a log line."""
        return f"backend {self.backend}, {self.precision}"


def load_tokenizer(path: Path) -> Any:
    """The model's fast tokenizer (``tokenizer.json``), untruncated and unpadded: for offsets and counts."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def token_offsets(tokenizer: Any, text: str) -> list[tuple[int, int]]:
    enc = tokenizer.encode(text, add_special_tokens=False)
    return [(int(s), int(e)) for s, e in enc.offsets]


def count_tokens(tokenizer: Any, texts: Sequence[str], max_seq_length: int) -> list[int]:
    encs = tokenizer.encode_batch(list(texts), add_special_tokens=True)
    return [min(len(e.ids), max_seq_length) for e in encs]


def read_max_seq_length(path: Path) -> int:
    cfg = path / "sentence_bert_config.json"
    if cfg.exists():
        value = json.loads(cfg.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return int(json.loads((path / "config.json").read_text()).get("max_position_embeddings", 512))
