"""Indexing throughput for a folder of mixed Office files (.docx, .pptx, .xlsx in equal shares).

    .venv/bin/python benchmarks/readers_bench.py [--files 1000] [--seed 0]

Generates the files in a temporary folder (python-docx, python-pptx, openpyxl; a few paragraphs,
slides or rows of seeded random prose each), then measures two passes over them: reading alone
(``read_document`` on every file: the parse cost), and a real ``Collection.index_folder`` with the
default model (files/s, chunks/s, and how its time splits into embedding and everything else:
walk, hashing, parsing, chunking, writes). Prints the load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORDS = ("river harbour lantern meadow copper signal orchard granite voyage ledger timber quartz "
         "falcon cedar beacon canyon ember glacier thistle saffron compass anvil willow marsh").split()


def _prose(rng: random.Random, sentences: int) -> str:
    return " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
                    for _ in range(sentences))


def generate(folder: Path, n: int, seed: int) -> None:
    import docx
    import openpyxl
    import pptx

    rng = random.Random(seed)
    for i in range(n):
        kind = i % 3
        if kind == 0:
            doc = docx.Document()
            doc.add_heading(f"Report {i}", level=1)
            for _ in range(rng.randint(3, 8)):
                doc.add_paragraph(_prose(rng, rng.randint(2, 6)))
            doc.save(str(folder / f"report-{i:05d}.docx"))
        elif kind == 1:
            deck = pptx.Presentation()
            for s in range(rng.randint(2, 5)):
                slide = deck.slides.add_slide(deck.slide_layouts[1])
                slide.shapes.title.text = f"Slide {s} of deck {i}"
                slide.placeholders[1].text_frame.text = _prose(rng, 3)
                slide.notes_slide.notes_text_frame.text = _prose(rng, 1)
            deck.save(str(folder / f"deck-{i:05d}.pptx"))
        else:
            book = openpyxl.Workbook()
            sheet = book.active
            for r in range(rng.randint(10, 40)):
                sheet.append([f"row {r}", rng.randint(0, 999), _prose(rng, 1)])
            book.save(str(folder / f"book-{i:05d}.xlsx"))


def run(files: int, seed: int, embedder: Any = None, out: Any = sys.stdout) -> dict[str, float]:
    from indexer.collection import Collection
    from indexer.readers import read_document
    from indexer.stores.embedded import EmbeddedBackend

    if embedder is None:
        from indexer.embedding import load_embedder

        embedder = load_embedder()
    with tempfile.TemporaryDirectory(prefix="readers-bench-") as tmp:
        root = Path(tmp) / "office"
        root.mkdir()
        started = time.monotonic()
        generate(root, files, seed)
        print(f"generated {files} files in {time.monotonic() - started:.1f} s", file=out)

        per_format: dict[str, list[float]] = {}
        for path in sorted(root.iterdir()):
            t0 = time.monotonic()
            read_document(path, max_bytes=20 << 20)
            per_format.setdefault(path.suffix, []).append(time.monotonic() - t0)
        parse = sum(sum(v) for v in per_format.values())

        with Collection.open(EmbeddedBackend(Path(tmp) / "data"), "bench", embedder) as collection:
            report = collection.index_folder(root)
        figures = {
            "files": float(report.added), "chunks": float(report.chunks_embedded), "parse_seconds": parse,
            "index_seconds": report.seconds, "embed_seconds": report.embed_seconds,
            "files_per_second": report.added / report.seconds if report.seconds else 0.0,
            "chunks_per_second": report.chunks_embedded / report.seconds if report.seconds else 0.0,
        }
    load = os.getloadavg()
    print(f"read only : {files} files in {parse:.2f} s = {files / parse:.1f} files/s (parse)", file=out)
    print("  per file : " + ", ".join(f"{ext} {1000 * sum(v) / len(v):.1f} ms"
                                       for ext, v in sorted(per_format.items())), file=out)
    print(f"index     : {report.added} files, {report.chunks_embedded} chunks in {report.seconds:.2f} s = "
          f"{figures['files_per_second']:.1f} files/s, {figures['chunks_per_second']:.1f} chunks/s", file=out)
    print(f"  of which: embed {report.embed_seconds:.2f} s, everything else (walk, hash, parse, chunk, write) "
          f"{report.seconds - report.embed_seconds:.2f} s", file=out)
    print(f"skipped   : {len(report.skipped)}", file=out)
    print(f"load avg  : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) on {os.cpu_count()} CPUs", file=out)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="how many files to generate (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.files < 1:
        parser.error("--files must be at least 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run(args.files, args.seed)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
