"""all-MiniLM-L6-v2, a 6-layer BERT encoder, in plain NumPy.

The whole model, top to bottom:

    ids (B, T) -> word + token-type + position embeddings -> LayerNorm      (B, T, C)
               -> 6 x [ self-attention -> add & LayerNorm -> FFN -> add & LayerNorm ]
               -> mean over real tokens -> divide by the L2 norm               (B, C)

Dimensions, named once: B batch, T tokens, C hidden width (384), H heads (12), D head width
(C / H = 32), F feed-forward width (1536), V vocabulary (30522).

BERT is not GPT, and each difference silently breaks parity if copied from a GPT block:
LayerNorm comes after each residual add (post-norm) with eps 1e-12, GELU is the exact erf form,
attention looks both ways and only masks padding, and there are token-type embeddings.
Everything runs in float32, like the checkpoint, batched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf

from indexer.embedding.normalize import l2_normalize  # the tree's one normalization, shared with the service

from .tokenizer import WordPieceTokenizer

logger = logging.getLogger(__name__)

# Checkpoint entries that are not weights. position_ids is a buffer holding arange(512);
# we index the position table with np.arange(T) instead.
IGNORED_KEYS = frozenset({"embeddings.position_ids"})


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522  # V: rows of the word-embedding table, one per WordPiece token
    hidden_size: int = 384  # C: width of every token vector, in and out of each layer
    num_hidden_layers: int = 6  # how many attention + FFN blocks are stacked
    num_attention_heads: int = 12  # H: heads per block; each one sees D = C / H = 32 dimensions
    intermediate_size: int = 1536  # F: the FFN widens each token to 4 * C, then narrows it back
    max_position_embeddings: int = 512  # rows of the position table: a hard limit on T
    type_vocab_size: int = 2  # segment ids (sentence A / B); a single text is all segment 0
    layer_norm_eps: float = 1e-12  # BERT's LayerNorm epsilon (PyTorch's default 1e-5 is wrong here)
    hidden_act: str = "gelu"  # exact erf GELU, not GPT-2's tanh approximation
    pad_token_id: int = 0  # id of [PAD]; padded positions are masked, so its vector never matters

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_json(cls, path: str | Path) -> BertConfig:
        """Read Hugging Face's config.json, refusing variants this file does not implement."""
        raw = json.loads(Path(path).read_text())
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{path}: hidden_act {raw['hidden_act']!r} is not implemented, only 'gelu'")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only absolute position embeddings are implemented")
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in raw.items() if k in known})
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(f"{path}: hidden_size must be a multiple of num_attention_heads")
        return config


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU(x) = x * P(N(0,1) <= x), with the exact erf, as BERT was trained."""
    return (0.5 * x * (1.0 + erf(x * np.float32(1 / np.sqrt(2))))).astype(np.float32, copy=False)


def softmax_(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in place (the (B, H, T, T) scores are the largest array we make).

    Subtracting the row max keeps exp() in range and turns -inf into weight exactly 0.
    """
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


class Linear:
    """y = x W^T + b, with W stored (out, in) as in the checkpoint."""

    def __init__(self, n_in: int, n_out: int) -> None:
        self.weight = np.zeros((n_out, n_in), dtype=np.float32)
        self.bias = np.zeros(n_out, dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias

    def params(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight, "bias": self.bias}


class LayerNorm:
    """Normalize each token vector to mean 0, variance 1, then scale and shift per feature."""

    def __init__(self, dim: int, eps: float) -> None:
        self.weight = np.ones(dim, dtype=np.float32)
        self.bias = np.zeros(dim, dtype=np.float32)
        self.eps = eps

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = np.square(x - mean).mean(axis=-1, keepdims=True)  # biased variance, as PyTorch
        return (x - mean) / np.sqrt(var + np.float32(self.eps)) * self.weight + self.bias

    def params(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight, "bias": self.bias}


class Embeddings:
    """Token ids -> vectors: what the word is, plus where it is, plus which segment it is in."""

    def __init__(self, config: BertConfig) -> None:
        C = config.hidden_size
        self.word_embeddings = np.zeros((config.vocab_size, C), dtype=np.float32)
        self.position_embeddings = np.zeros((config.max_position_embeddings, C), dtype=np.float32)
        self.token_type_embeddings = np.zeros((config.type_vocab_size, C), dtype=np.float32)
        self.LayerNorm = LayerNorm(C, config.layer_norm_eps)

    def parts(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three addends, kept apart so a trace can show them: (B, T, C), (1, T, C), (1, 1, C)."""
        T = ids.shape[1]
        if T > len(self.position_embeddings):
            raise ValueError(f"{T} tokens exceed the {len(self.position_embeddings)} learned positions")
        word = self.word_embeddings[ids]  # (B, T, C)
        position = self.position_embeddings[np.arange(T)][None]  # (1, T, C): token t gets row t
        token_type = self.token_type_embeddings[0][None, None]  # (1, 1, C): segment 0 everywhere
        return word, position, token_type

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        word, position, token_type = self.parts(ids)
        return self.LayerNorm(word + token_type + position)  # (B, T, C); HF's order of the sum

    def params(self) -> dict[str, np.ndarray]:
        return {
            "word_embeddings.weight": self.word_embeddings,
            "position_embeddings.weight": self.position_embeddings,
            "token_type_embeddings.weight": self.token_type_embeddings,
            **_prefixed("LayerNorm", self.LayerNorm.params()),
        }


class SelfAttention:
    """Every token looks at every real token of its text (both directions), in H heads at once."""

    def __init__(self, config: BertConfig) -> None:
        C = config.hidden_size
        self.n_head = config.num_attention_heads
        self.query, self.key, self.value = Linear(C, C), Linear(C, C), Linear(C, C)
        self.output = Linear(C, C)  # mixes the heads' results back into one vector per token

    def __call__(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (B, T, C), mask (B, T) of 0/1 -> output (B, T, C) and weights (B, H, T, T)."""
        B, T, C = x.shape
        H, D = self.n_head, C // self.n_head

        def heads(t: np.ndarray) -> np.ndarray:
            return t.reshape(B, T, H, D).transpose(0, 2, 1, 3)  # (B, T, C) -> (B, H, T, D)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = q @ k.transpose(0, 1, 3, 2)  # (B, H, T, T): query i . key j, for every pair
        scores /= np.float32(np.sqrt(D))  # keeps the dot products' spread independent of D
        # Padding is a key nobody may look at: adding -inf there makes its weight exactly 0.
        # Padded *queries* still get rows of weights; pooling drops those tokens later.
        scores += np.where(mask > 0, np.float32(0), np.float32(-np.inf))[:, None, None, :]  # (B, 1, 1, T)
        weights = softmax_(scores)  # (B, H, T, T): row i = how token i spreads its attention
        y = weights @ v  # (B, H, T, D)
        y = y.transpose(0, 2, 1, 3).reshape(B, T, C)  # (B, T, C): the heads side by side again
        return self.output(y), weights


class Layer:
    """One encoder block, post-norm: h = LN(x + attention(x)); out = LN(h + FFN(h))."""

    def __init__(self, config: BertConfig) -> None:
        C, F, eps = config.hidden_size, config.intermediate_size, config.layer_norm_eps
        self.attention = SelfAttention(config)
        self.attention_norm = LayerNorm(C, eps)
        self.intermediate = Linear(C, F)  # widen: (B, T, C) -> (B, T, F)
        self.output = Linear(F, C)  # narrow back: (B, T, F) -> (B, T, C)
        self.output_norm = LayerNorm(C, eps)

    def attend(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tokens exchange information: (B, T, C) -> (B, T, C), plus the weights (B, H, T, T)."""
        update, weights = self.attention(x, mask)
        return self.attention_norm(x + update), weights

    def feed_forward(self, h: np.ndarray) -> np.ndarray:
        """Each token is transformed on its own, the same MLP at every position: (B, T, C)."""
        return self.output_norm(h + self.output(gelu(self.intermediate(h))))

    def __call__(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, weights = self.attend(x, mask)
        return self.feed_forward(h), weights

    def params(self) -> dict[str, np.ndarray]:
        a = self.attention
        return {
            **_prefixed("attention.self.query", a.query.params()),
            **_prefixed("attention.self.key", a.key.params()),
            **_prefixed("attention.self.value", a.value.params()),
            **_prefixed("attention.output.dense", a.output.params()),
            **_prefixed("attention.output.LayerNorm", self.attention_norm.params()),
            **_prefixed("intermediate.dense", self.intermediate.params()),
            **_prefixed("output.dense", self.output.params()),
            **_prefixed("output.LayerNorm", self.output_norm.params()),
        }


class Pooler:
    """BERT's [CLS] head, tanh(W h_cls + b), trained for next-sentence prediction.

    Sentence embeddings do not use it (they mean-pool instead), but its weights are part of the
    checkpoint, so we load, count and test it rather than leave keys unexplained.
    """

    def __init__(self, config: BertConfig) -> None:
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def __call__(self, hidden: np.ndarray) -> np.ndarray:
        return np.tanh(self.dense(hidden[:, 0]))  # (B, T, C) -> (B, C)

    def params(self) -> dict[str, np.ndarray]:
        return _prefixed("dense", self.dense.params())


@dataclass
class EncoderOutput:
    last_hidden_state: np.ndarray  # (B, T, C)
    hidden_states: list[np.ndarray]  # if asked: embeddings output, then each layer's: L + 1 of (B, T, C)
    attentions: list[np.ndarray]  # if asked: one (B, H, T, T) per layer


class BertEncoder:
    """The checkpoint's network: embeddings, a stack of layers, and the (unused) pooler."""

    def __init__(self, config: BertConfig) -> None:
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = [Layer(config) for _ in range(config.num_hidden_layers)]
        self.pooler = Pooler(config)

    def __call__(self, ids: np.ndarray, mask: np.ndarray, *, output_states: bool = False) -> EncoderOutput:
        """ids and mask (B, T) -> final hidden states (B, T, C); with output_states, every layer's too.

        Keeping states is off by default: the attention weights alone are 6 x (B, H, T, T) floats,
        600 MB for a batch of 32 texts of 256 tokens.
        """
        x = self.embeddings(ids)  # (B, T, C)
        hidden_states, attentions = ([x] if output_states else []), []
        for layer in self.layers:
            x, weights = layer(x, mask)  # (B, T, C), (B, H, T, T)
            if output_states:
                hidden_states.append(x)
                attentions.append(weights)
        return EncoderOutput(last_hidden_state=x, hidden_states=hidden_states, attentions=attentions)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Checkpoint key -> our array (the same object, so writing into it loads the weight)."""
        sd = _prefixed("embeddings", self.embeddings.params())
        for i, layer in enumerate(self.layers):
            sd |= _prefixed(f"encoder.layer.{i}", layer.params())
        return sd | _prefixed("pooler", self.pooler.params())

    def num_parameters(self) -> int:
        return sum(p.size for p in self.state_dict().values())


def assign(dst: np.ndarray, src: np.ndarray, name: str) -> None:
    """Copy one checkpoint tensor into our array, loudly: a wrong shape names the tensor."""
    if dst.shape != src.shape:
        raise ValueError(f"shape mismatch for {name}: model expects {dst.shape}, checkpoint has {src.shape}")
    dst[...] = src


def load_weights(encoder: BertEncoder, checkpoint: dict[str, np.ndarray]) -> None:
    """Fill every weight from the checkpoint; fail on any key missing, extra or misshapen."""
    ours = encoder.state_dict()
    unexpected = sorted(set(checkpoint) - set(ours) - IGNORED_KEYS)
    if unexpected:
        raise KeyError(f"checkpoint keys the model has no place for: {unexpected}")
    missing = sorted(set(ours) - set(checkpoint))
    if missing:
        raise KeyError(f"model weights absent from the checkpoint: {missing}")
    for name, dst in ours.items():
        assign(dst, checkpoint[name], name)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average the token vectors of each text, padding excluded: (B, T, C), (B, T) -> (B, C)."""
    m = mask[:, :, None].astype(hidden.dtype)  # (B, T, 1)
    counts = np.clip(m.sum(axis=1), 1e-9, None)  # (B, 1); the clamp only matters for empty rows
    return (hidden * m).sum(axis=1) / counts


class MiniLM:
    """Sentence embeddings: tokenizer + BertEncoder + masked mean pooling + L2 normalization."""

    def __init__(self, encoder: BertEncoder, tokenizer: WordPieceTokenizer, name: str = "") -> None:
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.config = encoder.config
        self.name = name

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, *, name: str | None = None) -> MiniLM:
        """Load a sentence-transformers folder: config.json, model.safetensors, vocab.txt."""
        model_dir = Path(model_dir)
        encoder = BertEncoder(BertConfig.from_json(model_dir / "config.json"))
        load_weights(encoder, load_file(str(model_dir / "model.safetensors")))
        tokenizer = WordPieceTokenizer.from_model_dir(model_dir)
        logger.info("loaded %s: %d parameters", model_dir, encoder.num_parameters())
        return cls(encoder, tokenizer, name=name or model_dir.name)

    @property
    def dim(self) -> int:
        return self.config.hidden_size

    def _batches(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield (positions in texts, final hidden states (B, T, C), mask (B, T)).

        Texts are sorted by length first, so each batch pads to a similar length and little work
        goes into padding (sentence-transformers does the same).
        """
        if isinstance(texts, str):
            raise TypeError("pass a list of texts; wrap a single text in a list")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        encodings = [self.tokenizer.encode(t) for t in texts]
        order = np.argsort([-len(e) for e in encodings], kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            T = max(len(encodings[i]) for i in idx)
            ids = np.zeros((len(idx), T), dtype=np.int64)  # (B, T), [PAD] = 0
            mask = np.zeros((len(idx), T), dtype=np.int64)  # (B, T)
            for row, i in enumerate(idx):
                ids[row, : len(encodings[i])] = encodings[i].ids
                mask[row, : len(encodings[i])] = 1
            yield idx, self.encoder(ids, mask).last_hidden_state, mask

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, normalize: bool = True) -> np.ndarray:
        """Texts -> (n, C) float32 unit vectors; cosine similarity is their dot product.

        ``normalize=False`` returns the pooled vectors (the service normalizes them itself, once)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, hidden, mask in self._batches(texts, batch_size):
            pooled = mean_pool(hidden, mask)  # (B, C)
            out[idx] = l2_normalize(pooled) if normalize else pooled
        return out

    def token_embeddings(self, texts: Sequence[str], *, batch_size: int = 32) -> list[np.ndarray]:
        """Texts -> the last layer's vector for each token, [CLS] and [SEP] included: (T_i, C) each."""
        out: list[np.ndarray] = [np.empty((0, self.dim), dtype=np.float32)] * len(texts)
        for idx, hidden, mask in self._batches(texts, batch_size):
            for row, i in enumerate(idx):
                out[i] = hidden[row, : mask[row].sum()].copy()
        return out


def _prefixed(prefix: str, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}.{name}": p for name, p in params.items()}
