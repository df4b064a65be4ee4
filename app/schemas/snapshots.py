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


class SkippedSnapshot(BaseModel):
    name: str = Field(description="A file in the snapshot folder that is not a readable snapshot")
    reason: str = Field(description="Why it was skipped (damaged, not a tar, a manifest field of the wrong type ...)")


class SnapshotList(BaseModel):
    snapshots: list[Snapshot] = Field(description="Newest first")
    skipped: list[SkippedSnapshot] = Field(default_factory=list,
                                           description="Files left out of the list because they cannot be read")
