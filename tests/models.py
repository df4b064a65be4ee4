"""A tiny sentence-transformers model for tests of the machinery around a model (the converted-graph
cache, loading, selection), where the bundled model's size costs only time: same tokenizer, same layout
(Transformer, mean Pooling, Normalize), random weights at hidden size 32 over 2 layers. Its graph converts
in a fraction of a second; the bundled one takes ~10 s."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TINY_DIMENSION = 32
_COPIED = ("modules.json", "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json",
           "tokenizer_config.json", "vocab.txt")


def make_tiny_model(folder: Path) -> Path:
    """Write the tiny model into ``folder`` (created) and return it."""
    import torch
    from transformers import BertConfig, BertModel

    from indexer.embedding import bundled_model_path

    source = bundled_model_path()
    folder.mkdir(parents=True)
    for name in _COPIED:
        shutil.copy(source / name, folder / name)
    config = json.loads((source / "config.json").read_text())
    config.update(hidden_size=TINY_DIMENSION, intermediate_size=64, num_attention_heads=2, num_hidden_layers=2)
    torch.manual_seed(0)
    BertModel(BertConfig(**config)).save_pretrained(folder, safe_serialization=True)
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    pooling["word_embedding_dimension"] = TINY_DIMENSION
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return folder
