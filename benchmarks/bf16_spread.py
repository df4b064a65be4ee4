"""How far bf16 rounding alone moves SciFact dense nDCG@10: the fast path itself, then models of bf16's
precision whose roundings fall differently ("draws"), each against fp32 everywhere.

    make eval-precision                       # once: SciFact indexed in fp32 (collection beir-scifact-fp32)
    .venv/bin/python benchmarks/bf16_spread.py [--draws 6] [--data-dir data]

The first row is the fast path as it runs (OpenVINO, bf16). The draws run the model in fp32 torch and
round to bf16 where OpenVINO's bf16 graph does: every weight matrix, the input and output of every
matrix product, the attention probabilities and the attention output (LayerNorm, residual adds and
pooling stay fp32). Draw 0 rounds as is; draw s > 0 rounds each of those tensors at a random scale,
``bf16(t * c) / c`` with c in [1, 2) per tensor: the same model in exact arithmetic, with rounding
errors of the same size falling elsewhere. Documents are batched as the bulk path batches them,
queries run one by one; rankings are scored like ``semsearch eval`` (a document scores its best
chunk). To save time the draws embed only the chunks that could reach some query's top 10: those
whose fp32 score is within ``--margin`` (0.02) of that query's 10th document score or above it; the
rest keep their fp32 vectors. bf16 moves a score by ~5e-4 (the largest vector error, 0.006, bounds
it), and the first row checks that the shortcut gives the same nDCG as embedding everything. Each
row prints its error against the fp32 vectors and its nDCG@10 delta, with bf16 queries
and (docs only) with fp32 queries, then the spread of the deltas.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Rounder = Callable[[str, Any], Any]


def rounder(seed: int) -> Rounder:
    """``round(name, tensor)``: the tensor rounded to bf16 (returned in fp32); for ``seed`` > 0 at a scale
    c in [1, 2) drawn once per name, then divided by c again."""
    import torch

    rng = np.random.default_rng(seed)
    scales: dict[str, float] = {}

    def round_(name: str, t: Any) -> Any:
        if seed == 0:
            return t.to(torch.bfloat16).to(torch.float32)
        c = scales.setdefault(name, float(rng.uniform(1.0, 2.0)))
        return (t * c).to(torch.bfloat16).to(torch.float32) / c

    return round_


class EmulatedBert:
    """A BERT encoder with mean pooling in fp32 torch, rounding to bf16 at the points OpenVINO's bf16
    graph computes in bf16 (``rnd``, from :func:`rounder`; None = fp32 throughout)."""

    def __init__(self, hf: Any) -> None:
        cfg = hf.config
        self.heads, self.dim = cfg.num_attention_heads, cfg.hidden_size
        self.hf = hf

    def weights(self, rnd: Rounder | None) -> list[dict[str, Any]]:
        layers = []
        for i, layer in enumerate(self.hf.encoder.layer):
            a, o = layer.attention.self, layer.attention.output
            mods = {"q": a.query, "k": a.key, "v": a.value, "o": o.dense, "i": layer.intermediate.dense,
                    "2": layer.output.dense}
            ws = {n: ((rnd(f"{i}.{n}.w", m.weight.detach()) if rnd else m.weight.detach()), m.bias.detach())
                  for n, m in mods.items()}
            ws["ln1"], ws["ln2"] = o.LayerNorm, layer.output.LayerNorm
            layers.append(ws)
        return layers

    def __call__(self, ids: Any, mask: Any, layers: list[dict[str, Any]], rnd: Rounder | None) -> Any:
        import torch
        import torch.nn.functional as F

        emb = self.hf.embeddings
        b, n = ids.shape
        h, d = self.heads, self.dim
        x = emb.LayerNorm(emb.word_embeddings(ids) + emb.position_embeddings.weight[:n]
                          + emb.token_type_embeddings.weight[0])
        masked = ~mask[:, None, None, :].bool()

        def r(name: str, t: Any) -> Any:
            return rnd(name, t) if rnd else t

        def linear(t: Any, li: int, name: str) -> Any:
            w, bias = layers[li][name]
            return r(f"{li}.{name}.y", r(f"{li}.{name}.x", t) @ w.T) + bias

        for li, ws in enumerate(layers):
            q, k, v = (linear(x, li, p).view(b, n, h, d // h).transpose(1, 2) for p in "qkv")
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(d // h)
            probs = r(f"{li}.p", torch.softmax(scores.masked_fill(masked, -1e9), -1))
            att = r(f"{li}.a", (probs @ v).transpose(1, 2).reshape(b, n, d))
            x = ws["ln1"](linear(att, li, "o") + x)
            x = ws["ln2"](linear(F.gelu(linear(x, li, "i")), li, "2") + x)
        m = mask.unsqueeze(-1).to(x.dtype)
        return (x * m).sum(1) / m.sum(1)


def _fp32_collection(data_dir: Path, name: str) -> tuple[list[str], list[str], np.ndarray]:
    """(document key, chunk text, fp32 vector) of every chunk, in a fixed order."""
    path = data_dir / "collections" / name / "catalog.sqlite3"
    if not path.is_file():
        raise SystemExit(f"no collection {name!r} in {data_dir} ({path} missing): run `make eval-precision` first")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT s.key, c.text, c.vector FROM chunks c JOIN sources s ON s.id = c.source_id "
                          "ORDER BY s.key, c.ord").fetchall()
    return [r[0] for r in rows], [r[1] for r in rows], np.vstack([np.frombuffer(r[2], np.float32) for r in rows])


def _batches(ids_list: Sequence[Sequence[int]], window: int) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
    """Documents batched as the bulk path batches them (``embed`` with its default batch size, 32)."""
    from indexer.embedding import padded_batches

    return list(padded_batches(ids_list, 32 * window, max_rows=8 * 32, window=window))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=6, help="emulated models (default 6: draw 0 to 5)")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SEMSEARCH_DATA_DIR") or ROOT / "data"))
    p.add_argument("--collection", default="beir-scifact-fp32", help="the fp32 SciFact collection")
    p.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    p.add_argument("--tolerance", type=float, default=0.002)
    p.add_argument("--margin", type=float, default=0.02, help="score band below each query's 10th document")
    args = p.parse_args(argv)

    import torch

    from indexer.embedding import cpu_has_bf16, l2_normalize, load_embedder
    from indexer.evaluation import evaluate, load_beir

    keys, texts, ref = _fp32_collection(args.data_dir, args.collection)
    ds = load_beir(args.dataset)
    qids = sorted(ds.qrels)
    qtexts = [ds.queries[q] for q in qids]
    embedder: Any = load_embedder()
    q_fp32 = l2_normalize(embedder.embed_queries(qtexts, exact=True))
    tok = embedder._embed_tokenizer  # truncates at the model's window, as the bulk path does
    query_ids = [e.ids for e in tok.encode_batch(qtexts)]
    uniq, owner = np.unique(np.array(keys), return_inverse=True)
    band = np.zeros(len(texts), dtype=bool)
    for row in q_fp32 @ ref.T:
        best = np.full(len(uniq), -np.inf, dtype=np.float32)
        np.maximum.at(best, owner, row)
        band |= row >= np.sort(best)[-10] - args.margin
    in_band = np.flatnonzero(band)
    doc_batches = _batches([e.ids for e in tok.encode_batch([texts[i] for i in in_band])], embedder.max_seq_length)

    def ndcg(queries: np.ndarray, chunks: np.ndarray) -> float:
        scores = queries @ chunks.T
        run = {}
        for i, qid in enumerate(qids):
            best = np.full(len(uniq), -np.inf, dtype=np.float32)
            np.maximum.at(best, owner, scores[i])
            top = np.argsort(-best)[:100]
            run[qid] = {str(uniq[t]): float(best[t]) for t in top}
        return evaluate(run, ds.qrels, ks=(10,))["ndcg@10"]

    base = ndcg(q_fp32, ref)
    print(f"fp32 everywhere: dense nDCG@10 {base:.4f} ({len(qids)} queries, {len(texts)} chunks, "
          f"{len(in_band)} within {args.margin} of a top 10)")
    print(f"{'model':>16}  {'mean 1-cos':>10}  {'min cos':>8}  {'delta':>7}  {'docs only':>9}  seconds")
    deltas: list[float] = []

    def report(label: str, docs: np.ndarray, queries: np.ndarray, t0: float, measured: np.ndarray) -> None:
        cos = np.sum(docs[measured] * ref[measured], axis=1)  # error over the chunks this row embedded
        delta = ndcg(queries, docs) - base
        deltas.append(delta)
        print(f"{label:>16}  {np.mean(1 - cos):10.2e}  {cos.min():8.6f}  {delta:+7.4f}  "
              f"{ndcg(q_fp32, docs) - base:+9.4f}  {time.perf_counter() - t0:7.0f}", flush=True)

    t0 = time.perf_counter()
    if embedder.precision == "bf16" and cpu_has_bf16():
        embedder.clear_cache()
        docs = l2_normalize(embedder.embed(texts))
        queries = l2_normalize(np.vstack([embedder.embed_queries([t]) for t in qtexts]))
        report(f"{embedder.engine} (shipped)", docs, queries, t0, np.arange(len(texts)))
        banded = ref.copy()
        banded[in_band] = docs[in_band]
        if abs(ndcg(queries, banded) - base - deltas[-1]) > 1e-12:
            raise SystemExit(f"the band shortcut changes the shipped path's nDCG: raise --margin above {args.margin}")
    else:
        print("(no native bf16 here: the fast path runs fp32, only the emulated draws follow)")
    model = EmulatedBert(embedder.model[0].auto_model.eval())
    with torch.inference_mode():
        for seed in range(args.draws):
            t0 = time.perf_counter()
            rnd = rounder(seed)
            layers = model.weights(rnd)
            docs = ref.copy()
            for rows, ids, mask in doc_batches:
                out = model(torch.from_numpy(ids), torch.from_numpy(mask), layers, rnd).numpy()
                docs[in_band[rows]] = l2_normalize(out)
            queries = np.vstack([model(torch.tensor([i]), torch.ones((1, len(i)), dtype=torch.long), layers,
                                       rnd).numpy() for i in query_ids])
            report(f"draw {seed}", docs, l2_normalize(queries), t0, in_band)
    inside = sum(abs(d) <= args.tolerance + 1e-12 for d in deltas)
    spread = statistics.stdev(deltas) if len(deltas) > 1 else 0.0
    print(f"delta: mean {statistics.mean(deltas):+.4f}, sd {spread:.4f}, min {min(deltas):+.4f}, "
          f"max {max(deltas):+.4f}; within +-{args.tolerance}: {inside} of {len(deltas)}")
    print(json.dumps({"baseline_ndcg@10": base, "deltas": deltas, "within": inside}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
