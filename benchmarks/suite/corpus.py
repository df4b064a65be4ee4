"""Texts to measure with: chunks and queries from a BEIR folder or any folder of documents, and synthetic vectors."""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.suite.config import DEFAULT_CORPUS

log = logging.getLogger(__name__)


@dataclass
class Corpus:
    name: str
    chunks: list[str]
    queries: list[str]
    source: str = ""


def load_corpus(embedder: Any, path: Path | None, *, max_chunks: int, seed: int = 0) -> Corpus:
    """Chunks (by the indexing path's chunker) and queries from a BEIR folder or a folder of documents."""
    from indexer.chunking import chunk_text

    root = Path(path or DEFAULT_CORPUS).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder {root} does not exist (pass --corpus DIR)")
    texts: list[str] = []
    queries: list[str] = []
    if (root / "corpus.jsonl").exists():
        with open(root / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.append(f"{row.get('title', '')} {row.get('text', '')}".strip())
        if (root / "queries.jsonl").exists():
            with open(root / "queries.jsonl", encoding="utf-8") as f:
                queries = [json.loads(line)["text"] for line in f if line.strip()]
        source = f"BEIR corpus {root}"
    else:
        from indexer.readers import SkipFile, read_file
        from indexer.sync import Candidate, walk

        for item in walk(root, max_bytes=20 * 1024 * 1024):
            if isinstance(item, Candidate):
                try:
                    texts.append(read_file(item.path, max_bytes=20 * 1024 * 1024))
                except (SkipFile, OSError):
                    continue
            if len(texts) >= 4 * max_chunks:
                break
        source = f"folder {root}"
    chunks: list[str] = []
    for text in texts:
        if not text.strip():
            continue
        pieces = chunk_text(text, embedder.token_offsets(text), max_tokens=embedder.max_seq_length - 2, overlap=32)
        chunks.extend(p.text for p in pieces)
        if len(chunks) >= max_chunks:
            break
    chunks = chunks[:max_chunks]
    if not chunks:
        raise FileNotFoundError(f"no text found in {root}")
    queries = [q for q in (" ".join(q.split()) for q in queries) if q]
    if not queries:  # no query file: the first sentence (up to 20 words) of chunks
        rng = random.Random(seed)
        queries = [query_from(c) for c in rng.sample(chunks, min(len(chunks), 2000))]
        queries = [q for q in queries if q]
    if not queries:
        raise FileNotFoundError(f"no words to query with in {root}")
    return Corpus(root.name, chunks, queries, source)


def query_from(chunk: str, *, max_words: int = 20) -> str:
    """The first sentence of ``chunk`` that has a word in it, cut at ``max_words``; "" if it has none.

    A chunk may start with punctuation (". Next sentence", "...", a Markdown rule): the first piece
    before a full stop is then empty or punctuation only, and an empty query is a 422 over HTTP."""
    for sentence in re.split(r"[.!?]\s*", chunk):
        words = sentence.split()
        if any(ch.isalnum() for w in words for ch in w):
            return " ".join(words[:max_words])
    return ""


def unique_queries(queries: Sequence[str]) -> Iterator[str]:
    """An endless stream of distinct query strings (so no cache ever answers a timed query)."""
    n = 0
    while True:
        for q in queries:
            yield q if n == 0 else f"{q} ({n})"
        n += 1


def replicate(vectors: np.ndarray, n: int, *, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors: the given ones, then perturbed copies (Gaussian noise, renormalized)."""
    from indexer.embedding import l2_normalize

    rng = np.random.default_rng(seed)
    reps = math.ceil(n / len(vectors))
    out = np.concatenate([vectors] * reps)[:n].astype(np.float32)
    if n > len(vectors):
        out[len(vectors):] += rng.normal(0, noise / math.sqrt(vectors.shape[1]), out[len(vectors):].shape
                                         ).astype(np.float32)
    return l2_normalize(out)


def clustered_vectors(n: int, dim: int, *, clusters: int = 1000, spread: float = 0.6, seed: int = 0) -> np.ndarray:
    """Synthetic unit vectors in clusters (real embeddings are clustered; uniform noise is not a fair ANN test)."""
    from indexer.embedding import l2_normalize

    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for at in range(0, n, step):
        m = min(step, n - at)
        labels = rng.integers(0, clusters, m)
        out[at : at + m] = centers[labels] + spread * rng.standard_normal((m, dim)).astype(np.float32)
    return l2_normalize(out)
