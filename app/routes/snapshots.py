"""Snapshots of a collection: take one, list, download, delete, restore (``Service.*_snapshot``, the store's
capability: ``StoreBackend.snapshots()``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.responses import FileResponse

from app.deps import ServiceDep
from app.routes import CollectionName, errors
from app.schemas import SNAPSHOT_PATTERN, CollectionInfo, SkippedSnapshot, Snapshot, SnapshotList

router = APIRouter(prefix="/collections/{name}/snapshots", tags=["snapshots"])

SnapshotName = Annotated[str, Path(pattern=SNAPSHOT_PATTERN, min_length=10, max_length=160,
                                   description="Snapshot file name, from GET .../snapshots")]


@router.post("", operation_id="create_snapshot",
             status_code=status.HTTP_201_CREATED, response_model=Snapshot, responses=errors(404, 507))
def take_snapshot(name: CollectionName, service: ServiceDep) -> Snapshot:
    """Take a snapshot now (queries and jobs keep running; it holds every write committed before)."""
    return Snapshot(**service.create_snapshot(name).to_dict())


@router.get("", operation_id="list_snapshots", response_model=SnapshotList, responses=errors(404))
def get_snapshots(name: CollectionName, service: ServiceDep) -> SnapshotList:
    """The collection's snapshots, newest first (also those of a deleted collection); unreadable files are named."""
    skipped: list[dict[str, str]] = []
    found = service.list_snapshots(name, skipped=skipped)
    return SnapshotList(snapshots=[Snapshot(**s.to_dict()) for s in found],
                        skipped=[SkippedSnapshot(**s) for s in skipped])


@router.get("/{snapshot}", operation_id="download_snapshot", response_class=FileResponse, responses={
    200: {"content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
          "description": "The snapshot file (a tar archive)"}, **errors(404)})
def download_snapshot(name: CollectionName, snapshot: SnapshotName, service: ServiceDep) -> FileResponse:
    """Download a snapshot file (restore it on another server with `semsearch snapshot restore`)."""
    return FileResponse(service.snapshot_path(name, snapshot), media_type="application/x-tar", filename=snapshot)


@router.delete("/{snapshot}", operation_id="delete_snapshot",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=errors(404))
def remove_snapshot(name: CollectionName, snapshot: SnapshotName, service: ServiceDep) -> Response:
    """Delete a snapshot file."""
    service.delete_snapshot(name, snapshot)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{snapshot}/restore", operation_id="restore_snapshot",
             response_model=CollectionInfo, responses=errors(404, 409, 507))
def restore(name: CollectionName, snapshot: SnapshotName, service: ServiceDep) -> CollectionInfo:
    """Replace the collection with a snapshot (or bring a deleted one back); whole or not at all (422 bad_snapshot)."""
    return CollectionInfo(**service.restore_snapshot(name, snapshot).to_dict())
