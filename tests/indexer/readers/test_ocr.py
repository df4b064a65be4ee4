"""OCR of images and scanned PDF pages (indexer/readers/ocr.py) with the real engine, Tesseract, on pictures
rendered here (tests/ocr_samples.py); without the engine, the skip reason says what to install."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from indexer.readers import ReadLimits, SkipFile, read_bytes
from indexer.readers.base import OcrOptions, ReadCancelled
from indexer.readers.ocr import TESSERACT_LANGUAGES, Engine, parse_tsv
from tests.ocr_samples import GERMAN, encode, render, scanned_pdf

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="Tesseract is not installed (make install-test installs it as root)")


def ocr(**options: object) -> ReadLimits:
    return ReadLimits(ocr=OcrOptions(**options))  # type: ignore[arg-type]


@needs_tesseract
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "TIFF"])
def test_a_screenshot_is_read_with_its_page_and_ocr_metadata(fmt: str) -> None:
    doc = read_bytes(f"shot.{fmt.lower()}", encode(render("Invoice 4711 from Zanzibarian Widgets", size=18), fmt))
    assert "Zanzibarian" in doc.text and "4711" in doc.text
    assert doc.metadata["ocr_pages"] == 1 and doc.metadata["format"] == fmt
    [part] = doc.parts
    assert part.metadata["page"] == 1 and part.metadata["ocr"] is True
    assert 0.5 < part.metadata["ocr_confidence"] <= 1


@needs_tesseract
def test_scanned_pdf_pages_are_read_between_text_pages_with_their_numbers() -> None:
    small = (700, 260)  # small pages keep the test quick (rendered at 300 dpi for the engine)
    pages = [render("The first scan names the quokkafield report.", size=24, page=small),
             render("The second scan names the marmotstone ledger.", size=24, page=small)]
    doc = read_bytes("scan.pdf", scanned_pdf(pages))
    assert "quokkafield" in doc.text and "marmotstone" in doc.text
    assert [p.metadata["page"] for p in doc.parts] == [1, 2]
    assert all(p.metadata["ocr"] for p in doc.parts) and doc.metadata["ocr_pages"] == 2
    second = doc.text.index("marmotstone")
    assert doc.part_at(second).metadata["page"] == 2  # type: ignore[union-attr]


def test_without_the_engine_an_image_is_skipped_naming_what_to_install() -> None:
    # The same path a machine without Tesseract takes: the program is not found on PATH.
    missing = ocr(command="tesseract-not-installed-here")
    with pytest.raises(SkipFile) as info:
        read_bytes("shot.png", encode(render("hello", size=18), "PNG"), limits=missing)
    assert info.value.reason == "unsupported"
    assert "semsearch[ocr]" in info.value.detail and "apt-get install tesseract-ocr" in info.value.detail
    with pytest.raises(SkipFile) as info:
        read_bytes("scan.pdf", scanned_pdf([render("hello", size=18)]), limits=missing)
    assert info.value.reason == "empty" and "no text layer" in info.value.detail
    assert "install Tesseract" in info.value.detail
    off = ocr(enabled=False)
    with pytest.raises(SkipFile) as info:
        read_bytes("shot.png", encode(render("hello", size=18), "PNG"), limits=off)
    assert info.value.reason == "unsupported" and "SEMSEARCH_OCR=false" in info.value.detail


@needs_tesseract
def test_bounds_pixels_pages_and_time_per_page_skip_with_the_setting_to_change(tmp_path: Path) -> None:
    png = encode(render("hello there", size=18), "PNG")
    with pytest.raises(SkipFile) as info:
        read_bytes("big.png", png, limits=ocr(max_pixels=1000))
    assert info.value.reason == "over_limit" and "SEMSEARCH_OCR_MAX_PIXELS" in info.value.detail
    pdf = scanned_pdf([render(f"page {i}", size=18) for i in range(3)])
    with pytest.raises(SkipFile) as info:
        read_bytes("long.pdf", pdf, limits=ocr(max_pages=2))
    assert info.value.reason == "over_limit" and "3 pages to recognise" in info.value.detail
    assert "SEMSEARCH_OCR_MAX_PAGES" in info.value.detail
    slow = slow_engine(tmp_path)
    with pytest.raises(SkipFile) as info:
        read_bytes("slow.png", png, limits=ocr(command=str(slow), page_seconds=0.3))
    assert info.value.reason == "over_limit" and "SEMSEARCH_OCR_PAGE_SECONDS" in info.value.detail


def slow_engine(tmp_path: Path) -> Path:
    """A stand-in engine that knows English and never finishes a page (for the time bound and cancel)."""
    script = tmp_path / "slow-tesseract"
    script.write_text("#!/bin/sh\nif [ \"$1\" = --list-langs ]; then echo 'List of available languages (1):'; "
                      "echo eng; exit 0; fi\nexec sleep 600\n")
    script.chmod(0o755)
    return script


def test_a_cancel_stops_within_a_page(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()  # seen at the first poll, while the engine is still on the page
    limits = ocr(command=str(slow_engine(tmp_path)), cancel=cancel, page_seconds=600)
    with pytest.raises(ReadCancelled):
        read_bytes("shot.png", encode(render("hello", size=18), "PNG"), limits=limits)


def test_the_collection_language_picks_the_engine_language_when_installed() -> None:
    engine = Engine("tesseract", frozenset({"eng", "deu", "chi_sim"}))
    assert engine.language_for(OcrOptions(language="de")) == "deu"
    assert engine.language_for(OcrOptions(language="zh")) == "chi_sim"
    assert engine.language_for(OcrOptions(language="fr")) == "eng"  # not installed: English
    assert engine.language_for(OcrOptions(language="auto")) == "eng"
    assert engine.language_for(OcrOptions(language="de", languages="deu+eng")) == "deu+eng"
    from indexer.analysis.languages import LANGUAGES

    assert set(LANGUAGES) <= set(TESSERACT_LANGUAGES)  # every collection language has a Tesseract name


@needs_tesseract
def test_a_german_scan_is_read_with_its_umlauts_in_a_german_collection() -> None:
    if "deu" not in installed_languages():
        pytest.skip("tesseract-ocr-deu is not installed")
    doc = read_bytes("brief.png", encode(render(GERMAN, size=30), "PNG"), limits=ocr(language="de"))
    assert "Häuser" in doc.text and "größere" in doc.text


CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian's fonts-wqy-microhei


@needs_tesseract
def test_a_chinese_scan_is_read_without_spaces_between_characters_in_a_chinese_collection() -> None:
    """Tesseract puts a space between CJK word boxes; the text keeps none, so a word inside a sentence
    (机器学习) is one run of characters, as keyword search's bigrams expect."""
    if "chi_sim" not in installed_languages() or not CJK_FONT.exists():
        pytest.skip("tesseract-ocr-chi-sim or fonts-wqy-microhei is not installed (make install-test installs both)")
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype(str(CJK_FONT), 44)
    page = Image.new("L", (1400, 260), 255)
    draw = ImageDraw.Draw(page)
    draw.text((60, 60), "我们研究机器学习在医学影像中的应用。", font=face, fill=0)
    draw.text((60, 140), "这个方法提高了诊断的准确率。", font=face, fill=0)
    doc = read_bytes("scan.png", encode(page, "PNG"), limits=ocr(language="zh"))
    assert "机器学习" in doc.text and "诊断" in doc.text
    assert doc.parts[0].metadata["ocr"] is True


def installed_languages() -> frozenset[str]:
    from indexer.readers.ocr import engine

    return engine(OcrOptions()).installed


def test_tsv_words_become_lines_and_paragraphs_with_a_character_weighted_confidence() -> None:
    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
    rows = ["5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tHello", "5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t50\tyou",
            "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t100\tthere", "4\t1\t2\t1\t1\t0\t0\t0\t1\t1\t-1\t",
            "5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t100\tNext"]
    got = parse_tsv(head + "\n".join(rows))
    assert got.text == "Hello you\nthere\n\nNext"
    assert got.confidence == round((90 * 5 + 50 * 3 + 100 * 5 + 100 * 4) / 17 / 100, 3)
    assert parse_tsv(head).confidence is None



@needs_tesseract
def test_a_broken_image_is_unreadable_with_a_reason_a_person_can_act_on() -> None:
    with pytest.raises(SkipFile) as info:
        read_bytes("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert info.value.reason == "unreadable" and "not an image Pillow can decode" in info.value.detail


@needs_tesseract
def test_a_phone_photo_stored_sideways_is_turned_upright_by_its_exif_orientation() -> None:
    import io

    from PIL import Image

    sideways = render("Receipt from the Quillfeather bakery", size=24).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view", as a phone held upright writes it
    buf = io.BytesIO()
    sideways.convert("RGB").save(buf, "JPEG", quality=90, exif=exif.tobytes())
    assert "Quillfeather" in read_bytes("receipt.jpg", buf.getvalue()).text


def test_chinese_words_are_joined_without_spaces_and_latin_words_with_them() -> None:
    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
    words = ["机器", "学习", "很", "有趣。", "GPU", "训练"]
    rows = [f"5\t1\t1\t1\t1\t{i}\t0\t0\t1\t1\t90\t{w}" for i, w in enumerate(words, 1)]
    assert parse_tsv(head + "\n".join(rows)).text == "机器学习很有趣。 GPU 训练"
