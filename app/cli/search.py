"""``semsearch query``: search a collection, through a running server or in this process."""

from __future__ import annotations

import json
import re
from typing import Any

import typer
from rich.markup import escape

from app.cli.common import COLLECTION_OPT, JSON_OPT, app, command, open_collection, out, print_json, remote, state


@app.command()
@command
def query(
    text: str = typer.Argument(..., help="What to look for"),
    k: int = typer.Option(10, "--k", "-k", min=1, help="Number of hits"),
    mode: str = typer.Option("hybrid", "--mode", help="dense | keyword | hybrid"),
    path_glob: str = typer.Option(None, "--path-glob", help="Only files whose path matches, e.g. 'docs/**'"),
    ext: list[str] = typer.Option([], "--ext", help="Only files with this extension (repeatable)"),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many hits (paging)"),
    explain: bool = typer.Option(False, "--explain", help="Show dense, keyword and fused scores per hit"),
    collection: str = COLLECTION_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Search a collection."""
    name = collection or state.settings.default_collection
    request: dict[str, Any] = {"query": text, "k": k, "offset": offset, "mode": mode, "explain": explain,
                               "filters": {"path_glob": path_glob, "ext": ext}}
    client = remote()
    body = client.query(name, request) if client is not None else _search_here(name, request)
    if as_json:
        print_json(body)
        return
    _print_hits(body, explain=explain)


def _search_here(name: str, request: dict[str, Any]) -> dict[str, Any]:
    """What the server's query route answers, computed in this process."""
    from app.routes.query import query_response, search_options
    from indexer.search import Filters

    f = request["filters"]
    opts = search_options(state.settings, k=request["k"], offset=request["offset"], mode=request["mode"],
                          filters=Filters(path_glob=f["path_glob"], ext=f["ext"]), explain=request["explain"])
    with open_collection(name, create=False) as coll:
        hits = coll.search(request["query"], options=opts)
    return query_response(name, request["query"], opts, hits).model_dump(mode="json")


def _print_hits(body: dict[str, Any], *, explain: bool) -> None:
    if not body["hits"]:
        out.print("no hits")
    for i, h in enumerate(body["hits"], start=body["offset"] + 1):
        snippet = re.sub(r"\*\*(.+?)\*\*", r"[bold yellow]\1[/bold yellow]", escape(h["snippet"]))
        out.print(f"[bold]{i}.[/bold] {h['score']:.4f}  [cyan]{escape(h['id'])}[/cyan]  "
                  f"[dim]chars {h['start']}-{h['end']}[/dim]")
        out.print(f"   {snippet}")
        if explain and h.get("explain"):
            out.print(f"   [dim]{json.dumps(h['explain'])}[/dim]")
