"""Look inside the model: every intermediate state of one text, as plain JSON-ready data.

`trace(model, text)` walks the same components `MiniLM.encode` runs, one step at a time, and
records what each step produced; a test checks its final vector equals `encode([text])`.
`render_trace_text` turns a trace into a terminal walk-through. Nothing here is needed to
compute embeddings; it exists to explain them (the web page, `GET /model`, docs/transformer.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .model import MiniLM, l2_normalize, mean_pool
from .tokenizer import CLS, PAD, SEP

_SPECIAL = frozenset({CLS, SEP, PAD})


def _per_token(h: np.ndarray) -> dict[str, list[float]]:
    """Summaries of a (T, C) state, one number per token."""
    return {
        "norm": np.linalg.norm(h, axis=-1).tolist(),
        "mean": h.mean(axis=-1).tolist(),
        "std": h.std(axis=-1).tolist(),
    }


def trace(model: MiniLM, text: str) -> dict[str, Any]:
    """Run one text through the model step by step and keep everything (lists, JSON-serializable).

    Shapes, with T tokens, C = 384, H = 12 heads, F = 1536:
      embeddings.word / position / token_type / sum / layernorm: T x C
      layers[i].attention: H x T x T, each row sums to 1
      layers[i].after_attention / output: per-token norm, mean, std (T each)
      layers[i].ffn_active: fraction of the F hidden units with positive input, per token
      pooled, normalized: C
    """
    encoding = model.tokenizer.encode(text)
    ids = np.array([encoding.ids], dtype=np.int64)  # (1, T)
    mask = np.ones_like(ids)  # (1, T): one text, so no padding
    embeddings = model.encoder.embeddings

    word, position, token_type = embeddings.parts(ids)  # (1, T, C), (1, T, C), (1, 1, C)
    summed = word + token_type + position  # (1, T, C)
    embedded = embeddings.LayerNorm(summed)  # (1, T, C): the input to layer 0
    T, C = embedded.shape[1:]

    x = embedded

    layers = []
    for i, layer in enumerate(model.encoder.layers):
        h, weights = layer.attend(x, mask)  # (1, T, C), (1, H, T, T)
        out = layer.feed_forward(h)  # (1, T, C)
        layers.append(
            {
                "index": i,
                "attention": weights[0].tolist(),  # H x T x T
                "after_attention": _per_token(h[0]),
                "ffn_active": (layer.intermediate(h[0]) > 0).mean(axis=-1).tolist(),
                "output": _per_token(out[0]),
                # How far the layer moved each token: 1 - cos(input, output).
                "change": (1 - np.sum(l2_normalize(x[0]) * l2_normalize(out[0]), axis=-1)).tolist(),
            }
        )
        x = out

    pooled = mean_pool(x, mask)  # (1, C)
    normalized = l2_normalize(pooled)  # (1, C)
    config = model.config
    return {
        "text": text,
        "tokens": encoding.tokens,
        "ids": encoding.ids,
        "truncated": encoding.truncated,
        "shapes": {
            "input_ids": [T],
            "embeddings": [T, C],
            "attention": [config.num_attention_heads, T, T],
            "ffn_hidden": [T, config.intermediate_size],
            "pooled": [C],
        },
        "embeddings": {
            "word": word[0].tolist(),
            "position": position[0].tolist(),
            "token_type": np.broadcast_to(token_type[0], (T, C)).tolist(),
            "sum": summed[0].tolist(),
            "layernorm": embedded[0].tolist(),
        },
        "layers": layers,
        "final": _per_token(x[0]),
        "pooled": pooled[0].tolist(),
        "pooled_norm": float(np.linalg.norm(pooled[0])),
        "normalized": normalized[0].tolist(),
        "parameters": parameter_table(model),
    }


def token_similarity(model: MiniLM, text_a: str, text_b: str) -> dict[str, Any]:
    """Cosine similarity between every final token vector of text_a and every one of text_b."""
    vectors_a, vectors_b = model.token_embeddings([text_a, text_b])  # (Ta, C), (Tb, C)
    similarity = l2_normalize(vectors_a) @ l2_normalize(vectors_b).T  # (Ta, Tb)
    return {
        "tokens_a": model.tokenizer.encode(text_a).tokens,
        "tokens_b": model.tokenizer.encode(text_b).tokens,
        "similarity": similarity.tolist(),
    }


def _component(key: str) -> tuple[int | None, str]:
    """Checkpoint key -> (layer index or None, component name) for the parameter table."""
    parts = key.split(".")
    if parts[0] == "embeddings":
        return None, parts[1]  # word_embeddings, position_embeddings, token_type_embeddings, LayerNorm
    if parts[0] == "pooler":
        return None, "pooler"
    rest = ".".join(parts[3:])  # after "encoder.layer.{i}."
    if rest.startswith("attention.output.LayerNorm"):
        name = "attention_layernorm"
    elif rest.startswith("attention."):
        name = "attention"  # query, key, value and the output projection
    elif rest.startswith("output.LayerNorm"):
        name = "ffn_layernorm"
    else:
        name = "ffn"  # intermediate.dense (C -> F) and output.dense (F -> C)
    return int(parts[2]), name


def parameter_table(model: MiniLM) -> dict[str, Any]:
    """Parameter counts per component, summed from the loaded arrays themselves."""
    embeddings: dict[str, int] = {}
    layers: list[dict[str, int]] = [{} for _ in model.encoder.layers]
    pooler = 0
    for key, array in model.encoder.state_dict().items():
        layer, name = _component(key)
        if name == "pooler":
            pooler += array.size
        elif layer is None:
            embeddings[name] = embeddings.get(name, 0) + array.size
        else:
            layers[layer][name] = layers[layer].get(name, 0) + array.size
    for group in [embeddings, *layers]:
        group["total"] = sum(group.values())
    return {
        "embeddings": embeddings,
        "layers": layers,
        "pooler": pooler,  # BERT's [CLS] head: in the checkpoint, unused by mean pooling
        "total": embeddings["total"] + sum(g["total"] for g in layers) + pooler,
    }


def architecture(model: MiniLM) -> dict[str, Any]:
    """What the model is, for `GET /model`: shapes, limits, pooling and the parameter table."""
    c = model.config
    return {
        "name": model.name,
        "implementation": "numpy",
        "embedding_dim": c.hidden_size,
        "max_seq_length": model.tokenizer.max_length,
        "vocab_size": c.vocab_size,
        "num_layers": c.num_hidden_layers,
        "num_heads": c.num_attention_heads,
        "head_dim": c.head_dim,
        "ffn_dim": c.intermediate_size,
        "max_position_embeddings": c.max_position_embeddings,
        "layer_norm_eps": c.layer_norm_eps,
        "activation": "gelu (erf)",
        "pooling": "mean over non-padding tokens",
        "normalized": True,
        "parameters": parameter_table(model),
    }


def top_links(attention: np.ndarray, tokens: list[str], k: int = 5) -> list[tuple[str, str, float]]:
    """The k strongest token -> token links of one layer, averaged over heads.

    [CLS], [SEP] and self-links are left out: many heads park their attention there, which says
    little about how the words of the text relate.
    """
    weights = np.asarray(attention).mean(axis=0)  # (H, T, T) -> (T, T)
    keep = np.array([t not in _SPECIAL for t in tokens])
    weights = np.where(keep[:, None] & keep[None, :] & ~np.eye(len(tokens), dtype=bool), weights, -1.0)
    links = []
    for flat in np.argsort(weights, axis=None)[::-1][:k]:
        i, j = np.unravel_index(flat, weights.shape)
        if weights[i, j] < 0:
            break
        links.append((f"{tokens[i]}#{i}", f"{tokens[j]}#{j}", float(weights[i, j])))
    return links


def render_trace_text(tr: dict[str, Any], *, links_per_layer: int = 5) -> str:
    """A terminal walk-through of a trace: tokens, shapes, attention links, pooling, parameters."""
    tokens: list[str] = tr["tokens"]
    emb = {name: np.asarray(values) for name, values in tr["embeddings"].items()}
    T, C = emb["word"].shape
    heads = tr["shapes"]["attention"][0]
    lines = [f"text: {tr['text']!r}", f"{T} tokens" + (" (truncated)" if tr["truncated"] else "")]
    lines += ["", "1. tokens and ids"]
    lines += [
        f"   {i:>3} {tok:<16} {tid:>6}" for i, (tok, tid) in enumerate(zip(tokens, tr["ids"], strict=True))
    ]

    lines += ["", f"2. input matrix ({T} x {C}) = word + position + token type, then LayerNorm"]
    lines.append(f"   {'token':<16} {'|word|':>7} {'|pos|':>7} {'|type|':>7} {'|sum|':>7} {'|norm|':>7}")
    norms = {name: np.linalg.norm(m, axis=-1) for name, m in emb.items()}
    for i, tok in enumerate(tokens):
        row = [norms[n][i] for n in ("word", "position", "token_type", "sum", "layernorm")]
        lines.append(f"   {tok:<16} " + " ".join(f"{v:7.3f}" for v in row))

    lines += [
        "",
        f"3. {len(tr['layers'])} layers: attention ({heads} heads x {T} x {T}) -> FFN, each post-LayerNorm",
    ]
    for layer in tr["layers"]:
        change = np.mean(layer["change"])
        active = np.mean(layer["ffn_active"])
        lines.append(
            f"   layer {layer['index']}: mean change 1-cos = {change:.3f}, FFN units active {active:.0%}"
        )
        for src, dst, weight in top_links(np.asarray(layer["attention"]), tokens, links_per_layer):
            lines.append(f"      {src:>18} -> {dst:<18} {weight:.3f}")

    normalized = np.asarray(tr["normalized"])
    lines += ["", f"4. mean pooling over {T} tokens: |pooled| = {tr['pooled_norm']:.4f}"]
    lines.append(f"5. L2 normalization: |v| = {np.linalg.norm(normalized):.4f}")
    lines.append("   v[:8] = [" + ", ".join(f"{x:+.4f}" for x in normalized[:8]) + ", ...]")

    lines += ["", "parameters"]
    lines.append(render_parameter_table(tr["parameters"]))
    return "\n".join(lines)


def render_parameter_table(params: dict[str, Any]) -> str:
    """The parameter table as aligned text, one row per component."""
    rows: list[tuple[str, int]] = [
        (f"embeddings.{k}", v) for k, v in params["embeddings"].items() if k != "total"
    ]
    for i, layer in enumerate(params["layers"]):
        rows += [(f"layer {i}.{k}", v) for k, v in layer.items() if k != "total"]
    rows += [("pooler (unused)", params["pooler"]), ("total", params["total"])]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"   {name:<{width}} {count:>12,}" for name, count in rows)
