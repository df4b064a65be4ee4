"""Folder indexing as background jobs: start one, watch its progress, cancel it."""

from __future__ import annotations

import os
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.deps import JobsDep, ServiceDep
from app.routes import CollectionName, errors
from app.schemas import IndexFolderRequest, Job, JobList, JobState
from indexer.errors import InvalidInput, PathNotAllowed
from indexer.walk import PinnedRoot, path_key

router = APIRouter(tags=["jobs"])

JobId = Annotated[str, Path(min_length=1, max_length=64, description="Job id from POST .../index-folder")]


def resolve_folder(raw: str, roots: list[PinnedRoot]) -> FsPath:
    """The real path of ``raw`` if it lies inside an allowed root; relative paths start at the first root.

    Symlinks and ``..`` are resolved before the check, so neither can lead outside a root. The roots
    were resolved once at start-up (``app.state.roots``); a root that leads elsewhere now is refused."""
    named = ", ".join(path_key(r.real) for r in roots)
    p = FsPath(raw)
    real = FsPath(os.path.realpath(p if p.is_absolute() else roots[0].real / p))
    root = next((r for r in roots if r.holds(real)), None)
    if root is None:
        raise PathNotAllowed(f"{raw!r} is outside the folders this server may index: {named} "
                             "(SEMSEARCH_ALLOWED_ROOTS).", field="path")
    root.check()
    if not real.is_dir():
        raise InvalidInput(f"{raw!r} is not a folder on the server (allowed roots: {named}).", field="path")
    return real


def pinned_roots(request: Request) -> list[PinnedRoot]:
    """The allowed roots as pinned when the app was built (see ``create_app``)."""
    roots: list[PinnedRoot] = request.app.state.roots
    return roots


def _job(data: dict[str, Any]) -> Job:
    return Job(**data)


@router.post("/collections/{name}/index-folder", operation_id="index_folder",
             status_code=status.HTTP_202_ACCEPTED, response_model=Job,
             responses=errors(403, 404, 409, 507))
def index_folder(name: CollectionName, body: IndexFolderRequest, response: Response, service: ServiceDep,
                 roots: Annotated[list[PinnedRoot], Depends(pinned_roots)]) -> Job:
    """Index a server-side folder in the background (new, changed and deleted files); returns the job."""
    folder = resolve_folder(body.path, roots)
    # the roots are checked again when the job starts
    job = service.submit_index_folder(name, folder, create=body.create,
                                      recheck=lambda: resolve_folder(str(folder), roots))
    response.headers["Location"] = f"/jobs/{job.id}"
    return _job(job.to_dict())


@router.get("/jobs", operation_id="list_jobs", response_model=JobList, responses=errors())
def list_jobs(jobs: JobsDep,
              collection: Annotated[str | None, Query(max_length=64, description="Only this collection's")] = None,
              state: Annotated[JobState | None, Query(description="Only jobs in this state")] = None) -> JobList:
    """Jobs of every worker process, kept in the data folder (all unfinished, the last 200 finished), newest first."""
    return JobList(jobs=[_job(j.to_dict()) for j in jobs.list_jobs(key=collection, state=state)])


@router.get("/jobs/{job_id}", operation_id="get_job", response_model=Job, responses=errors(404))
def get_job(job_id: JobId, jobs: JobsDep) -> Job:
    """A job's state, files and chunks done / total, rate, ETA; its report and errors when finished."""
    return _job(jobs.get(job_id).to_dict())


@router.delete("/jobs/{job_id}", operation_id="cancel_job", response_model=Job, responses=errors(404))
def cancel_job(job_id: JobId, jobs: JobsDep) -> Job:
    """Cancel a job (from any worker): a queued one ends now, a running one after the batch in progress."""
    return _job(jobs.cancel(job_id).to_dict())


@router.post("/jobs/{job_id}/cancel", operation_id="cancel_job_post", response_model=Job, responses=errors(404))
def cancel_job_post(job_id: JobId, jobs: JobsDep) -> Job:
    """Same as DELETE /jobs/{job_id}."""
    return _job(jobs.cancel(job_id).to_dict())
