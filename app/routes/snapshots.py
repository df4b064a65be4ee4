"""Snapshots of a collection: take one, list, download, delete, restore (see indexer/stores/embedded/snapshots.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.responses import FileResponse

from app.deps import CollectionsDep, JobsDep
from app.errors import CollectionBusy
from app.routes import CollectionName, errors
from app.schemas import SNAPSHOT_PATTERN, CollectionInfo, Snapshot, SnapshotList
from indexer.errors import CollectionNotFound
from indexer.stores.embedded.snapshots import (
    create_snapshot,
    delete_snapshot,
    list_snapshots,
    restore_snapshot,
    snapshot_path,
    snapshots_dir,
)

router = APIRouter(prefix="/collections/{name}/snapshots", tags=["snapshots"])

SnapshotName = Annotated[str, Path(pattern=SNAPSHOT_PATTERN, min_length=10, max_length=160,
                                   description="Snapshot file name, from GET .../snapshots")]


@router.post("", operation_id="create_snapshot",
             status_code=status.HTTP_201_CREATED, response_model=Snapshot, responses=errors(404))
def take_snapshot(name: CollectionName, collections: CollectionsDep) -> Snapshot:
    """Take a snapshot now (queries and jobs keep running; it holds every write committed before)."""
    collections.require_files("a snapshot")
    with collections.lease(name) as coll:  # a delete waits for the snapshot to finish
        coll.checkpoint()  # a recent vector file: less change log to replay after a restore
        info = create_snapshot(collections.data_dir, name)
    return Snapshot(**info.to_dict())


@router.get("", operation_id="list_snapshots", response_model=SnapshotList, responses=errors(404))
def get_snapshots(name: CollectionName, collections: CollectionsDep) -> SnapshotList:
    """The collection's snapshots, newest first (also those of a deleted collection)."""
    if name not in collections.names() and not snapshots_dir(collections.data_dir, name).is_dir():
        raise CollectionNotFound(name)
    return SnapshotList(snapshots=[Snapshot(**s.to_dict()) for s in list_snapshots(collections.data_dir, name)])


@router.get("/{snapshot}", operation_id="download_snapshot", response_class=FileResponse, responses={
    200: {"content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
          "description": "The snapshot file (a tar archive)"}, **errors(404)})
def download_snapshot(name: CollectionName, snapshot: SnapshotName, collections: CollectionsDep) -> FileResponse:
    """Download a snapshot file (restore it on another server with `semsearch snapshot restore`)."""
    return FileResponse(snapshot_path(collections.data_dir, name, snapshot), media_type="application/x-tar",
                        filename=snapshot)


@router.delete("/{snapshot}", operation_id="delete_snapshot",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=errors(404))
def remove_snapshot(name: CollectionName, snapshot: SnapshotName, collections: CollectionsDep) -> Response:
    """Delete a snapshot file."""
    delete_snapshot(collections.data_dir, name, snapshot)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{snapshot}/restore", operation_id="restore_snapshot",
             response_model=CollectionInfo, responses=errors(404, 409))
def restore(name: CollectionName, snapshot: SnapshotName, collections: CollectionsDep,
            jobs: JobsDep) -> CollectionInfo:
    """Replace the collection with a snapshot (or bring a deleted one back); whole or not at all."""
    collections.require_files("a snapshot restore")
    path = snapshot_path(collections.data_dir, name, snapshot)  # 404 before anything closes
    if jobs.active(name):
        raise CollectionBusy(f"Collection {name!r} has queued or running jobs; cancel them (DELETE /jobs/ID) "
                             "before restoring.", field="name")
    with collections.exclusive(name):
        restore_snapshot(collections.data_dir, name, path)
    return CollectionInfo(**collections.info(name).to_dict())
