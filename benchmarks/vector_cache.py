"""Document vectors kept on disk by text, for the benchmarks that need real embeddings but do not measure
the model (``store_compare.py``, ``postgres_store.py``): a text embedded once on this machine is not
embedded again, by either.

One file per model under ``.bench/vectors/`` (git-ignored): ``<model>.npz`` with the SHA-256 of each text
and its vector. A plain .npz and not a database: the benchmarks load it whole, add to it, and write it
back at the end (atomically, by rename, merged with what another run wrote meanwhile).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CACHE = Path(__file__).resolve().parents[1] / ".bench" / "vectors"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class VectorCache:
    """``embed(texts)`` through ``embedder.embed`` for the texts not kept yet; ``save()`` writes them."""

    def __init__(self, embedder: Any, folder: Path = CACHE) -> None:
        self.embedder = embedder
        self._embed = embedder.embed  # the model's own (a caller may put this cache's embed in its place)
        self.path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", embedder.name) + ".npz")
        self.kept: dict[str, np.ndarray] = {}
        self.new = 0
        if self.path.exists():
            with np.load(self.path) as got:
                self.kept = dict(zip(got["keys"].tolist(), got["vectors"], strict=True))

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        texts = list(texts)
        keys = [_key(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self.kept}
        if todo:
            vecs = self._embed(list(todo.values()), batch_size=batch_size)
            self.kept.update(zip(todo, vecs, strict=True))
            self.new += len(todo)
        if not texts:
            return np.zeros((0, self.embedder.dimension), np.float32)
        return np.stack([self.kept[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not self.new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # another run may have added texts since this one loaded the file
            with np.load(self.path) as got:
                self.kept = dict(zip(got["keys"].tolist(), got["vectors"], strict=True)) | self.kept
        tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=np.array(list(self.kept)), vectors=np.stack(list(self.kept.values())))
        os.replace(tmp, self.path)
        self.new = 0
