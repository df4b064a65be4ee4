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
    for queries (and bulk in fp32), bf16 inference precision for bulk where the CPU has native bf16.
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

    def __init__(self, graph: Any, *, bf16: bool) -> None:
        """Compile ``graph`` (from :meth:`convert`, or read back from the graph cache)."""
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

    def __call__(self, ids: np.ndarray, mask: np.ndarray, *, bf16: bool = False) -> np.ndarray:
        """Pooled vectors: in bf16 where asked and compiled, else fp32; inside :func:`~indexer.embedding.cpu.one_core`
        on one core of the per-core model, in the model's precision."""
        if self.shared is not None and bf16 == self.shared_bf16 and on_one_core():
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
