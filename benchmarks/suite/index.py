"""Section ``index``: first run vs unchanged re-run of a folder of small files, and peak RSS, measured in
a child process (``python -m benchmarks.suite --child-index ...``) so the peak is the indexing run's own."""

from __future__ import annotations

import json
import logging
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from benchmarks.suite.config import DEFAULT_CORPUS, BenchConfig
from benchmarks.suite.corpus import Corpus
from benchmarks.suite.stats import ratio, summarize

log = logging.getLogger(__name__)

SHIPPED_DOCS = DEFAULT_CORPUS / "docs"  # the shipped corpus as files: 35 Factbook profiles in Markdown


def make_folder(root: Path, corpus: Corpus, n: int, *, seed: int = 0) -> Path:
    """``n`` small text files (one or two sentences of the corpus each) in 100-file subfolders."""
    rng = random.Random(seed)
    sentences = [s.strip() for c in corpus.chunks for s in c.split(". ") if len(s.split()) >= 4] or corpus.chunks
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sub = root / f"d{i // 100:04d}"
        sub.mkdir(exist_ok=True)
        text = ". ".join(rng.choice(sentences) for _ in range(rng.randint(1, 2)))
        (sub / f"f{i:06d}.txt").write_text(f"{text}. (file {i})\n", encoding="utf-8")
    return root


def peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class Stages:
    """Seconds per stage of one indexing run (walk, read, chunk, embed, commit, the rest), by wrapping
    the functions :class:`~indexer.sync.FolderSync` calls - the library is not changed for it - and
    the texts it embedded, to embed them again alone: the pure embedding rate of the same chunks."""

    NAMES = ("walk", "read", "chunk", "embed", "commit")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.NAMES, 0.0)
        self.texts: list[str] = []

    def timed(self, stage: str, fn: Any) -> Any:
        def call(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds[stage] += time.perf_counter() - t0
        return call

    def timed_iter(self, stage: str, fn: Any) -> Any:
        """``fn`` returns an iterator: the time of each ``next`` is the stage's (walk and chunk are lazy)."""
        def call(*a: Any, **k: Any) -> Any:
            it = iter(fn(*a, **k))
            while True:
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    self.seconds[stage] += time.perf_counter() - t0
                yield item
        return call

    @contextmanager
    def on(self, coll: Any) -> Iterator[None]:
        import indexer.sync.recipe as sync

        saved = {n: getattr(sync, n) for n in ("walk", "read_candidate", "read_data")}
        model = getattr(coll.embedder, "inner", coll.embedder)  # the model behind the embedding cache
        embed = model.embed

        def record(texts: Any, **k: Any) -> Any:
            texts = list(texts)
            self.texts.extend(texts)
            return embed(texts, **k)

        sync.walk = self.timed_iter("walk", saved["walk"])
        sync.read_candidate = self.timed("read", saved["read_candidate"])
        sync.read_data = self.timed("read", saved["read_data"])
        model.embed = self.timed("embed", record)
        coll.iter_chunks = self.timed_iter("chunk", coll.iter_chunks)
        coll.commit = self.timed("commit", coll.commit)
        coll.checkpoint = self.timed("commit", coll.checkpoint)
        try:
            yield
        finally:
            for n, f in saved.items():
                setattr(sync, n, f)
            del model.embed, coll.iter_chunks, coll.commit, coll.checkpoint

    def report(self, total_s: float, embedder: Any, batch_size: int) -> dict[str, Any]:
        """Seconds and share per stage, and the run's chunks/s against embedding the same chunks alone."""
        t0 = time.perf_counter()
        embedder.embed(self.texts, batch_size=batch_size)
        pure_s = time.perf_counter() - t0
        n = len(self.texts)
        stages = {k: round(v, 3) for k, v in self.seconds.items()}
        stages["other"] = round(max(0.0, total_s - sum(self.seconds.values())), 3)
        index_rate, pure_rate = n / total_s if total_s else 0.0, n / pure_s if pure_s else 0.0
        return {"chunks": n, "total_s": round(total_s, 3), "stages_s": stages,
                "stage_share": {k: round(v / total_s, 3) if total_s else 0.0 for k, v in stages.items()},
                "index_chunks_per_s": round(index_rate, 1), "pure_embed_chunks_per_s": round(pure_rate, 1),
                "end_to_end_ratio": round(index_rate / pure_rate, 3) if pure_rate else None}


def child_index(folder: Path, data_dir: Path, repeats: int) -> dict[str, Any]:
    """Run in a subprocess: index ``folder`` (first run) then again unchanged, ``repeats`` times alternating."""
    from app.service import Service
    from app.settings import Settings

    # The child runs as the CLI does, through the front door: settings from the environment, the
    # embedded store in this run's own folder.
    service = Service.from_settings(Settings(data_dir=data_dir, store="embedded"))
    service.embedder  # noqa: B018 - the model loads here, before the first peak is read
    rss_model = peak_rss_bytes()
    first: list[float] = []
    again: list[float] = []
    copied: list[float] = []
    report: dict[str, Any] = {}
    copy_report: dict[str, Any] = {}
    report_stages: dict[str, Any] = {}
    for r in range(repeats):
        for leftover in data_dir.glob("embedding-cache.sqlite3*"):  # each first run starts with a cold cache
            leftover.unlink()
        with service.open_collection(f"bench{r}", create=True) as coll:
            stages = Stages() if r == 0 else None
            with stages.on(coll) if stages is not None else nullcontext():
                t0 = time.perf_counter()
                rep = coll.index_folder(folder)
                first.append(time.perf_counter() - t0)
            if stages is not None:
                report_stages = stages.report(first[-1], getattr(coll.embedder, "inner", coll.embedder),
                                              coll.limits.embed_batch_size)
            report = rep.to_dict()
            t0 = time.perf_counter()
            rep2 = coll.index_folder(folder)
            again.append(time.perf_counter() - t0)
            if rep2.chunks_embedded or rep2.unchanged != rep.added:
                raise RuntimeError(f"unchanged re-index did work: {rep2.to_dict()['files']}")
        # the same files into a second collection: what the embedding cache saves (SEMSEARCH_EMBEDDING_CACHE_MB)
        with service.open_collection(f"bench{r}-copy", create=True) as coll:
            t0 = time.perf_counter()
            copy_report = coll.index_folder(folder).to_dict()
            copied.append(time.perf_counter() - t0)
        for name in (f"bench{r}", f"bench{r}-copy"):
            shutil.rmtree(data_dir / "collections" / name, ignore_errors=True)
    service.close()
    return {"files": report["files"]["added"], "chunks": report["chunks"]["embedded"],
            "first_s": first, "unchanged_s": again, "peak_rss": peak_rss_bytes(), "rss_after_model_load": rss_model,
            "chunks_per_s": report["chunks_per_second"], "copy_s": copied, "stages": report_stages,
            "first_cache": report["embedding_cache"], "copy_cache": copy_report["embedding_cache"]}


def _run_child(folder: Path, data_dir: Path, repeats: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.suite", "--child-index", str(folder), str(data_dir), str(repeats)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2],
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"indexing child failed ({res.returncode}): {res.stderr[-2000:]}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def bench_index(corpus: Corpus, cfg: BenchConfig, work: Path) -> dict[str, Any]:
    n = cfg.reindex_files
    small_n = max(1, n // 4)
    big = make_folder(work / f"files{n}", corpus, n, seed=cfg.seed)
    small = make_folder(work / f"files{small_n}", corpus, small_n, seed=cfg.seed + 1)
    res_small = _run_child(small, work / "index-small", 1)
    res_big = _run_child(big, work / "index-big", max(1, min(cfg.repeats, 2)))
    gib = 1024**3
    docs = None
    if not cfg.quick and SHIPPED_DOCS.is_dir():  # what a user indexes: Markdown files, chunks of up to 256 tokens
        docs = _run_child(SHIPPED_DOCS, work / "index-docs", 1)["stages"]
    return {"end_to_end": {"small_files": res_big["stages"], "shipped_docs": docs},
            "files": res_big["files"], "chunks": res_big["chunks"], "first_run_s": summarize(res_big["first_s"]),
            "unchanged_run_s": summarize(res_big["unchanged_s"]),
            "reindex_ratio": ratio(res_big["unchanged_s"], res_big["first_s"]),
            # the same files into a second collection, the embedding cache warm; the hit rates (None: cache off)
            "copy_run_s": summarize(res_big["copy_s"]),
            "cache_hit_rate": (res_big["copy_cache"] or {}).get("hit_rate"),
            "first_run_cache_hit_rate": (res_big["first_cache"] or {}).get("hit_rate"),
            "index_chunks_per_s": res_big["chunks_per_s"],
            "memory": {"files": [res_small["files"], res_big["files"]],
                       "peak_rss_gib": [round(res_small["peak_rss"] / gib, 3), round(res_big["peak_rss"] / gib, 3)],
                       "rss_after_model_load_gib": round(res_big["rss_after_model_load"] / gib, 3),
                       "growth_mib_per_1k_files": round((res_big["peak_rss"] - res_small["peak_rss"]) / 2**20
                                                        / max(1, (res_big["files"] - res_small["files"]) / 1000), 2)},
            "memory_peak_gib": res_big["peak_rss"] / gib}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child-index"]:
        logging.basicConfig(level=logging.WARNING)
        res = child_index(Path(argv[1]), Path(argv[2]), int(argv[3]))
        sys.stdout.write(json.dumps(res) + "\n")
        return
    raise SystemExit("usage: semsearch bench (this module's own entry point is for the benchmark's child processes)")

