"""``/collections/NAME/snapshots`` (app/routes/snapshots.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field

SNAPSHOT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,150}\.snapshot$"


class Snapshot(BaseModel):
    name: str = Field(description="File name under <data>/snapshots/<collection>/")
    collection: str = Field(description="The collection it was taken of")
    created: float
    size_bytes: int
    catalog_seq: int = Field(description="The catalog write the snapshot holds")
    vectors_seq: int | None = Field(description="The write its vector file reflects (None: rebuilt on restore)")
    chunks: int
    model: str
    dimension: int
    index_type: str


class SnapshotList(BaseModel):
    snapshots: list[Snapshot] = Field(description="Newest first")
