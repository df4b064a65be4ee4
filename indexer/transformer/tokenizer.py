"""BERT's WordPiece tokenizer, from scratch, over the model's own vocab.txt.

Text becomes ids in four steps, each a small function below:

1. normalize: drop control characters, turn every whitespace into a space, put spaces around
   CJK ideographs, strip accents (NFD, then drop the combining marks), lowercase;
2. pre-tokenize: split on whitespace and around every punctuation character;
3. WordPiece: cut each word greedily into the longest pieces found in the vocabulary, the
   pieces after the first spelled with a leading "##"; a word that cannot be cut is [UNK];
4. frame: [CLS] + pieces + [SEP], truncated to the model's max length, padded for batches.

The reference is the tokenizer sentence-transformers actually runs: Hugging Face's Rust
BertNormalizer + BertPreTokenizer + WordPiece (tokenizer.json). It agrees with the older
Python BertTokenizer on ordinary text; where the two differ we follow the Rust one, and say so.

One known gap remains. Character categories come from Python's `unicodedata` (Unicode 14 on
Python 3.11), the reference's from an older table, so about 500 rare code points added or
re-categorized since (e.g. U+0890 ARABIC POUND MARK ABOVE, U+2E55 LEFT SQUARE BRACKET WITH
STROKE) split or vanish differently. A newer Python moves the gap, it does not close it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

# The special tokens of BERT's vocabulary. They are matched in the raw text before normalization,
# case-sensitively, as the reference does: "a [MASK] b" carries id 103, "a [mask] b" does not.
PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in (PAD, UNK, CLS, SEP, MASK)) + ")")

# Unicode's White_Space property (Rust's char::is_whitespace). Python's BertTokenizer only knows
# " \t\n\r" and category Zs, so it keeps U+2028/U+2029 inside words; the Rust normalizer makes
# them spaces, and so do we.
_WHITESPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
)


def _is_control(ch: str) -> bool:
    """Characters the normalizer deletes: U+FFFD and categories Cc, Cf, Co, Cs, except tab, CR, LF.

    Unassigned code points (Cn) stay: the Rust normalizer keeps them (they end up as [UNK]), while
    Python's BertTokenizer deletes them.
    """
    if ch in "\t\n\r":
        return False  # technically control characters, but they are whitespace to BERT
    return ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


@lru_cache(maxsize=65536)
def _is_punctuation(ch: str) -> bool:
    """BERT's punctuation: every ASCII non-alphanumeric symbol (so "$", "^", "`" count) plus category P*."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    """The CJK Unified Ideograph blocks. Each ideograph is its own word (no spaces in Chinese text);
    Japanese kana and Korean hangul are not in these blocks and stay inside words."""
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        # U+2B820..U+2B91F belong here too (Python's BertTokenizer has them), but the Rust reference
        # starts this range at U+2B920; we follow the tokenizer sentence-transformers runs.
        or 0x2B920 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


@lru_cache(maxsize=65536)
def _clean_char(ch: str) -> str:
    """What one character becomes in step 1 before accents and case: "", " ", " 中 " or itself."""
    if _is_control(ch):
        return ""
    if ch in _WHITESPACE:
        return " "
    if _is_cjk(ord(ch)):
        return f" {ch} "
    return ch


# What str.translate needs for the ASCII fast path: control characters -> None, whitespace -> " ".
_ASCII_TABLE = {cp: _clean_char(chr(cp)) or None for cp in range(128) if _clean_char(chr(cp)) != chr(cp)}


def normalize(text: str) -> str:
    """Step 1. Order matters and is the Rust normalizer's: clean, CJK, strip accents, lowercase."""
    if not text.isascii():
        text = "".join(map(_clean_char, text))
        # NFD splits "é" into "e" + U+0301 (a nonspacing mark, category Mn), which we drop.
        text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
        # Lowercase character by character: str.lower() turns a word-final capital sigma into "ς",
        # the reference (and BERT's vocabulary) maps every "Σ" to "σ".
        return "".join(ch.lower() for ch in text) if "Σ" in text else text.lower()
    # ASCII fast path: the only work left is deleting control characters and mapping whitespace.
    return text.translate(_ASCII_TABLE).lower()


def pre_tokenize(text: str) -> list[str]:
    """Step 2. Split a normalized text into words: at spaces, and around each punctuation mark."""
    words: list[str] = []
    for chunk in text.split(" "):  # after normalize() every whitespace is a plain space
        if chunk.isalnum():  # the common case: no punctuation inside
            words.append(chunk)
            continue
        start = 0
        for i, ch in enumerate(chunk):
            if _is_punctuation(ch):
                if start < i:
                    words.append(chunk[start:i])
                words.append(ch)
                start = i + 1
        if start < len(chunk):
            words.append(chunk[start:])
    return words


@dataclass(frozen=True)
class Encoding:
    """One text, tokenized: ids and tokens include [CLS] and [SEP]; no padding."""

    ids: list[int]
    tokens: list[str]
    truncated: bool  # True when pieces were cut off to fit max_length

    @property
    def attention_mask(self) -> list[int]:
        return [1] * len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        shown = " ".join(self.tokens[:12]) + (" ..." if len(self.tokens) > 12 else "")
        return f"Encoding({len(self.ids)} tokens: {shown})"


class WordPieceTokenizer:
    """BERT uncased tokenization: text -> [CLS] word ##pieces [SEP] ids, truncated and padded."""

    def __init__(
        self,
        vocab: dict[str, int],
        *,
        max_length: int = 256,
        max_input_chars_per_word: int = 100,
    ) -> None:
        if max_length < 2:
            raise ValueError(f"max_length must leave room for [CLS] and [SEP], got {max_length}")
        self.vocab = vocab
        self.inverse_vocab = {i: token for token, i in vocab.items()}
        self.max_length = max_length
        self.max_input_chars_per_word = max_input_chars_per_word
        self.pad_id, self.unk_id = vocab[PAD], vocab[UNK]
        self.cls_id, self.sep_id = vocab[CLS], vocab[SEP]
        # Words repeat a lot (Zipf), so cutting each distinct word once pays off. Per instance,
        # because the answer depends on this vocabulary.
        self._wordpiece = lru_cache(maxsize=200_000)(self._wordpiece_uncached)

    @classmethod
    def from_model_dir(cls, model_dir: str | Path) -> WordPieceTokenizer:
        """Read vocab.txt (line number = id) and max_seq_length from a sentence-transformers folder."""
        model_dir = Path(model_dir)
        lines = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the file ends with a newline; that is not an extra token
        vocab = {token: i for i, token in enumerate(lines)}
        st_config = model_dir / "sentence_bert_config.json"
        max_length = json.loads(st_config.read_text())["max_seq_length"] if st_config.exists() else 512
        return cls(vocab, max_length=max_length)

    def _wordpiece_uncached(self, word: str) -> tuple[str, ...]:
        """Step 3: greedy longest match, left to right. "unaffable" -> un ##aff ##able."""
        if len(word) > self.max_input_chars_per_word:
            return (UNK,)
        pieces: list[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:  # try the longest candidate first, then shrink it
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return (UNK,)  # some stretch matches nothing: the whole word is unknown, not just it
            pieces.append(piece)
            start = end
        return tuple(pieces)

    def tokenize(self, text: str) -> list[str]:
        """Steps 1-3: the WordPiece tokens of a text, without [CLS]/[SEP] and without truncation."""
        tokens: list[str] = []
        # re.split with a capturing group alternates: text, special, text, special, ..., text.
        parts = _SPECIAL_RE.split(text) if "[" in text else [text]
        for i, part in enumerate(parts):
            if i % 2 == 1:
                tokens.append(part)
                continue
            for word in pre_tokenize(normalize(part)):
                tokens.extend(self._wordpiece(word))
        return tokens

    def encode(self, text: str) -> Encoding:
        """Step 4: [CLS] + tokens + [SEP], keeping the first max_length - 2 tokens."""
        tokens = self.tokenize(text)
        room = self.max_length - 2
        truncated = len(tokens) > room
        tokens = [CLS, *tokens[:room], SEP]
        return Encoding(ids=[self.vocab[t] for t in tokens], tokens=tokens, truncated=truncated)

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Tokenize and right-pad to the longest text: ids (B, T) int64 and attention mask (B, T) int64.

        The mask is 1 on real tokens and 0 on [PAD]; attention and pooling must ignore the zeros.
        """
        if isinstance(texts, str):
            raise TypeError("encode_batch takes a list of texts; wrap a single text in a list")
        encodings = [self.encode(text) for text in texts]
        T = max((len(e) for e in encodings), default=2)
        ids = np.full((len(encodings), T), self.pad_id, dtype=np.int64)  # (B, T)
        mask = np.zeros((len(encodings), T), dtype=np.int64)  # (B, T)
        for row, e in enumerate(encodings):
            ids[row, : len(e)] = e.ids
            mask[row, : len(e)] = 1
        return ids, mask

    def ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        """Ids back to tokens (not to text: lowercasing and accent stripping cannot be undone)."""
        return [self.inverse_vocab.get(int(i), UNK) for i in ids]
