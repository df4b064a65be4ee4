"""``semsearch bench``: the project against the plain pipeline, side by side in one process run.

The plain pipeline is what any user writes in ten lines: ``SentenceTransformer.encode`` (fp32,
batch 32) and a FAISS ``IndexFlatIP``. Every ratio compares the two on the same texts in the same
run, alternating A/B then B/A between repeats (and query by query for latencies), so drifting load
on a shared machine hits both sides alike. Each figure is reported as median/min/max over repeats.

Sections (each can be skipped):

- ``embed``: chunks/s of ``Embedder.embed`` (the indexing path) vs plain encode, and the fidelity
  (minimum cosine over every chunk) of both the bulk and the query path vs plain fp32. Against the
  CPU's own limit (``peak.py``): the FLOPs of the forward passes from the model's shapes and the real
  token counts, the GFLOP/s achieved, the CPU's peak for the embedder's precision (a one-second
  matmul on every core, beside the features' ceiling) and the fraction of it; and per batch, the
  padding, tokenization and Python work around the forward passes, as shares of the batch time.
- ``query``: p50 latency of embed + top-10 over ``index_size`` vectors in process, vs plain encode +
  ``IndexFlatIP``. The vectors are the corpus chunks' own vectors, replicated with small Gaussian
  perturbations (renormalized) up to ``index_size`` when the corpus has fewer chunks.
- ``http``: a real server (uvicorn, ``app.main:create_app``) in a subprocess over a temp data folder
  holding a collection of ``index_size`` chunks; ``GET /collections/bench/query?q=..&k=10&mode=dense``
  at concurrency 8 vs 1 (queries/s), and the concurrency-1 p50 vs the in-process p50 of the same search
  over the same texts (each repeat's concurrency-1 texts are searched again in process, in a block of
  their own between the HTTP runs).
  The client is the standard library's ``http.client`` on keep-alive connections, one per client
  thread: it costs about 0.4 ms of CPU per request (httpx about 1.1 ms), so the figures measure the
  server, not the client sharing its cores.
- ``index``: a folder of ``reindex_files`` small files indexed by a subprocess (``python -m
  benchmarks.suite --child-index``): first run vs unchanged re-run (``Collection.index_folder``, what
  ``semsearch index`` runs, model load excluded), and peak RSS, also for a folder 4x smaller to show
  that memory stays flat as the folder grows. End to end: the first run's seconds per stage (walk,
  read, chunk, embed, commit, other) and its chunks/s against embedding the same chunks alone, for the
  small files and (full run) the shipped corpus's Markdown folder.
- ``hnsw``: recall@10 of the HNSW index vs exact flat search at 100k (and 1M, opt-in) synthetic
  clustered vectors, plus filtered HNSW queries returning k hits that satisfy the filter.
"""

from benchmarks.suite.config import DEFAULT_CORPUS, SECTIONS, TARGETS, BenchConfig
from benchmarks.suite.corpus import Corpus, load_corpus, replicate, unique_queries
from benchmarks.suite.index import make_folder
from benchmarks.suite.report import BenchResult, table_rows
from benchmarks.suite.run import run_bench
from benchmarks.suite.stats import alternate, check_targets, percentile, ratio, summarize

__all__ = ["DEFAULT_CORPUS", "SECTIONS", "TARGETS", "BenchConfig", "BenchResult", "Corpus", "alternate",
           "check_targets", "load_corpus", "make_folder", "percentile", "ratio", "replicate", "run_bench",
           "summarize", "table_rows", "unique_queries"]
