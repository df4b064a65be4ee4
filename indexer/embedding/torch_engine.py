"""The ``torch`` engine: the model's own Hugging Face module plus its pooling, run in process by torch
(bf16 autocast for the fast paths where the CPU has native bf16).

The same :class:`Pooled` module is what the OpenVINO engine traces, so the tree has one BERT forward
for production (the checkpoint's own, through ``transformers``) beside the teaching NumPy model.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def pooled_module(hf: Any, pooling: str, torch: Any) -> Any:
    """``hf`` (a Hugging Face encoder) followed by mean (or CLS) pooling over the attention mask."""

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            x = self.hf(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, d)
            if pooling == "cls":
                return x[:, 0]
            m = attention_mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
            return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)  # (B, d)

    return Pooled().eval()


def pipeline_parts(model: Any) -> tuple[Any, str] | None:
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


class TorchModel:
    """``pooled_module`` called under ``inference_mode``; ``bf16=True`` runs it under bf16 autocast."""

    def __init__(self, hf: Any, pooling: str, torch: Any) -> None:
        self.torch = torch
        self.module = pooled_module(hf, pooling, torch)

    def __call__(self, ids: np.ndarray, mask: np.ndarray, *, bf16: bool = False) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = self.module(torch.from_numpy(ids), torch.from_numpy(mask))
        return np.asarray(out.float().numpy(), dtype=np.float32)
