"""Commands about texts and the model: ``embed``, ``compare``, ``explain``."""

from __future__ import annotations

import typer
from rich.markup import escape

from app.cli import common
from app.cli.common import JSON_OPT, app, command, fail, out, print_json, remote, state


@app.command()
@command
def embed(
    texts: list[str] = typer.Argument(..., help="Texts to embed"),
    backend: str = typer.Option(None, "--backend", help="sentence-transformers | minimal (loads the model here)"),
    as_json: bool = JSON_OPT,
) -> None:
    """Print the embedding vectors of texts (JSON: the body of POST /embed)."""
    client = remote() if backend is None else None  # a server runs its own backend only
    if client is not None:
        print_json(client.embed(texts))
        return
    print_json(common.service(backend).embed(texts).model_dump(mode="json"))


@app.command()
@command
def compare(
    texts: list[str] = typer.Argument(..., help="Two or more texts"),
    as_json: bool = JSON_OPT,
) -> None:
    """Cosine similarity of two texts, or the matrix for more (JSON: the body of POST /compare)."""
    if len(texts) < 2:
        fail("compare needs at least two texts")
    client = remote()
    if client is not None:
        body = client.compare(texts)
    else:
        body = common.service().compare(texts).model_dump(mode="json", exclude_none=True)
    if as_json:
        print_json(body)
        return
    m = body["matrix"]
    if len(texts) == 2:
        out.print(f"{body['similarity']:.4f}")
        return
    from rich.table import Table

    table = Table("", *[str(i + 1) for i in range(len(texts))])
    for i, t in enumerate(texts):
        table.add_row(f"{i + 1} {escape(t[:30])}", *[f"{m[i][j]:.3f}" for j in range(len(texts))])
    out.print(table)


@app.command()
@command
def explain(
    text: str = typer.Argument(..., help="A sentence to follow through the model"),
    links: int = typer.Option(5, "--links", min=1, max=50, help="Strongest attention links shown per layer"),
    compare_with: str = typer.Option(None, "--compare", help="Also show which tokens align with this text"),
    as_json: bool = JSON_OPT,
) -> None:
    """Walk through the bundled NumPy transformer: tokens, matrix, attention, FFN, pooling, vector."""
    import numpy as np

    from indexer.embedding import resolve_model
    from indexer.transformer import MiniLM, render_trace_text, token_similarity, trace

    _, path = resolve_model(state.settings.model)
    model = MiniLM.from_pretrained(path)
    tr = trace(model, text)
    pairs = token_similarity(model, text, compare_with) if compare_with else None
    if as_json:
        print_json({**tr, "token_similarity": pairs} if pairs else tr)
        return
    out.print(escape(render_trace_text(tr, links_per_layer=links)))
    if pairs:
        sim = np.asarray(pairs["similarity"])
        out.print(f"\ntoken alignment with {compare_with!r} (best match per token, cosine of final token vectors)")
        for i, tok in enumerate(pairs["tokens_a"]):
            j = int(sim[i].argmax())
            out.print(f"   {escape(tok):>16} -> {escape(pairs['tokens_b'][j]):<16} {sim[i, j]:.3f}")


