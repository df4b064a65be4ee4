"""Keyword search per language: nDCG@10 before and after ``indexer/analysis/languages.py``.

    python benchmarks/languages.py                     # both parts, embedded + Qdrant local mode
    python benchmarks/languages.py --english-only      # only the shipped English corpus
    python benchmarks/languages.py --dataset ../shared/data/scifact --keyword-only --english-only
                                                       # English keyword nDCG on SciFact (no embedding)

1. English, on the shipped corpus (tests/corpus): keyword and hybrid nDCG@10 of a collection made
   before languages existed ("legacy": the embedded store's FTS5 porter tokenizer; Qdrant's legacy BM25
   analysis) against one made now with ``language=en`` (Snowball English terms). The issue allows a
   drop of at most 0.002.
2. German, French, Spanish and Chinese, on a set this file generates (no download): per language, one
   document per noun that uses only its *plural* (or, for Chinese, a sentence that contains the word),
   with distractor sentences; each query is the noun's *singular* (the bare word in Chinese). Keyword
   nDCG@10 of the legacy English analysis, of the collection's language, and of ``auto``; and the
   accuracy of the language detector (py3langid) on the generated documents.

Prints the CPU and the load average (2 shared cores: the figures that matter are the nDCG).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (singular, plural) of nouns, and sentences that use the plural; Chinese: words inside sentences.
NOUNS = {
    "de": [("Haus", "Häuser"), ("Buch", "Bücher"), ("Baum", "Bäume"), ("Stadt", "Städte"), ("Vogel", "Vögel"),
           ("Apfel", "Äpfel"), ("Brücke", "Brücken"), ("Zug", "Züge"), ("Kind", "Kinder"), ("Wald", "Wälder"),
           ("Fluss", "Flüsse"), ("Stuhl", "Stühle")],
    "fr": [("cheval", "chevaux"), ("journal", "journaux"), ("château", "châteaux"), ("œil", "yeux"),
           ("travail", "travaux"), ("animal", "animaux"), ("hôpital", "hôpitaux"), ("bateau", "bateaux"),
           ("oiseau", "oiseaux"), ("arbre", "arbres"), ("église", "églises"), ("fenêtre", "fenêtres")],
    "es": [("canción", "canciones"), ("ciudad", "ciudades"), ("árbol", "árboles"), ("lápiz", "lápices"),
           ("nación", "naciones"), ("camión", "camiones"), ("pez", "peces"), ("mujer", "mujeres"),
           ("montaña", "montañas"), ("jardín", "jardines"), ("puente", "puentes"), ("reloj", "relojes")],
    "zh": [("机器学习", "我们的实验室研究机器学习的方法"), ("图书馆", "学生们每天下午去图书馆看书"),
           ("火车站", "他在火车站等了一个小时"), ("咖啡", "她每天早上喝一杯咖啡"),
           ("医院", "我的朋友在医院工作了十年"), ("电脑", "这台电脑的速度非常快"),
           ("博物馆", "周末我们参观了历史博物馆"), ("天气", "今天的天气非常好"),
           ("音乐", "他从小就喜欢古典音乐"), ("飞机", "飞机晚上八点起飞"),
           ("大学", "她在北京的一所大学读书"), ("公园", "孩子们在公园里玩耍")],
}
TEMPLATES = {
    "de": ["Im Dorf sprechen alle über die {w}.", "Gestern haben wir die {w} gesehen, die am Ende der Straße "
           "stehen.", "Die {w} sind in diesem Jahr besonders schön."],
    "fr": ["Dans le village, tout le monde parle des {w}.", "Hier, nous avons vu les {w} au bout de la rue.",
           "Cette année, les {w} sont particulièrement beaux."],
    "es": ["En el pueblo todos hablan de los {w}.", "Ayer vimos las {w} al final de la calle.",
           "Este año los {w} son especialmente bonitos."],
    "zh": ["{w}。", "大家都在谈论这件事：{w}。", "昨天晚上，{w}。"],
}
FILLER = {
    "de": "Der Winter war lang und kalt, und viele Menschen blieben zu Hause.",
    "fr": "L'hiver a été long et froid, et beaucoup de gens sont restés chez eux.",
    "es": "El invierno fue largo y frío, y mucha gente se quedó en casa.",
    "zh": "冬天又长又冷，很多人都待在家里。",
}


def multilingual_set(seed: int = 0) -> tuple[dict[str, list[dict[str, str]]], dict[str, dict[str, str]]]:
    """{language: documents}, {language: {query id: query}}; query ``lang-i`` is relevant to doc ``lang-i``."""
    rng = random.Random(seed)
    docs: dict[str, list[dict[str, str]]] = {}
    queries: dict[str, dict[str, str]] = {}
    for lang, nouns in NOUNS.items():
        docs[lang], queries[lang] = [], {}
        for i, (query, form) in enumerate(nouns):
            text = rng.choice(TEMPLATES[lang]).format(w=form)
            docs[lang].append({"id": f"{lang}-{i}", "text": f"{FILLER[lang]} {text} {FILLER[lang]}"})
            queries[lang][f"{lang}-{i}"] = query
    return docs, queries


def keyword_ndcg(coll, queries: dict[str, str]) -> float:
    from indexer.evaluation import evaluate

    run = {qid: {h.id: h.score for h in coll.search(q, mode="keyword", k=10)} for qid, q in queries.items()}
    return evaluate(run, {qid: {qid: 1} for qid in queries}, ks=(10,))["ndcg@10"]


def make_legacy(backend, name: str) -> None:
    """Make an empty collection look like one made before languages (as tests/indexer/stores/test_contract.py)."""
    from tests.indexer.stores.test_contract import _make_legacy

    _make_legacy(backend, name)


def backends(tmp: Path):
    from indexer.stores.embedded import EmbeddedBackend
    from indexer.stores.qdrant import QdrantBackend

    yield "embedded", EmbeddedBackend(tmp / "data")
    yield "qdrant-local", QdrantBackend(path=tmp / "qdrant")


class KeywordOnly:
    """The real model's tokenizer (chunks are cut the same) with constant vectors instead of embeddings:
    keyword rankings do not depend on the vectors, and SciFact's 5,000 abstracts index in seconds."""

    def __init__(self, base) -> None:
        self.base = base

    def embed(self, texts, **kw):
        import numpy as np

        v = np.zeros((len(texts), self.base.dimension), np.float32)
        v[:, 0] = 1
        return v

    embed_queries = embed

    def __getattr__(self, name: str):
        return getattr(self.base, name)


def english(embedder, dataset: Path, keyword_only: bool = False) -> None:
    from indexer.collection import Collection
    from indexer.evaluation import run_beir

    if keyword_only:
        embedder = KeywordOnly(embedder)
    print(f"\nEnglish, {dataset}: nDCG@10 (legacy = a collection made before languages)")
    print(f"{'store':<14}{'analysis':<10}{'keyword':>9}{'hybrid':>9}")
    with tempfile.TemporaryDirectory(prefix="languages-") as tmp:
        for store, backend in backends(Path(tmp)):
            for analysis in ("legacy", "en"):
                name = f"en-{analysis}"
                Collection.open(backend, name, embedder, language="en").close()
                if analysis == "legacy":
                    make_legacy(backend, name)
                r = run_beir(dataset, backend=backend, embedder=embedder, collection=name,
                             modes=("keyword",) if keyword_only else ("keyword", "hybrid"))
                hybrid = f"{r['hybrid']['ndcg@10']:>9.4f}" if "hybrid" in r else f"{'-':>9}"
                print(f"{store:<14}{analysis:<10}{r['keyword']['ndcg@10']:>9.4f}{hybrid}", flush=True)
            backend.close()


def multilingual(embedder) -> None:
    from indexer.analysis.languages import detect
    from indexer.collection import Collection

    docs, queries = multilingual_set()
    every = [d for ds in docs.values() for d in ds]
    right = sum(detect([d["text"]]) == d["id"].split("-")[0] for d in every)
    print(f"\nlanguage detection (py3langid) on the {len(every)} generated documents: {right}/{len(every)} right")
    print("\nkeyword nDCG@10 on the generated set (query: the singular; document: only the plural)")
    print(f"{'store':<14}{'language':<10}{'legacy-en':>10}{'its own':>9}{'auto':>9}")
    with tempfile.TemporaryDirectory(prefix="languages-") as tmp:
        for store, backend in backends(Path(tmp)):
            scores: dict[str, dict[str, float]] = {lang: {} for lang in docs}
            for variant in ("legacy-en", "its own", "auto"):
                for lang in docs:
                    name = f"{lang}-{variant.replace(' ', '-')}"
                    language = {"legacy-en": "en", "its own": lang, "auto": "auto"}[variant]
                    Collection.open(backend, name, embedder, language=language).close()
                    if variant == "legacy-en":
                        make_legacy(backend, name)
                    with Collection.open(backend, name, embedder, create=False) as c:
                        c.upsert_documents(every if variant == "auto" else docs[lang])
                        scores[lang][variant] = keyword_ndcg(c, queries[lang])
            for lang, s in scores.items():
                print(f"{store:<14}{lang:<10}{s['legacy-en']:>10.4f}{s['its own']:>9.4f}{s['auto']:>9.4f}", flush=True)
            backend.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", action="append", default=[], help="a BEIR folder for the English part "
                    "(default: tests/corpus)")
    ap.add_argument("--english-only", action="store_true")
    ap.add_argument("--keyword-only", action="store_true", help="English: keyword nDCG only, without embedding")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from indexer.embedding import load_embedder

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"CPU {cpu}, {os.cpu_count()} cores; load average {tuple(round(x, 2) for x in os.getloadavg())}")
    t0 = time.perf_counter()
    embedder = load_embedder("sentence-transformers/all-MiniLM-L6-v2")
    for dataset in args.dataset or [str(REPO / "tests" / "corpus")]:
        english(embedder, Path(dataset), args.keyword_only)
    if not args.english_only:
        multilingual(embedder)
    print(f"\n{time.perf_counter() - t0:.0f} s; load average {tuple(round(x, 2) for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
