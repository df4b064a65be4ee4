"""``/collections/NAME/index`` jobs (app/routes/jobs.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.schemas.common import (
    MAX_PATH_CHARS,
    ErrorDetail,
    RequestModel,
)


class IndexFolderRequest(RequestModel):
    path: str = Field(min_length=1, max_length=MAX_PATH_CHARS,
                      description="Server-side folder under an allowed root (SEMSEARCH_ALLOWED_ROOTS); "
                      "relative paths are resolved against the first root", examples=["example"])
    create: bool = Field(True, description="Create the collection if it does not exist")

    @field_validator("path")
    @classmethod
    def _no_nul(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("path must not contain NUL characters")
        return v


JobState = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]


class Job(BaseModel):
    id: str
    collection: str
    kind: str
    params: dict[str, Any]
    state: JobState
    created_at: float
    started_at: float | None
    finished_at: float | None
    files_done: int = 0
    phase: str | None = Field(None, description="starting | waiting (another run is indexing the collection; "
                              "current says which) | walking | indexing | removing | saving | done")
    files_total: int | None = Field(None, description="Files found so far (grows while walking, then fixed)")
    chunks_embedded: int = Field(0, description="Chunks embedded, counting the batch in progress (not yet committed)")
    files_committed: int = Field(0, description="New or changed files whose chunks are all committed")
    chunks_committed: int = Field(0, description="Chunks committed to the collection (they stay if the job stops)")
    bytes_done: int | None = Field(None, description="Bytes of the new and changed files done (committed, or "
                                   "embedded in the batch in progress): what the ETA and the page's bar measure")
    bytes_total: int | None = Field(None, description="Bytes of the new and changed files to do (unchanged files "
                                    "cost nothing); known once the folder is walked")
    chunks_per_second: float | None = None
    eta_seconds: float | None = Field(None, description="Seconds left, from the bytes still to do and the rate so far")
    current: str = Field("", description="The file being read, chunked or embedded; while waiting, who holds the "
                         "collection")
    cancel_requested: bool = False
    report: dict[str, Any] | None = Field(
        None, description="When finished: files added/updated/unchanged/removed/skipped, chunks, skips with reasons")
    error: ErrorDetail | None = None


class JobList(BaseModel):
    jobs: list[Job]
