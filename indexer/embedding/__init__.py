"""Text -> L2-normalized float32 vectors.

Two backends implement one protocol (:class:`~indexer.embedding.base.Embedder`):

- ``sentence-transformers`` (default, :mod:`.sentence_transformer`): the real model, run by the fastest
  *engine* that reproduces ``SentenceTransformer.encode`` (checked at load): OpenVINO
  (:mod:`.openvino_engine`, graph kept by :mod:`.graph_cache`), else the model's own module called by
  torch (:mod:`.torch_engine`), else ``encode`` itself. Bulk batches are length-sorted and packed by a
  token budget (:mod:`.batches`); documents and search queries run in bf16 where the CPU has it
  natively (:mod:`.cpu`), ``exact=True`` queries in fp32.
- ``minimal`` (:mod:`.minimal`): the bundled from-scratch NumPy transformer, same weights, same vectors.

Every vector goes through :func:`l2_normalize` (:mod:`.normalize`), once. :func:`load_embedder`
(:mod:`.selection`) picks the backend; its configuration arrives as arguments, never from the
environment.
"""

from indexer.embedding.base import Embedder, EmbedderInfo
from indexer.embedding.batches import WIDTH_STEP, padded_batches, token_budget_batches
from indexer.embedding.cpu import cpu_count, cpu_features, cpu_has_bf16, one_core, resolve_precision
from indexer.embedding.minimal import MinimalEmbedder
from indexer.embedding.normalize import l2_normalize
from indexer.embedding.selection import BACKENDS, DEFAULT_MODEL, bundled_model_path, load_embedder, resolve_model
from indexer.embedding.sentence_transformer import ENGINES, SentenceTransformerEmbedder, resolve_engine

__all__ = ["BACKENDS", "DEFAULT_MODEL", "ENGINES", "WIDTH_STEP", "Embedder", "EmbedderInfo", "MinimalEmbedder",
           "SentenceTransformerEmbedder", "bundled_model_path", "cpu_count", "cpu_features", "cpu_has_bf16",
           "l2_normalize", "load_embedder", "one_core", "padded_batches", "resolve_engine", "resolve_model",
           "resolve_precision", "token_budget_batches"]
