"""HTML: the visible text (stdlib parser), with the <title> and author <meta> as metadata.

Offsets point into the extracted text (markup dropped, entities unescaped, whitespace collapsed
outside <pre>, blocks on their own lines), not into the HTML source.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from indexer.readers.base import Extracted, SkipFile
from indexer.readers.text import decode_bytes, is_binary

_SKIP_CONTENT_TAGS = frozenset({"script", "style", "noscript", "template"})
# Block elements that end a paragraph (blank line) or just a line.
_PARAGRAPH_TAGS = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl",
        "figure", "section", "article", "header", "footer", "aside", "main", "nav", "address",
        "form", "fieldset", "details", "hr", "title", "body",
    }
)  # fmt: skip
_LINE_TAGS = frozenset(
    {"div", "li", "dt", "dd", "tr", "caption", "figcaption", "summary", "option", "legend", "thead",
     "tbody", "tfoot"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_WHITESPACE_RUN = re.compile(r"[ \t\n\r\f\v]+")


class _TextExtractor(HTMLParser):
    """Collects visible text; block boundaries become newlines, other whitespace collapses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0
        self._block_newlines = 0  # newlines owed because a block element started/ended
        self._br_newlines = 0  # newlines owed to <br>
        self._cell_gap = False

    # Output helpers

    def _at_line_start(self) -> bool:
        return not self._out or self._out[-1].endswith("\n")

    def _rstrip_spaces(self) -> None:
        while self._out:
            stripped = self._out[-1].rstrip(" ")
            if stripped:
                self._out[-1] = stripped
                return
            self._out.pop()

    def _emit(self, text: str, *, preformatted: bool) -> None:
        owed = max(self._block_newlines, self._br_newlines)
        if not preformatted:
            if owed or self._at_line_start() or (self._out and self._out[-1].endswith(" ")):
                text = text.lstrip(" ")
            if not text:
                return
        if self._out and owed:
            self._rstrip_spaces()
            if self._out:
                existing = len(self._out[-1]) - len(self._out[-1].rstrip("\n"))
                if owed > existing:
                    self._out.append("\n" * (owed - existing))
        elif self._cell_gap and self._out and not self._at_line_start() and not self._out[-1].endswith(" "):
            self._out.append(" ")
        self._block_newlines = self._br_newlines = 0
        self._cell_gap = False
        self._out.append(text)

    def _block(self, newlines: int) -> None:
        self._block_newlines = max(self._block_newlines, newlines)
        self._cell_gap = False

    # HTMLParser callbacks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT_TAGS:
            self._skip_depth += 1
        if self._skip_depth:
            return
        if tag == "br":
            self._br_newlines += 1
        elif tag in _PARAGRAPH_TAGS:
            self._block(2)
            if tag == "pre":
                self._pre_depth += 1
        elif tag in _LINE_TAGS:
            self._block(1)
        elif tag in _CELL_TAGS:
            self._cell_gap = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag in _PARAGRAPH_TAGS:
            self._block(2)
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)
        elif tag in _LINE_TAGS:
            self._block(1)
        elif tag in _CELL_TAGS:
            self._cell_gap = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <hr/>, <p/>: a self-closing element is a start tag only (no double counting).
        if tag not in _SKIP_CONTENT_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._skip_depth or not data:
            return
        if self._pre_depth:
            self._emit(data, preformatted=True)
        else:
            self._emit(_WHITESPACE_RUN.sub(" ", data), preformatted=False)

    def text(self) -> str:
        self.close()
        return "".join(self._out).strip()



class _HeadReader(HTMLParser):
    """The <title> text and <meta name="author|description|keywords"> of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metadata: dict[str, str] = {}
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            a = dict(attrs)
            name = (a.get("name") or "").lower()
            if name in ("author", "description", "keywords") and a.get("content"):
                self.metadata.setdefault(name, a["content"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "head":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)

    def result(self) -> dict[str, str]:
        title = " ".join("".join(self._title).split())
        return {"title": title, **self.metadata} if title else dict(self.metadata)


_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)

def html_to_text(html: str) -> str:
    """Visible text of an HTML document (stdlib parser).

    Drops markup and the content of script/style/noscript/template, unescapes entities, turns
    block elements into line breaks (paragraph-like ones into blank lines) and collapses other
    whitespace, except inside <pre>.
    """
    parser = _TextExtractor()
    parser.feed(html)
    return parser.text()


# --- PDF --------------------------------------------------------------------------------------


def read_html(data: bytes) -> Extracted:
    if is_binary(data):
        raise SkipFile("binary", "the content looks binary, not HTML")
    html = decode_bytes(data)
    text = html_to_text(html)
    if not text.strip():
        raise SkipFile("empty", "the file has no visible text")
    head = _HeadReader()
    m = _HEAD_END.search(html)
    head.feed(html[: m.start()] if m else html[:65536])
    head.close()
    return Extracted(text, head.result())
