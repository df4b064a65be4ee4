"""BEIR-format datasets: corpus.jsonl, queries.jsonl and qrels/<split>.tsv, checked line by line."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class BeirDataset:
    """A BEIR dataset split: documents, the split's queries and their relevance judgements."""

    corpus: dict[str, tuple[str, str]]  # doc_id -> (title, text)
    queries: dict[str, str]  # only the queries that appear in the qrels split
    qrels: dict[str, dict[str, int]]  # query_id -> {doc_id: relevance}

    def document_text(self, doc_id: str) -> str:
        """Title + " " + text, stripped (BEIR convention); just the text when there is no title."""
        title, text = self.corpus[doc_id]
        return f"{title} {text}".strip()

    @property
    def num_qrels(self) -> int:
        """Number of (query, document) judgements."""
        return sum(len(docs) for docs in self.qrels.values())


# --- loading ----------------------------------------------------------------------------------


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"BEIR {what} file not found: {path}")


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or "_id" not in record:
                raise ValueError(f"{path}:{line_no}: expected a JSON object with an '_id' field")
            yield line_no, record


def _text_field(record: Mapping[str, object], key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value)


def _load_corpus(path: Path) -> dict[str, tuple[str, str]]:
    corpus: dict[str, tuple[str, str]] = {}
    for line_no, record in _iter_jsonl(path):
        doc_id = str(record["_id"])
        if doc_id in corpus:
            logger.warning("%s:%d: duplicate document id %r; keeping the last one", path, line_no, doc_id)
        corpus[doc_id] = (_text_field(record, "title"), _text_field(record, "text"))
    return corpus


def _load_queries(path: Path) -> dict[str, str]:
    return {str(record["_id"]): _text_field(record, "text") for _, record in _iter_jsonl(path)}


def _load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 3:
                expected = "'query-id<TAB>corpus-id<TAB>score'"
                raise ValueError(f"{path}:{line_no}: expected {expected}, got {row!r}")
            query_id, doc_id, score_text = row[0].strip(), row[1].strip(), row[2].strip()
            try:
                score = int(score_text)
            except ValueError:
                try:
                    score = int(float(score_text))
                except ValueError:
                    if line_no == 1:  # header row, e.g. "query-id corpus-id score"
                        continue
                    raise ValueError(f"{path}:{line_no}: relevance {score_text!r} is not a number") from None
            qrels.setdefault(query_id, {})[doc_id] = score
    return qrels


def load_beir(path: Path, *, split: str = "test") -> BeirDataset:
    """Load ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/{split}.tsv`` from a BEIR directory."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"BEIR dataset directory not found: {path}")
    corpus_path = path / "corpus.jsonl"
    queries_path = path / "queries.jsonl"
    qrels_path = path / "qrels" / f"{split}.tsv"
    _require_file(corpus_path, "corpus")
    _require_file(queries_path, "queries")
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (path / "qrels").glob("*.tsv"))
        hint = f" (available splits: {', '.join(available)})" if available else ""
        raise FileNotFoundError(f"BEIR qrels file for split {split!r} not found: {qrels_path}{hint}")

    corpus = _load_corpus(corpus_path)
    all_queries = _load_queries(queries_path)
    qrels = _load_qrels(qrels_path)

    missing = [qid for qid in qrels if qid not in all_queries]
    if missing:
        raise ValueError(
            f"{qrels_path}: {len(missing)} query id(s) are not in {queries_path.name}, e.g. {missing[:5]}"
        )
    unknown_docs = {doc for docs in qrels.values() for doc in docs if doc not in corpus}
    if unknown_docs:
        logger.warning(
            "%s: %d judged document id(s) are not in the corpus, e.g. %s",
            qrels_path,
            len(unknown_docs),
            sorted(unknown_docs)[:5],
        )
    queries = {qid: all_queries[qid] for qid in qrels}
    logger.info(
        "loaded BEIR %s (%s): %d documents, %d queries, %d judgements",
        path.name,
        split,
        len(corpus),
        len(queries),
        sum(len(d) for d in qrels.values()),
    )
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels)

