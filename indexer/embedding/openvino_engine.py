"""The ``openvino`` engine: the model's graph (pooling included) converted to OpenVINO and compiled for
the CPU. Preferred where it loads: it fuses bias + activation, LayerNorm and attention into few kernels
and has a small per-call cost, which is what a single short query needs."""

from __future__ import annotations

import queue
from typing import Any

import numpy as np

from indexer.embedding.cpu import cpu_count, on_one_core
from indexer.embedding.torch_engine import pooled_module


class OpenVinoModel:
    """The model's own graph converted to OpenVINO (pooling included) and compiled for the CPU: fp32
    for exact calls, and a fast model for documents and search queries - the int8 graph where the
    precision is int8, bf16 inference precision where it is bf16, else fp32 as well.
    OpenVINO fuses bias + activation, LayerNorm and attention into few kernels and has a small per-call
    cost, which is what a single short query needs."""

    @staticmethod
    def convert(hf: Any, pooling: str, torch: Any) -> Any:
        """The Hugging Face model + pooling traced into an OpenVINO graph (``ov.Model``, fp32 weights)."""
        import warnings

        import openvino as ov
        import transformers

        example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # tracing logs config notes that mean nothing here
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")
                return ov.convert_model(pooled_module(hf, pooling, torch), example_input=example,
                                        input=[("input_ids", [-1, -1], ov.Type.i64),
                                               ("attention_mask", [-1, -1], ov.Type.i64)])
        finally:
            transformers.logging.set_verbosity(verbosity)

    def __init__(self, graph: Any, *, bf16: bool, int8: Any = None) -> None:
        """Compile ``graph`` (from :meth:`convert`, or read back from the graph cache). The fast model -
        what documents and search queries use - is ``int8`` (the quantized graph,
        :func:`~indexer.embedding.quantize.quantize_int8`) where given, else ``graph`` in bf16 where
        ``bf16``, else none (fp32 for everything)."""
        import openvino as ov

        core = ov.Core()
        latency = {"PERFORMANCE_HINT": "LATENCY"}  # one call spread over every core
        self.fp32 = core.compile_model(graph, "CPU", {**latency, "INFERENCE_PRECISION_HINT": "f32"})
        fast_graph, hint = (int8, "f32") if int8 is not None else (graph, "bf16")
        self.fast = core.compile_model(fast_graph, "CPU", {**latency, "INFERENCE_PRECISION_HINT": hint}) \
            if int8 is not None or bf16 else None
        # One stream per core, one thread each, for calls made while others run: concurrent batches then
        # run side by side instead of each being split across every core (less synchronisation).
        self.lanes = cpu_count()
        self.shared_fast = self.fast is not None  # the per-core model runs in the embedder's precision
        self.shared = core.compile_model(fast_graph if self.shared_fast else graph, "CPU", {
            "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": self.lanes,
            "INFERENCE_PRECISION_HINT": hint if self.shared_fast else "f32"}) if self.lanes > 1 else None
        self._requests: dict[str, queue.SimpleQueue[Any]] = {
            "fp32": queue.SimpleQueue(), "fast": queue.SimpleQueue(), "shared": queue.SimpleQueue()}

    def __call__(self, ids: np.ndarray, mask: np.ndarray, *, fast: bool = False) -> np.ndarray:
        """Pooled vectors: by the fast model (bf16 or int8) where asked and compiled, else fp32; inside
        :func:`~indexer.embedding.cpu.one_core` on one core of the per-core model, in the model's precision."""
        if self.shared is not None and fast == self.shared_fast and on_one_core():
            kind, model = "shared", self.shared
        elif fast and self.fast is not None:
            kind, model = "fast", self.fast
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
