"""``semsearch snapshot create|list|restore``: the HTTP API's /collections/NAME/snapshots routes, on
the CLI - the backup procedure (README "Backups").

With a running server the command goes through it, so a restore waits for the collection's readers
and refuses while jobs run (409); without one it works on the data folder directly. Taking a snapshot
is safe either way (the store copies a consistent state while writers go on). The work is the
service's (``Service.*_snapshot``), as for the HTTP routes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from app.cli.common import app, command, fail, out, print_json, remote, service, state

group = typer.Typer(no_args_is_help=True, help="Snapshots of a collection: the backup procedure.")
app.add_typer(group, name="snapshot")

NAME_ARG = typer.Argument(..., help="Collection name")
READ_HERE = "reading the data folder"


def _print(s: dict[str, Any]) -> None:
    out.print(f"{escape(s['name'])}  {s['chunks']} chunks, catalog at write {s['catalog_seq']}, "
              f"{s['size_bytes'] / 1e6:.1f} MB")


@group.command("create")
@command
def create(name: str = NAME_ARG) -> None:
    """Take a snapshot (safe while a server queries and indexes the collection)."""
    client = remote(READ_HERE)
    if client is not None:
        body = client.create_snapshot(name)
    else:
        _files_only("a snapshot")
        body = service().create_snapshot(name, checkpoint=False).to_dict()
    if state.as_json:
        print_json(body)
    else:
        _print(body)


@group.command("list")
@command
def list_(name: str = NAME_ARG) -> None:
    """List a collection's snapshots, newest first."""
    client = remote(READ_HERE)
    if client is not None:
        body = client.list_snapshots(name)
    else:
        skipped: list[dict[str, str]] = []
        found = service().list_snapshots(name, known=False, skipped=skipped)
        body = {"snapshots": [s.to_dict() for s in found], "skipped": skipped}
    if state.as_json:
        print_json(body)
        return
    if not body["snapshots"]:
        out.print(f"no snapshots of {escape(name)}")
    for s in body["snapshots"]:
        _print(s)
    for s in body.get("skipped", []):
        out.print(f"skipped {escape(s['name'])}: {escape(s['reason'])}")


@group.command("restore")
@command
def restore(
    name: str = typer.Argument(..., help="Collection to replace (or bring back)"),
    snapshot: str = typer.Argument(..., help="A snapshot name from `snapshot list`, or a .snapshot file's path"),
) -> None:
    """Replace a collection with a snapshot, whole or not at all (--json: the collection's info, the
    body of POST /collections/NAME/snapshots/SNAPSHOT/restore)."""
    client = remote()
    if client is not None:
        if Path(snapshot).name != snapshot:
            fail(f"snapshot {snapshot!r}: a server restores only snapshots it lists (`semsearch snapshot list "
                 f"{name}`); to restore a file, stop the server or pass --server none")
        body = client.restore_snapshot(name, snapshot)
    else:
        _files_only("a snapshot restore")
        body = service().restore_snapshot(name, Path(snapshot) if Path(snapshot).is_file() else snapshot).to_dict()
    if state.as_json:
        print_json(body)
    else:
        out.print(f"restored {escape(name)} from {escape(Path(snapshot).name)} ({body['chunks']} chunks)")


def _files_only(what: str) -> None:
    """The store's NotSupported for ``what``, asked of its class: no connection to a Qdrant server."""
    state.settings.store_backend_type().require_files(what)
