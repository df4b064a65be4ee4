"""Shared fixtures: the real bundled model (loaded once per session) and a private data folder."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Converted model graphs go to a cache of this run, not the user's ~/.cache (the first load fills it).
os.environ["SEMSEARCH_MODEL_CACHE"] = tempfile.mkdtemp(prefix="semsearch-test-model-cache-")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    """The real default model (sentence-transformers backend), shared by every test that embeds."""
    from indexer.embedder import load_embedder

    return load_embedder()


@pytest.fixture
def tmp_data_dir(tmp_path):
    """An empty data folder (collections go under it) with an empty ``docs/`` inside."""
    data = tmp_path / "data"
    (data / "docs").mkdir(parents=True)
    return data
