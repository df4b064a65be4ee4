"""OCR figures: which engine, how well, how fast, and what a scanned folder costs to index.

1. Engines side by side on pictures the tests render (tests/ocr_samples.py: five fonts at 40 px, a small
   size, a 15 px screenshot, a page skewed 3 degrees, a low-contrast noisy JPEG "photo", a German and a
   French page): character accuracy (1 - Levenshtein distance / length of the true text, whitespace
   runs folded to one space; rapidfuzz), seconds per page, and install size. Tesseract is run the way
   the reader runs it (``indexer.readers.ocr.recognise``, the page's language); RapidOCR
   (``rapidocr-onnxruntime``, models inside the wheel) when it is installed.
2. Index time of a folder of 50 scanned pages (A4 pages of text rendered to pictures, 5 per PDF, no text
   layer) against the same folder as text PDFs, with the bundled model and the embedded store.

    .venv/bin/python benchmarks/ocr.py [--pages 50] [--skip-index] [--skip-rapidocr]

Prints the CPU's features and the load average (``uptime``) with the figures.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone: the app next to this folder

from indexer.readers.base import OcrOptions  # noqa: E402
from tests.ocr_samples import ENGLISH, FRENCH, GERMAN, Sample, sample_set, scanned_pdf, text_page  # noqa: E402

TESSERACT_PACKAGES = ("tesseract-ocr", "libtesseract5", "liblept5", "tesseract-ocr-eng", "tesseract-ocr-osd")
RAPIDOCR_DISTS = ("rapidocr-onnxruntime", "onnxruntime", "opencv-python", "shapely", "pyclipper", "flatbuffers")


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def accuracy(got: str, truth: str) -> float:
    from rapidfuzz.distance import Levenshtein

    got = " ".join(got.split())
    return max(0.0, 1 - Levenshtein.distance(got, truth) / len(truth))


def tesseract(sample: Sample) -> str:
    from indexer.readers.ocr import recognise

    return recognise(sample.image, OcrOptions(language=sample.language)).text


def rapidocr_engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def rapidocr(engine: Any, sample: Sample) -> str:
    import numpy as np

    result, _ = engine(np.array(sample.image.convert("RGB")))
    return " ".join(r[1] for r in result or [])


def dpkg_size(packages: tuple[str, ...]) -> float:
    """MB the Debian packages take installed (dpkg's Installed-Size, KiB)."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Installed-Size}\n", *packages], capture_output=True, text=True)
    return sum(int(x) for x in out.stdout.split() if x.isdigit()) / 1024


def dist_size(names: tuple[str, ...]) -> float:
    """MB the Python distributions take in site-packages (their RECORD's files)."""
    total = 0
    for name in names:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for f in dist.files or []:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                total += path.stat().st_size
    return total / 1024**2


def engines(skip_rapidocr: bool) -> None:
    samples = sample_set()
    runs: dict[str, Any] = {"tesseract": tesseract}
    if not skip_rapidocr:
        try:
            engine = rapidocr_engine()
            runs["rapidocr"] = lambda s: rapidocr(engine, s)
        except ImportError:
            print("(rapidocr-onnxruntime is not installed: Tesseract only)")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    print(f"{'sample':36s} {'pixels':>10s} " + " ".join(f"{n + ' acc':>14s} {'s/page':>7s}" for n in runs))
    for sample in samples:
        row = f"{sample.name:36s} {sample.image.size[0]}x{sample.image.size[1]:<5d}"
        for name, run in runs.items():
            t0 = time.perf_counter()
            got = run(sample)
            seconds = time.perf_counter() - t0
            acc = accuracy(got, sample.text)
            results[name].append((acc, seconds))
            row += f" {acc:14.4f} {seconds:7.2f}"
        print(row)
    for name, rows in results.items():
        acc = statistics.mean(a for a, _ in rows)
        sec = statistics.mean(s for _, s in rows)
        print(f"{name}: mean character accuracy {acc:.4f} (worst {min(a for a, _ in rows):.4f}), "
              f"{sec:.2f} s/page = {1 / sec:.2f} pages/s over {len(rows)} pictures")
    print(f"install size: tesseract (apt: {', '.join(TESSERACT_PACKAGES)}) {dpkg_size(TESSERACT_PACKAGES):.0f} MB, "
          "+ about 1-15 MB per tesseract-ocr-LANG; "
          f"rapidocr (pip: {', '.join(RAPIDOCR_DISTS)}) {dist_size(RAPIDOCR_DISTS):.0f} MB")


def index_time(pages: int) -> None:
    from indexer.collection import Collection
    from indexer.embedding import load_embedder
    from indexer.stores.embedded import EmbeddedBackend
    from tests.indexer.readers.test_text_html_pdf import make_pdf

    texts = [" ".join([ENGLISH, GERMAN, FRENCH][i % 3].split()[: 40 + i % 7]) + f" Page {i + 1}." for i in range(pages)]
    per_file = 5
    from app.settings import model_cache_dir

    embedder = load_embedder(model_cache=model_cache_dir())  # (the converted graph, kept between runs)
    with tempfile.TemporaryDirectory() as tmp:
        scans, text = Path(tmp) / "scans", Path(tmp) / "text"
        scans.mkdir()
        text.mkdir()
        for f in range(0, pages, per_file):
            group = texts[f:f + per_file]
            (scans / f"scan-{f // per_file:02d}.pdf").write_bytes(scanned_pdf([text_page(t) for t in group]))
            (text / f"text-{f // per_file:02d}.pdf").write_bytes(make_pdf(group))
        embedder.embed(["warm up"])
        for name, folder in (("text PDFs", text), ("scanned PDFs", scans)):
            with Collection.open(EmbeddedBackend(Path(tmp) / f"data-{name[:4]}"), "bench", embedder) as c:
                report = c.index_folder(folder)
            print(f"index {pages} pages as {name:12s}: {report.added} files, {report.chunks_embedded} chunks, "
                  f"{report.ocr_pages} pages by OCR, {report.seconds:.1f} s ({pages / report.seconds:.2f} pages/s; "
                  f"embedding {report.embed_seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=50, help="scanned pages in the index-time folder")
    parser.add_argument("--skip-index", action="store_true", help="only the engines' figures")
    parser.add_argument("--skip-rapidocr", action="store_true", help="Tesseract only")
    args = parser.parse_args()
    from indexer.embedding.cpu import cpu_features

    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    print(f"CPU: {cpu_features()}; {os.cpu_count()} cpus; {' '.join(version)}")
    print(f"load before: {load()}")
    engines(args.skip_rapidocr)
    print(f"load: {load()}")
    if not args.skip_index:
        index_time(args.pages)
        print(f"load after: {load()}")


if __name__ == "__main__":
    main()
