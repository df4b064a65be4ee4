"""Pictures of text, rendered here with Pillow, for the OCR tests and ``benchmarks/ocr.py``.

Each sample is a page (or a screenshot) whose true text is known, drawn in one of the fonts this machine
has (DejaVu, Liberation: Debian's ``fonts-dejavu-core`` / ``fonts-liberation``), at a size, optionally
skewed or made into a poor "photo" (low contrast, blur, noise, JPEG). ``scanned_pdf`` puts such pages
into a PDF with no text layer, as a scanner does.
"""

from __future__ import annotations

import io
import random
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FONTS = {
    "dejavu-sans": "DejaVuSans.ttf",
    "dejavu-serif": "DejaVuSerif.ttf",
    "dejavu-mono": "DejaVuSansMono.ttf",
    "liberation-serif": "LiberationSerif-Regular.ttf",
    "liberation-sans-narrow-italic": "LiberationSansNarrow-Italic.ttf",
}

ENGLISH = (
    "The quarterly report on water quality was filed on 12 March 2024 by the harbour office. "
    "Samples from seven wells met every limit except nitrate, which rose to 48 mg per litre "
    "after the spring floods. The committee asks for a second pumping station before winter."
)
GERMAN = (
    "Die Häuser am Fluss wurden im Frühjahr überflutet. Der Bürgermeister ließ die Straße "
    "sperren und versprach größere Dämme, bevor der nächste Winter über das Tal kommt."
)
FRENCH = (
    "Les chevaux de la ferme ont été vendus au marché de la ville. Le propriétaire espère "
    "acheter une nouvelle écurie près de la rivière avant la fin de l'été."
)


def font_path(name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / FONTS[name]).exists():
            return folder / FONTS[name]
    raise FileNotFoundError(f"font {FONTS[name]} not found under {[str(d) for d in FONT_DIRS]}")


def available_fonts() -> list[str]:
    return [n for n in FONTS if any((d / FONTS[n]).exists() for d in FONT_DIRS)]


def render(text: str, *, font: str = "dejavu-sans", size: int = 40, width_chars: int = 60,
           margin: int = 80, page: tuple[int, int] | None = None) -> Image.Image:
    """Black text on white, wrapped at ``width_chars``; ``size`` in pixels (40 px is 10 pt at 300 dpi)."""
    face = ImageFont.truetype(str(font_path(font)), size)
    lines = textwrap.wrap(text, width_chars)
    line_height = int(size * 1.4)
    text_width = max(int(face.getlength(line)) for line in lines)
    w, h = page or (text_width + 2 * margin, line_height * len(lines) + 2 * margin)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * line_height), line, font=face, fill=0)
    return img


def skew(img: Image.Image, degrees: float) -> Image.Image:
    return img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def photo(img: Image.Image, *, seed: int = 7) -> Image.Image:
    """A poor photo of the page: grey ink on grey paper, uneven light, a slight blur, noise, JPEG."""
    rng = random.Random(seed)
    w, h = img.size
    low = img.point(lambda v: 95 + v * 80 // 255)  # ink ~95, paper ~175: about 2:1 contrast
    light = Image.linear_gradient("L").resize((w, h)).point(lambda v: v // 6)  # darker towards the bottom
    out = Image.eval(Image.merge("RGB", [low] * 3), lambda v: v)
    out = Image.blend(out, Image.merge("RGB", [light] * 3), 0.15).filter(ImageFilter.GaussianBlur(1.1))
    noise = Image.effect_noise((w, h), 18).point(lambda v: v - 128 + 128)
    out = Image.blend(out, Image.merge("RGB", [noise] * 3), 0.12 + rng.random() * 0.02)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=60)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


@dataclass(frozen=True)
class Sample:
    name: str
    text: str  # the true text (words separated by single spaces)
    image: Image.Image
    language: str = "en"


def sample_set() -> list[Sample]:
    """The benchmark's set: several fonts and sizes, a screenshot, a skewed page, a low-contrast photo, and
    German and French pages (for the collection-language figures)."""
    out = [Sample(f"{f} 40px", ENGLISH, render(ENGLISH, font=f, size=40)) for f in available_fonts()]
    out.append(Sample("dejavu-sans 28px (small)", ENGLISH, render(ENGLISH, size=28)))
    out.append(Sample("screenshot 15px", ENGLISH, render(ENGLISH, size=15, width_chars=100, margin=12)))
    out.append(Sample("skewed 3 degrees", ENGLISH, skew(render(ENGLISH, font="liberation-serif"), 3.0)))
    out.append(Sample("low-contrast photo", ENGLISH, photo(render(ENGLISH, font="dejavu-serif", size=44))))
    out.append(Sample("German, dejavu-serif 40px", GERMAN, render(GERMAN, font="dejavu-serif"), "de"))
    out.append(Sample("French, liberation-serif 40px", FRENCH, render(FRENCH, font="liberation-serif"), "fr"))
    return out


def text_page(text: str, *, size: int = 40) -> Image.Image:
    """An A4 page at 300 dpi-ish scale (shrunk to 1240x1754, i.e. 150 dpi, to keep tests light)."""
    return render(text, size=size, width_chars=45, margin=100, page=(1240, 1754))


def scanned_pdf(pages: list[Image.Image], *, dpi: int = 150) -> bytes:
    """A PDF whose pages are only pictures (no text layer), as a scanner writes it."""
    buf = io.BytesIO()
    rgb = [p.convert("RGB") for p in pages]
    rgb[0].save(buf, "PDF", resolution=dpi, save_all=True, append_images=rgb[1:])
    return buf.getvalue()
