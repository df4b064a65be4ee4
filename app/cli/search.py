"""``semsearch query``: search a collection, through a running server or in this process.

Either way the request is the HTTP API's POST body and ``--json`` prints its response body: without a
server the service answers it here with the same check and the same serializer the route uses
(``Service.query_request``, then ``Service.query``).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from app.cli import common
from app.cli.common import COLLECTION_OPT, JSON_OPT, app, command, fail, out, remote, state
from indexer.limits import (
    DEFAULT_FACET_HITS,
    DEFAULT_FACET_TOP,
    DEFAULT_FIELD_BOOST,
    MAX_FACET_DEPTH,
    MAX_FACET_TOP,
    MAX_FIELD_BOOST,
)


def metadata_filter(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs -> the API's metadata filter; a VALUE that reads as a JSON number, true, false
    or null is that (year=2020 matches the number), anything else a string (lang=fr)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(f"--metadata wants KEY=VALUE, not {pair!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        found[key] = value if value is None or isinstance(value, (bool, int, float)) else raw
    return found


def timestamp(value: str | None) -> float | None:
    """--modified-after as the API takes it: unix seconds or ISO 8601 (no zone: local time)."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        fail(f"--modified-after must be unix seconds or ISO 8601 (2024-05-01T12:00), not {value!r}")


# The filters that query and facets both take: the same flags, read the same way.
PATH_GLOB_OPT = typer.Option(None, "--path-glob", help="Only files whose path matches, e.g. 'docs/**'")
EXT_OPT = typer.Option([], "--ext", help="Only files with this extension (repeatable)")
METADATA_OPT = typer.Option([], "--metadata", help="Only files and documents whose metadata KEY equals VALUE: "
                            "KEY=VALUE (repeatable)")
MODIFIED_AFTER_OPT = typer.Option(None, "--modified-after",
                                  help="Only files modified (documents indexed) after: unix time or ISO 8601")
WHERE_OPT = typer.Option(None, "--where", help="The filter language as JSON (docs/filters.md), AND-ed with the "
                         "flags above, e.g. '{\"year\": {\"$gte\": 2024}, \"ext\": {\"$in\": [\"pdf\"]}}'")


def _filters(path_glob: str | None, ext: list[str], metadata: list[str], modified_after: str | None,
             where: str | None) -> dict[str, Any]:
    """The filter flags as the HTTP body's ``filters`` (checked by the one query check, here or on the server)."""
    return {"path_glob": path_glob, "ext": ext, "metadata": metadata_filter(metadata),
            "modified_after": timestamp(modified_after), "where": _where(where)}


@app.command()
@command
def query(
    text: str = typer.Argument(None, help="What to look for (or --like ID)"),
    k: int = typer.Option(10, "--k", "-k", help="Number of hits"),
    mode: str = typer.Option("hybrid", "--mode", help="dense | keyword | hybrid"),
    fusion: str = typer.Option(None, "--fusion", help="How hybrid fuses: relative | rrf (default SEMSEARCH_FUSION)"),
    offset: int = typer.Option(0, "--offset", help="Skip this many hits (paging)"),
    min_similarity: float = typer.Option(None, "--min-similarity",
                                         help="Drop hits whose cosine is below this (-1..1), e.g. 0.3"),
    like: str = typer.Option(None, "--like", help="More like this: a document id or an indexed file's path"),
    path_glob: str = PATH_GLOB_OPT,
    ext: list[str] = EXT_OPT,
    metadata: list[str] = METADATA_OPT,
    modified_after: str = MODIFIED_AFTER_OPT,
    where: str = WHERE_OPT,
    sort: str = typer.Option("relevance", "--sort", help="relevance, or the best 100 hits by modified | path "
                             "(ascending) | -modified | -path (descending), for browsing"),
    field_boost: float = typer.Option(None, "--field-boost", help="Title and file-name matches weigh more in "
                                      f"keyword and hybrid ranking: 0 (off) .. {MAX_FIELD_BOOST}, default "
                                      f"{DEFAULT_FIELD_BOOST}"),
    explain: bool = typer.Option(False, "--explain", help="Show dense, keyword and fused scores per hit"),
    collection: str = COLLECTION_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Search a collection (--json prints exactly the HTTP API's response body)."""
    if like is not None and Path(like).exists():  # a file as hits name it: its absolute path
        like = str(Path(like).expanduser().absolute())
    name = collection or state.settings.default_collection
    request: dict[str, Any] = {
        "query": text, "like": like, "k": k, "offset": offset, "mode": mode, "fusion": fusion,
        "min_similarity": min_similarity, "explain": explain, "sort": sort,
        "field_boost": field_boost,
        "filters": _filters(path_glob, ext, metadata, modified_after, where)}
    client = remote()
    if client is not None:
        body = client.query(name, request)
    else:
        body = json.loads(_search_here(name, request))
    if as_json:
        sys.stdout.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")  # the HTTP bytes
        return
    _print_hits(body, explain=explain)


def _where(text: str | None) -> Any:
    """--where's JSON (checked by the one query check, here or on the server)."""
    from indexer.filters import load_where

    return None if text is None else load_where(text)


@app.command()
@command
def facets(
    field: str = typer.Argument(..., help="ext | folder | year | month | metadata.KEY"),
    top: int = typer.Option(DEFAULT_FACET_TOP, "--top", help=f"How many values to list (at most {MAX_FACET_TOP})"),
    depth: int = typer.Option(1, "--depth", help=f"Folder levels below the indexed folder (at most {MAX_FACET_DEPTH})"),
    text: str = typer.Option(None, "--query", "-q", help="Count only over the best --k hits of this query"),
    k: int = typer.Option(DEFAULT_FACET_HITS, "--k", "-k", help="How many of the query's hits count"),
    mode: str = typer.Option("hybrid", "--mode", help="The query's ranking: dense | keyword | hybrid"),
    path_glob: str = PATH_GLOB_OPT,
    ext: list[str] = EXT_OPT,
    metadata: list[str] = METADATA_OPT,
    modified_after: str = MODIFIED_AFTER_OPT,
    where: str = WHERE_OPT,
    collection: str = COLLECTION_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Count files and documents (not chunks) per value of a field, to see how to narrow a search."""
    name = collection or state.settings.default_collection
    request: dict[str, Any] = {
        "field": field, "top": top, "depth": depth, "query": text, "k": k, "mode": mode,
        "filters": _filters(path_glob, ext, metadata, modified_after, where)}
    client = remote()
    if client is not None:
        body = client.facets(name, request)
    else:
        from indexer.search import Filters

        service = common.service()
        f = request["filters"]
        facet, query_, opts = service.facet_request(  # the one check, before the model loads
            field=field, top=top, depth=depth, query=text, mode=mode, k=k,
            filters=Filters(path_glob=f["path_glob"], ext=f["ext"], metadata=f["metadata"],
                            modified_after=f["modified_after"], where=f["where"]))
        body = service.facets(name, facet, query_, opts)
    if as_json:
        sys.stdout.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")  # the HTTP bytes
        return
    scope = f" among the best {body['hits']} hits of {body['query']!r}" if body.get("query") else ""
    out.print(f"[bold]{escape(body['field'])}[/bold]: {body['sources']} files and documents{escape(scope)}")
    if not body["values"]:
        out.print("no values")
    for v in body["values"]:
        shown = v["value"] if isinstance(v["value"], str) else json.dumps(v["value"])
        out.print(f"{v['count']:>8}  [cyan]{escape(shown)}[/cyan]")


def _search_here(name: str, r: dict[str, Any]) -> str:
    """What the server's query route answers, computed in this process (its JSON text)."""
    from indexer.search import Filters

    service = common.service()
    f = r["filters"]
    query_, opts = service.query_request(  # the one check, before the model loads
        query=r["query"], like=r["like"], k=r["k"], offset=r["offset"], mode=r["mode"],
        fusion=r["fusion"], min_similarity=r["min_similarity"], explain=r["explain"], sort=r["sort"],
        field_boost=r["field_boost"],
        filters=Filters(path_glob=f["path_glob"], ext=f["ext"], metadata=f["metadata"],
                        modified_after=f["modified_after"], where=f["where"]))
    return service.query(name, query_, opts)


def _print_hits(body: dict[str, Any], *, explain: bool) -> None:
    if not body["hits"]:
        floor = body.get("min_similarity")
        out.print("no hits" + (f" with a cosine of at least {floor}" if floor is not None else ""))
    for i, h in enumerate(body["hits"], start=body["offset"] + 1):
        snippet = re.sub(r"\*\*(.+?)\*\*", r"[bold yellow]\1[/bold yellow]", escape(h["snippet"]))
        scores = f"cosine {h['cosine']:.4f}" if h.get("cosine") is not None else ""
        if h.get("keyword") is not None:
            scores += f"  bm25 {h['keyword']:.2f}"
        out.print(f"[bold]{i}.[/bold] {h['score']:.4f}  [dim]{scores}[/dim]  [cyan]{escape(h['id'])}[/cyan]  "
                  f"[dim]chars {h['start']}-{h['end']}[/dim]")
        out.print(f"   {snippet}")
        if h.get("copies"):  # the same content at other paths (stored once)
            n = h["copies"]
            more = f", {n - len(h['also_at'])} more" if n > len(h["also_at"]) else ""
            out.print(f"   [dim]also at {n} other path{'s' if n != 1 else ''}: "
                      f"{escape(', '.join(h['also_at']))}{more}[/dim]", highlight=False)
        if explain and h.get("explain"):
            out.print(f"   [dim]{json.dumps(h['explain'])}[/dim]")
