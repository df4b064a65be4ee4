"""All configuration in one object: environment variables prefixed ``SEMSEARCH_`` (or a ``.env`` file).

The CLI and the HTTP service build the same ``Settings``; command-line flags override fields.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.collection import Limits

# The model loads from a local folder; transformers must never try the hub (set before it is imported).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def model_cache_dir(setting: str = "") -> Path | None:
    """Where converted model graphs are kept: ``setting`` (SEMSEARCH_MODEL_CACHE), else
    ``$XDG_CACHE_HOME/semsearch``, else ``~/.cache/semsearch``; ``off`` (or no home folder): no cache."""
    raw = setting.strip()
    if raw.lower() == "off":
        return None
    if raw:
        return Path(raw).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        return (Path(xdg) if xdg else Path.home() / ".cache") / "semsearch"
    except RuntimeError:  # no home folder to be found: no cache
        return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEMSEARCH_", env_file=".env", extra="ignore")

    # storage and model
    data_dir: Path = Field(Path("./data"), description="Folder holding collections (SQLite + FAISS files)")
    model: str = Field("sentence-transformers/all-MiniLM-L6-v2",
                       description="Embedding model: the bundled default, or a local sentence-transformers folder")
    backend: str = Field("sentence-transformers", description="sentence-transformers | minimal (NumPy)")
    precision: str = Field("auto", description="auto (bf16 bulk embedding where the CPU has it) | fp32 | bf16")
    engine: str = Field("auto", description="auto | openvino | torch | encode: how the sentence-transformers "
                        "backend runs the model (auto picks the fastest one that reproduces encode())")
    model_cache: str = Field("", description="Folder for converted model graphs (default "
                             "$XDG_CACHE_HOME/semsearch or ~/.cache/semsearch); off: convert at every load")
    default_collection: str = Field("default", description="Collection used when none is named")
    index_type: str = Field("flat", description="Index type for new collections: flat (exact) | hnsw")

    # indexing limits
    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Files larger than this are skipped")
    chunk_overlap: int = Field(32, ge=0, le=128, description="Tokens shared by consecutive chunks")
    batch_chunks: int = Field(256, ge=1, le=100_000, description="Chunks embedded and committed together")
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Texts per model forward pass")

    # HTTP service
    host: str = Field("127.0.0.1", description="Address the server binds")
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Comma-separated bearer keys; empty = no auth")
    allowed_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Comma-separated folders the API may index; default <data_dir>/docs")
    max_texts: int = Field(256, ge=1, description="Texts per embed/compare request")
    max_text_chars: int = Field(100_000, ge=1, description="Characters per text")
    max_query_chars: int = Field(2_000, ge=1, description="Characters per query")
    max_k: int = Field(1000, ge=1, description="Largest k (and offset + limit) a query may ask for")
    max_documents: int = Field(1000, ge=1, description="Documents per upsert request")
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Largest request body")
    max_explain_chars: int = Field(300, ge=1, le=10_000,
                                   description="Characters per text for /explain (a trace grows with tokens squared)")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, v: object) -> object:
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    def limits(self) -> Limits:
        return Limits(max_file_bytes=self.max_file_bytes, chunk_overlap=self.chunk_overlap,
                      batch_chunks=self.batch_chunks, embed_batch_size=self.embed_batch_size)

    def roots(self) -> list[Path]:
        """The folders the API may index, resolved (symlinks followed)."""
        roots = self.allowed_roots or [self.data_dir / "docs"]
        return [Path(r).expanduser().resolve() for r in roots]
