"""Text that is only in pixels: images (PNG, JPEG, TIFF, WebP, GIF, BMP) and scanned PDF pages, by OCR.

The engine is Tesseract (Debian's ``tesseract-ocr``, one ``tesseract-ocr-LANG`` package per language),
chosen with figures (``benchmarks/ocr.py``, docs/performance.md): on eleven rendered pictures (five fonts,
two smaller sizes, a skewed page, a low-contrast photo, German and French text) it read 99.9 % of the
characters right against RapidOCR's 95.5 %, 4-8x faster, in 22 MB (plus 1-2 MB a language) against
392 MB, and it has data for every language a collection can have (RapidOCR's bundled models read
Chinese and English only).

Tesseract runs as a child process, one per page (``tesseract stdin stdout tsv``, the page in and the TSV
out through temporary files): its TSV output gives each word's confidence, and a child can be killed,
which is how a page over ``OcrOptions.page_seconds`` stops and how a cancelled run stops within a page.
(``pytesseract`` runs the same command but can only time out, not be cancelled from another thread, so
it is not used.)

Each recognised page is a part with ``page`` (1-based), ``ocr: true`` and ``ocr_confidence`` (0-1: the
engine's word confidences averaged over the page's characters).
"""

from __future__ import annotations

import functools
import io
import logging
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indexer.readers.base import Extracted, OcrOptions, ReadCancelled, ReadLimits, SkipFile, TextBuilder, summarize

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff", ".bmp"})
INSTALL = ("install Tesseract and semsearch[ocr] to read images (apt-get install tesseract-ocr, and "
           "tesseract-ocr-deu ... for other languages; pip install 'semsearch[ocr]')")
# ISO 639-1 (the collections' languages, indexer.analysis.languages) -> Tesseract's traineddata names.
TESSERACT_LANGUAGES: dict[str, str] = {
    "ar": "ara", "ca": "cat", "cs": "ces", "da": "dan", "de": "deu", "el": "ell", "en": "eng", "eo": "epo",
    "es": "spa", "et": "est", "eu": "eus", "fa": "fas", "fi": "fin", "fr": "fra", "ga": "gle", "hi": "hin",
    "hu": "hun", "hy": "hye", "id": "ind", "it": "ita", "lt": "lit", "ne": "nep", "nl": "nld", "no": "nor",
    "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sr": "srp", "sv": "swe", "ta": "tam", "tr": "tur",
    "yi": "yid", "zh": "chi_sim", "ja": "jpn", "ko": "kor",
}
FALLBACK = "eng"
POLL = 0.1  # seconds between looks at the cancel event while a page is recognised


class OcrUnavailable(Exception):
    """The engine (or Pillow) is not installed, or OCR is turned off; the message says what to do."""


@dataclass(frozen=True)
class Engine:
    """An installed Tesseract: its program and the languages it has data for."""

    program: str
    installed: frozenset[str]

    def language_for(self, options: OcrOptions) -> str:
        """Tesseract's ``-l`` argument: ``options.languages`` as given, else the collection's language mapped
        to Tesseract's name when its data is installed, else English (``auto``: English; set
        ``languages``, e.g. ``eng+deu``, for folders in several languages)."""
        if options.languages:
            return options.languages
        wanted = TESSERACT_LANGUAGES.get(options.language, FALLBACK)
        if wanted not in self.installed:
            logger.warning("OCR: no Tesseract data for %r (%s); reading in English (apt-get install tesseract-ocr-%s)",
                           options.language, wanted, wanted.replace("_", "-"))
            return FALLBACK
        return wanted


@functools.lru_cache(maxsize=8)
def _find_engine(command: str) -> Engine:
    program = shutil.which(command)
    if program is None:
        raise OcrUnavailable(f"the OCR engine {command!r} is not installed; {INSTALL}")
    try:
        out = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise OcrUnavailable(f"the OCR engine {command!r} does not run ({summarize(exc)}); {INSTALL}") from exc
    langs = frozenset(line.strip() for line in out.stdout.splitlines()[1:] if line.strip())
    return Engine(program, langs)


def engine(options: OcrOptions) -> Engine:
    """The engine ``options`` name, found once per process; raises :class:`OcrUnavailable`."""
    if not options.enabled:
        raise OcrUnavailable("OCR is turned off (SEMSEARCH_OCR=false); turn it on to read images")
    try:
        import PIL.Image  # noqa: F401  (the semsearch[ocr] extra; sentence-transformers brings it too)
    except ImportError as exc:
        raise OcrUnavailable(f"Pillow is not installed; {INSTALL}") from exc
    return _find_engine(options.command)


@dataclass(frozen=True)
class Recognised:
    text: str
    confidence: float | None  # 0-1, None when no word was found


def recognise(image: Image, options: OcrOptions, *, page: int = 1) -> Recognised:
    """The text of one page image. Raises :class:`SkipFile` (``over_limit``) past ``page_seconds``,
    :class:`ReadCancelled` when ``options.cancel`` is set meanwhile."""
    eng = engine(options)
    gray = image.convert("L")  # Tesseract binarises anyway; PGM is the cheapest format to hand over
    buf = io.BytesIO()
    gray.save(buf, "PPM")
    # OMP_THREAD_LIMIT=1: Tesseract's OpenMP threads only slow it down on a machine that is busy anyway
    # (paperless-ngx and OCRmyPDF set the same); files are read one at a time per indexing run. Set by
    # env(1), which execs Tesseract in its place (same pid, so a cancel's SIGTERM reaches it): the
    # library reads no environment, not even to copy it.
    cmd = ["env", "OMP_THREAD_LIMIT=1", eng.program, "stdin", "stdout", "-l", eng.language_for(options), "--psm", "3",
           "tsv"]
    # The page goes in and the TSV comes out through unnamed temporary files, not pipes: with pipes a
    # large page needs communicate(), whose timeout cannot be retried with input (Python refuses to
    # send it again, and then never sends the rest), and polling for a cancel needs timeouts.
    with tempfile.TemporaryFile() as page_in, tempfile.TemporaryFile() as tsv_out, \
            tempfile.TemporaryFile() as errors:
        page_in.write(buf.getvalue())
        page_in.seek(0)
        del buf
        proc = subprocess.Popen(cmd, stdin=page_in, stdout=tsv_out, stderr=errors)
        deadline = time.monotonic() + options.page_seconds
        while True:
            try:
                proc.wait(timeout=POLL)
                break
            except subprocess.TimeoutExpired:
                cancelled = options.cancel is not None and options.cancel.is_set()
                if cancelled or time.monotonic() > deadline:
                    stop(proc)
                    if cancelled:
                        raise ReadCancelled(f"cancelled while recognising page {page}") from None
                    raise SkipFile("over_limit", f"page {page} took longer than {options.page_seconds:g} s to "
                                   "recognise (SEMSEARCH_OCR_PAGE_SECONDS)") from None
        tsv_out.seek(0)
        out = tsv_out.read()
        errors.seek(0)
        err = errors.read()
    if proc.returncode != 0:
        message = " ".join(err.decode("utf-8", "replace").split())[-200:]
        raise SkipFile("unreadable", f"OCR failed on page {page} ({message or f'exit status {proc.returncode}'})")
    return parse_tsv(out.decode("utf-8", "replace"))


# Chinese and Japanese are written without spaces, but Tesseract reports their text as "words" of a few
# characters: joined with spaces, "机器学习" would become "机器 学习", and the keyword index's bigrams (and
# a reader) would lose the pairs across each space. (Korean puts spaces between words: not here.)
_UNSPACED = re.compile("[\u2e80-\u2fdf\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def join_words(words: list[str]) -> str:
    out = words[0]
    for word in words[1:]:
        out += word if _UNSPACED.match(out[-1]) and _UNSPACED.match(word[0]) else " " + word
    return out


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End the engine's process: SIGTERM (it holds nothing worth a clean exit), SIGKILL if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def parse_tsv(tsv: str) -> Recognised:
    """Tesseract's TSV (one row per word: block, paragraph, line, confidence, text) -> lines joined by
    newlines, paragraphs by blank lines, and the confidence averaged over the words' characters."""
    lines: dict[tuple[int, int, int], list[str]] = {}
    weighted = chars = 0.0
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        word, conf = cols[11].strip(), float(cols[10])
        lines.setdefault((int(cols[2]), int(cols[3]), int(cols[4])), []).append(word)
        if conf >= 0:
            weighted += conf * len(word)
            chars += len(word)
    out: list[str] = []
    previous: tuple[int, int] | None = None
    for (block, par, _), words in lines.items():
        if previous is not None:
            out.append("\n\n" if previous != (block, par) else "\n")
        out.append(join_words(words))
        previous = (block, par)
    return Recognised("".join(out), round(weighted / chars / 100, 3) if chars else None)


def add_page(out: TextBuilder, image: Image, number: int, options: OcrOptions, *, done: int, total: int) -> None:
    """Recognise page ``number`` into ``out`` as a part of its own; then tell ``options.on_page`` that
    ``done`` of the ``total`` pages to recognise in this file are done."""
    result = recognise(image, options, page=number)
    out.part(page=number, ocr=True, ocr_confidence=result.confidence)
    out.add(result.text)
    if options.on_page is not None:
        options.on_page(done, total)


def check_pages(count: int, options: OcrOptions, what: str) -> None:
    if count > options.max_pages:
        raise SkipFile("over_limit", f"{what} has {count} pages to recognise, over the {options.max_pages}-page "
                       "OCR limit (SEMSEARCH_OCR_MAX_PAGES)")


def check_pixels(width: int, height: int, options: OcrOptions) -> None:
    if width * height > options.max_pixels:
        raise SkipFile("over_limit", f"the image is {width}x{height} pixels, over the {options.max_pixels:,}-pixel "
                       "OCR limit (SEMSEARCH_OCR_MAX_PIXELS)")


def read_image(data: bytes, limits: ReadLimits) -> Extracted:
    """An image file: every frame of a TIFF (a scanned document), the first of a GIF or WebP."""
    options = limits.ocr
    try:
        engine(options)
    except OcrUnavailable as exc:
        raise SkipFile("unsupported", f"images are read by OCR: {exc}") from exc
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))  # reads the header only: the size is checked before decoding
    except Image.DecompressionBombError as exc:  # (Pillow's own bound, past 2 x its MAX_IMAGE_PIXELS)
        raise SkipFile("over_limit", f"the image is over Pillow's decompression-bomb limit ({summarize(exc)})") \
            from exc
    except UnidentifiedImageError as exc:  # (its message names a BytesIO object: useless to a person)
        raise SkipFile("unreadable", "the file is not an image Pillow can decode (broken, or named for "
                       "another format)") from exc
    except OSError as exc:
        raise SkipFile("unreadable", f"the image could not be read ({summarize(exc)})") from exc
    with img:
        check_pixels(*img.size, options)
        multipage = img.format == "TIFF"
        frames = getattr(img, "n_frames", 1) if multipage else 1
        check_pages(frames, options, "the TIFF")

        out = TextBuilder(limits)
        for i in range(frames):
            img.seek(i)
            check_pixels(*img.size, options)
            # A phone photo is stored as the sensor saw it, with the rotation in EXIF: apply it.
            page = ImageOps.exif_transpose(img).convert("RGB")
            add_page(out, page, i + 1, options, done=i + 1, total=frames)
        metadata: dict[str, Any] = {"format": img.format, "width": img.size[0], "height": img.size[1],
                                    "ocr_pages": frames}
        if multipage:
            metadata["pages"] = frames
    result = out.build(metadata)
    if not result.text.strip():
        raise SkipFile("empty", "no text was recognised in the image")
    return result
