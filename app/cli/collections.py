"""``semsearch collections [list|info|create|delete|reindex]``: the HTTP API's /collections routes, on the CLI.

Each subcommand but ``reindex`` asks a running server when there is one (see app.client), else works
on the store directly; ``--json`` prints the route's response body either way.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.markup import escape

from app.cli import common
from app.cli.common import app, command, err, fail, out, print_json, remote, state
from app.settings import IndexType

group = typer.Typer(help="List, inspect, create and delete collections.", no_args_is_help=False)
app.add_typer(group, name="collections")

READ_HERE = "reading the data folder"
NAME_ARG = typer.Argument(..., help="Collection name (1-64 letters, digits, '_', '-' or '.'; "
                          "not a Windows device name such as CON or LPT1)")


@group.callback(invoke_without_command=True)
@command
def collections(ctx: typer.Context) -> None:
    """List collections with counts, model and size on disk (the same as `collections list`)."""
    if ctx.invoked_subcommand is None:
        _list()


@group.command("list")
@command
def list_() -> None:
    """List collections with counts, model and size on disk."""
    _list()


def _list() -> None:
    client = remote(READ_HERE)
    why: dict[str, str] = {}  # damaged name -> reason (a server lists names only)
    if client is not None:
        body = client.list_collections()
    else:
        found, why = common.service().scan()
        body = {"collections": [i.to_dict() for i in found], "damaged": list(why)}  # GET /collections' body
    if state.as_json:
        print_json(body)
        return
    infos, damaged = body["collections"], body.get("damaged", [])
    if not infos and not damaged:
        out.print("no collections" if client is not None else f"no collections in {state.settings.data_dir}")
        return
    from rich.table import Table

    table = Table("name", "files", "documents", "chunks", "model", "dim", "index", "size")
    for i in infos:
        table.add_row(i["name"], str(i["files"]), str(i["documents"]), str(i["chunks"]), i["model"],
                      str(i["dimension"]), i["index_type"], f"{i['size_bytes'] / 1e6:.1f} MB")
    for name in damaged:
        table.add_row(escape(name), "DAMAGED", "-", "-", "-", "-", "-", "-")
    out.print(table)
    for name in damaged:
        reason = why.get(name) or f"collection {name!r}: its catalog cannot be read"
        err.print(f"[red]damaged:[/red] {escape(reason)}")


@group.command()
@command
def info(name: str = NAME_ARG) -> None:
    """One collection's counts, model, dimension, index type and size."""
    client = remote(READ_HERE)
    if client is not None:
        body = client.collection_info(name)
    else:
        body = common.service().read_info(name).to_dict()
    _print_info(body)


@group.command()
@command
def create(
    name: str = NAME_ARG,
    index_type: IndexType = typer.Option(None, "--index-type", help="flat (exact) | hnsw (approximate); "
                                         "default SEMSEARCH_INDEX_TYPE"),
    language: str = typer.Option(None, "--language", help="keyword search language: en, de, fr, es, zh ... | "
                                 "auto (detected per document); default SEMSEARCH_LANGUAGE"),
) -> None:
    """Create an empty collection for the configured model."""
    client = remote()
    if client is not None:
        body = client.create_collection(name, index_type=index_type, language=language)
    else:
        body = common.service().create_and_close(name, index_type=index_type, language=language).to_dict()
    _print_info(body, created=True)


@group.command()
@command
def delete(
    name: str = NAME_ARG,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation"),
) -> None:
    """Delete a collection and its files, also when its catalog is damaged (asks first, unless --yes;
    its snapshots are kept)."""
    client = remote(READ_HERE)
    what = _describe_for_delete(client, name)  # a missing collection fails before the question
    if not yes:
        _confirm(f"Delete collection {name!r} ({what})?", f"deleting collection {name!r}", "not deleted")
    if client is not None:
        client.delete_collection(name)
    else:
        common.service().drop_collection(name)
    if state.as_json:
        print_json({"deleted": name})
    else:
        out.print(f"deleted collection {name}")


def _confirm(question: str, doing: str, refused: str) -> None:
    """Ask on the terminal; without one (a script), refuse: such commands need --yes there."""
    if not sys.stdin.isatty():
        fail(f"not {doing} without confirmation: stdin is not a terminal (pass --yes)")
    # Not typer.confirm: click's prompt echoes part of itself on stdout, which must stay clean.
    err.print(f"{question} [y/N] ", end="", markup=False)
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        fail(refused)


def _describe_for_delete(client: Any, name: str) -> str:
    """What the confirmation question shows; a damaged collection is described as such (it can
    still be deleted), a missing one is an error."""
    if client is not None:
        if name not in client.list_collections().get("damaged", []):
            body = client.collection_info(name)
            return f"{body['files']} files, {body['documents']} documents, {body['chunks']} chunks"
        return "damaged: its catalog cannot be read"
    from indexer.errors import CorruptCollection

    try:
        i = common.service().read_info(name)
    except CorruptCollection as e:
        return f"damaged: {e.message}"
    return f"{i.files} files, {i.documents} documents, {i.chunks} chunks"


def _print_info(body: dict[str, Any], *, created: bool = False) -> None:
    if state.as_json:
        print_json(body)
        return
    if created:
        out.print(f"created collection {body['name']}")
    for key in ("name", "model", "dimension", "index_type", "files", "documents", "chunks"):
        out.print(f"{key + ':':<12} {body[key]}")
    if "language" in body:  # (a server of an older version does not say)
        legacy = " (legacy keyword index: English, made before languages)" if body.get("keyword_index") == "legacy" \
            else ""
        out.print(f"{'language:':<12} {body['language']}{legacy}")
    out.print(f"{'size:':<12} {body['size_bytes'] / 1e6:.1f} MB")


@group.command()
@command
def reindex(
    name: str = NAME_ARG,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation"),
) -> None:
    """Re-embed a collection with the configured model (SEMSEARCH_MODEL) and swap it in while searches
    go on (Qdrant store; writes wait until it ends). Runs here, not on a server: a server keeps the
    model it started with."""
    s = state.settings
    before = common.service().read_info(name)  # a missing collection fails before the model loads
    if not yes:
        _confirm(f"Re-index collection {name!r} ({before.chunks} chunks, {before.model}) with {s.model}?",
                 f"re-indexing collection {name!r}", "not re-indexed")

    def tell(p: dict[str, Any]) -> None:
        if not state.as_json:
            err.print(f"\rcopying: {p['sources_done']}/{p['sources_total']} sources", end="", markup=False)

    report = common.service().reindex(name, progress=tell)
    if state.as_json:
        print_json(report.to_dict())
        return
    err.print("", markup=False)
    out.print(f"re-indexed collection {escape(name)}: {report.sources} sources, {report.chunks} chunks with "
              f"{escape(report.model)} (was {escape(report.previous_model)}) in {report.seconds:.1f} s")
