"""The ``sentence-transformers`` backend: the real model, run by the fastest engine that reproduces
``SentenceTransformer.encode`` (the ``encode`` engine is that call itself, the reference every other
engine is checked against at load)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding.base import Embedder, l2_normalize, read_max_seq_length
from indexer.embedding.batches import padded_batches
from indexer.embedding.cpu import one_core, resolve_precision
from indexer.embedding.graph_cache import GraphCache
from indexer.embedding.openvino_engine import OpenVinoModel
from indexer.embedding.torch_engine import TorchModel, pipeline_parts
from indexer.errors import InvalidInput

log = logging.getLogger(__name__)

ENGINES = ("auto", "openvino", "torch", "encode")


class SentenceTransformerEmbedder(Embedder):
    """The sentence-transformers model, run by the fastest engine that reproduces it.

    Engines (``engine=``; ``auto`` takes the first that loads and passes a
    self-check against ``SentenceTransformer.encode`` at load):

    - ``openvino``: the model's graph compiled by OpenVINO (see :class:`OpenVinoModel`).
    - ``torch``: :class:`TorchModel`, the model's own module + pooling called by torch directly.
    - ``encode``: ``SentenceTransformer.encode`` itself (any model), bf16 autocast for bulk batches.

    The first two share the batching: the model's fast tokenizer (truncated at ``max_seq_length``),
    texts sorted by length and packed by a token budget (little padding, big batches of short texts).
    Documents and search queries use the fast precision (``precision``: int8 where the CPU has int8 dot
    products, bf16 where it has native bf16; the OpenVINO engine alone runs int8); ``exact`` calls are fp32.
    """

    backend = "sentence-transformers"

    def __init__(self, name: str, path: Path, *, precision: str = "auto", engine: str = "auto",
                 model_cache: Path | None = None, **kw: Any) -> None:
        """``model_cache``: the folder for converted graphs (:class:`GraphCache`); None: no cache."""
        super().__init__(name, path, **kw)
        from tokenizers import Tokenizer

        self.precision = resolve_precision(precision)
        self._model: Any = None  # the SentenceTransformer, loaded on first use (see ``model``)
        self._torch: Any = None
        self._model_lock = threading.Lock()
        self._embed_tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._embed_tokenizer.no_padding()
        self._forward: Callable[..., np.ndarray] | None = None  # (ids, mask, fast) -> vectors
        self.engine = "encode"
        #: where the OpenVINO graph came from: "cache" (no conversion), "conversion", or "" (other engine)
        self.graph_source = ""
        wanted = resolve_engine(engine)
        cache = GraphCache(model_cache, path) if model_cache is not None and wanted in ("auto", "openvino") else None
        self._model_cache = model_cache
        if cache is not None and self._open_cached(cache):
            return  # no torch, transformers or sentence-transformers imported
        _ = self.model
        self._pick_engine(wanted, cache)
        if self.precision == "int8" and self.engine != "openvino":
            log.warning("precision int8 runs on the OpenVINO engine only (engine %s here): embedding in fp32",
                        self.engine)
            self.precision = "fp32"

    @property
    def model(self) -> Any:
        """The ``SentenceTransformer`` itself, loaded on first use: a load from the graph cache
        never needs it (importing sentence-transformers alone takes seconds)."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._load_sentence_transformer()
        return self._model

    def _load_sentence_transformer(self) -> None:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # no "Loading weights" bar on every start
        model = SentenceTransformer(str(self.path), device="cpu")
        model.eval()
        dim = getattr(model, "get_embedding_dimension", model.get_sentence_embedding_dimension)()
        if not dim:
            raise InvalidInput(f"model {self.name!r} does not report its embedding dimension", field="model")
        if not self.dimension:  # else set from the graph cache, and tokenizers may be in use by now
            self._set_window(int(model.max_seq_length or self.max_seq_length), int(dim))
        self._torch = torch
        self._model = model

    def describe(self) -> str:
        graph = {"cache": ", graph from the cache", "conversion": ", graph converted"}.get(self.graph_source, "")
        return f"engine {self.engine}, {self.precision}{graph}"

    def _set_window(self, max_seq_length: int, dimension: int) -> None:
        self.max_seq_length, self.dimension = max_seq_length, dimension
        self._embed_tokenizer.enable_truncation(max_seq_length)

    def _try_openvino(self, graph: Any, probe: list[str], ref: np.ndarray) -> str | None:
        """Compile ``graph`` and make it the engine if it passes the self-check; else what failed."""
        if self.precision == "int8":
            failed = None
            try:
                self._compile(graph, int8=self._int8_graph(graph))
                failed = self._self_check(probe, ref)
            except Exception as e:  # noqa: BLE001 - NNCF or the int8 graph failing costs int8, never the load
                failed = f"{type(e).__name__}: {e}"
            if failed is None:
                self.engine = "openvino"
                return None
            log.warning("int8 graph off (%s): embedding in fp32", failed)
            self.precision = "fp32"
        self._compile(graph)
        failed = self._self_check(probe, ref)
        if failed is None:
            self.engine = "openvino"
        return failed

    def _compile(self, graph: Any, int8: Any = None) -> None:
        ov_model = OpenVinoModel(graph, bf16=self.precision == "bf16", int8=int8)
        self.engine_model: OpenVinoModel | None = ov_model
        self._forward = lambda ids, mask, fast: ov_model(ids, mask, fast=fast)

    def _int8_graph(self, graph: Any) -> Any:
        """The int8 graph of fp32 ``graph``: from the graph cache, else quantized now (tens of seconds,
        once: the result is cached beside the fp32 graph, under a key that also names NNCF's version and
        the calibration text)."""
        from indexer.embedding.quantize import CALIBRATION, calibration_texts, quantize_int8

        cache = GraphCache(self._model_cache, self.path, variant=("int8", CALIBRATION)) \
            if self._model_cache is not None else None
        entry = cache.load() if cache is not None else None
        if entry is not None:
            return entry[0]
        log.info("quantizing the model to int8 (once; calibrated on %s)", CALIBRATION.name)
        int8 = quantize_int8(graph, self._embed_tokenizer, calibration_texts())
        if cache is not None:
            cache.save(int8, {"calibration": CALIBRATION.name})
        return int8

    def _open_cached(self, cache: GraphCache) -> bool:
        """The OpenVINO engine from a cached graph, checked against the reference vectors stored with it."""
        entry = cache.load()
        if entry is None:
            return False
        graph, meta = entry
        try:
            self._set_window(int(meta["max_seq_length"]), int(meta["dimension"]))
            probe = [str(t) for t in meta["probe"]]
            ref = np.asarray(meta["reference"], dtype=np.float32).reshape(len(probe), self.dimension)
            failed = self._try_openvino(graph, probe, ref)
            if failed is None:
                self.graph_source = "cache"
                return True
            log.warning("cached model graph %s fails the self-check (%s); converting the model again",
                        cache.dir, failed)
        except Exception as e:  # noqa: BLE001 - a bad entry costs a fresh conversion, never the load
            log.warning("cached model graph %s not usable (%s); converting the model again", cache.dir, e)
        cache.remove()
        self._forward = None
        self._set_window(read_max_seq_length(self.path), 0)
        return False

    def _probe(self) -> list[str]:
        return ["A quick self-check of the direct forward path, against sentence-transformers.", "semsearch",
                "x " * (self.max_seq_length + 10)]

    def _pick_engine(self, wanted: str, cache: GraphCache | None = None) -> None:
        torch = self._torch
        found = pipeline_parts(self.model) if wanted != "encode" else None
        if found is None:
            return
        hf, pooling = found
        probe = self._probe()
        ref = l2_normalize(self._st_encode(probe, batch_size=4, bulk=False, exact=True))
        if wanted in ("auto", "openvino"):
            try:
                graph = OpenVinoModel.convert(hf, pooling, torch)
                failed = self._try_openvino(graph, probe, ref)
                if failed is None:
                    self.graph_source = "conversion"
                    if cache is not None:
                        cache.save(graph, {"dimension": self.dimension, "max_seq_length": self.max_seq_length,
                                           "pooling": pooling, "probe": probe, "reference": ref.tolist()})
                    return
                log.warning("OpenVINO engine off: %s", failed)
            except Exception as e:  # noqa: BLE001 - any conversion failure falls back to torch
                (log.warning if wanted == "openvino" else log.info)("OpenVINO engine unavailable: %s", e)
        tm = TorchModel(hf, pooling, torch)

        def forward(ids: np.ndarray, mask: np.ndarray, fast: bool) -> np.ndarray:
            return tm(ids, mask, bf16=fast and self.precision == "bf16")

        self._forward = forward
        failed = self._self_check(probe, ref)
        if failed is None:
            self.engine = "torch"
            return
        log.warning("torch direct forward off: %s; using encode()", failed)
        self._forward = None
        self.engine = "encode"

    #: the fidelity bar: every vector of the fast path within this cosine of fp32 sentence-transformers
    MIN_COSINE = 0.9999
    #: int8's bar at load, on the prose probes (it catches a broken graph; ranking is checked on SciFact's
    #: nDCG@10, within 0.005 of fp32: tests/indexer/embedding/test_int8.py). The bundled model: 0.994-0.996
    INT8_MIN_COSINE = 0.98

    def _self_check(self, probe: list[str], ref: np.ndarray) -> str | None:
        """Every path of the direct engine against ``ref``, what ``SentenceTransformer.encode`` in fp32
        gives for ``probe``: the exact path to 1e-5, the fast (bf16 where enabled) paths - alone and
        shared - to ``MIN_COSINE``. None when all pass, else what failed."""
        fast = {"bf16": self.MIN_COSINE, "int8": self.INT8_MIN_COSINE}.get(self.precision, 0.99999)
        # int8 is checked on the prose probes only: the last one, a word repeated to fill the window (it
        # checks truncation, which the exact path covers), is far from any calibration text (cosine 0.77)
        fast_n = len(probe) - 1 if self.precision == "int8" else len(probe)
        for exact, shared, bar in ((True, False, 0.99999), (False, False, fast), (False, True, fast)):
            n = len(probe) if exact else fast_n
            with one_core(shared):
                got = l2_normalize(self._direct_encode(probe[:n], batch_size=4, bulk=False, exact=exact))
            cos = float(np.min(np.sum(ref[:n] * got, axis=1)))
            if cos < bar:
                return (f"cosine {cos:.6f} vs sentence-transformers, under {bar} "
                        f"({'fp32' if exact else self.precision}, {'one core' if shared else 'alone'})")
        return None

    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False) -> np.ndarray:
        if self._forward is None:
            return self._st_encode(texts, batch_size=batch_size, bulk=bulk, exact=exact)
        return self._direct_encode(texts, batch_size=batch_size, bulk=bulk, exact=exact)

    def _st_encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False) -> np.ndarray:
        model = self.model
        torch = self._torch
        use_bf16 = not exact and self.precision == "bf16"
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            vecs = model.encode(
                texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=False,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)

    def _direct_encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False) -> np.ndarray:
        assert self._forward is not None
        fast = not exact and self.precision in ("bf16", "int8")
        tok = self._embed_tokenizer
        profile = self.profile if bulk else None
        t0 = time.perf_counter()
        ids_list = [e.ids for e in tok.encode_batch(texts)] if len(texts) > 1 else [tok.encode(texts[0]).ids]
        if profile is not None:
            profile.tokenize_s += time.perf_counter() - t0
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows, ids, mask in padded_batches(ids_list, batch_size * self.max_seq_length,
                                              max_rows=8 * batch_size if bulk else batch_size,
                                              window=self.max_seq_length if bulk else None):
            t0 = time.perf_counter()
            out[rows] = self._forward(ids, mask, fast)
            if profile is not None:
                profile.forward_s += time.perf_counter() - t0
                profile.batches += 1
                profile.padded += ids.size
                profile.lengths.extend(len(ids_list[i]) for i in rows)
        return out


def resolve_engine(engine: str = "auto") -> str:
    """``engine`` checked against :data:`ENGINES` (the ``engine`` setting)."""
    engine = engine.strip().lower() or "auto"
    if engine not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}, not {engine!r} (SEMSEARCH_ENGINE)",
                           field="engine")
    return engine
