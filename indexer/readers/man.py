"""Manual pages (``ls.1``, ``printf.3``, ``ssl.7ssl``, ``ls.1.gz`` once decompressed): roff source read
as the text a reader of the page sees, with the markup dropped.

Written here, not taken from a library: no maintained Python package renders roff (``doclifter``
converts whole documents to DocBook as a command-line script; ``groff``/``mandoc`` are programs a
machine may lack, and running one on every untrusted file is more than reading text needs). A search
index needs the words, not the layout, so this is a small subset of roff: the ``man`` and ``mdoc``
macros' text, headings on lines of their own, font and size escapes dropped, the common special
characters (``\\(em``, ``\\-``, ``\\(bu`` ...) mapped, and requests with no text (spacing, fonts,
conditionals, macro definitions) skipped. Unknown macros keep their arguments as text, so nothing a
page says is lost.

A file with a man-page suffix that is not roff (``syslog.1`` is usually a rotated log) is read as
plain text: roff is recognized by its first lines (``.TH``, ``.Dd``, ``.SH``, a ``.\\"`` comment).
"""

from __future__ import annotations

import re

from indexer.readers.base import Extracted, SkipFile
from indexer.readers.text import decode_bytes, read_text

# ls.1, ls.1p, ssl.7ssl, perlfunc.3pm, foo.8x, foo.n (Tcl), foo.man
MAN_SUFFIX = re.compile(r"\.([1-9][a-z]{0,6}|n|man)$")
_ROFF_START = re.compile(r"^(?:\.\s*(?:TH|Dd|Dt|SH|Sh|so)\b|['.]\\\")", re.MULTILINE)

_CHARS = {
    "em": "—", "en": "–", "hy": "-", "mi": "-", "bu": "•", "aq": "'", "dq": '"', "lq": "“", "rq": "”",
    "oq": "‘", "cq": "’", "co": "©", "rg": "®", "tm": "™", "de": "°", "ti": "~", "ha": "^", "rs": "\\",
    "bv": "|", "ba": "|", "or": "|", "mu": "×", "di": "÷", "+-": "±", "<=": "≤", ">=": "≥", "!=": "≠",
    "->": "→", "<-": "←", "sc": "§", "ps": "¶", "fo": "«", "fc": "»", "Fo": "«", "Fc": "»", "at": "@",
    "sh": "#", "Do": "$", "ct": "¢", "eu": "€", "Eu": "€", "Po": "£", "Ye": "¥", "ga": "`", "aa": "´",
}
_STRINGS = {"lq": "“", "rq": "”", "R": "®", "Tm": "™", "(Tm": "™", "(lq": "“", "(rq": "”"}

_ESCAPE = re.compile(
    r"\\(?:"
    r"f(?:\[[^\]]*\]|\(..|.)"  # font: \fB \f(CW \f[BI]
    r"|s[-+]?(?:\(\d\d|\[\d+\]|\d)"  # size: \s-1 \s+2 \s0
    r"|\*(?:\[(?P<str_long>[^\]]*)\]|\((?P<str_two>..)|(?P<str_one>.))"  # strings: \*(lq \*[name] \*R
    r"|\((?P<char_two>..)"  # special characters: \(em
    r"|\[(?P<char_long>[^\]]*)\]"  # \[em] \[u2014]
    r"|[nk](?:\[[^\]]*\]|\(..|.)"  # number registers, marks
    r"|[hvwoDlLbxXNZ]'[^']*'"  # motions, widths, drawing
    r"|(?P<other>.)"
    r")"
)
_SIMPLE = {"-": "-", "e": "\\", "\\": "\\", " ": " ", "~": " ", "0": " ", "t": "\t", "'": "´", "`": "`",
           ".": ".", "&": "", "|": "", "^": "", "%": "", "c": "", ":": "", "/": "", ",": "", "!": "", "{": "",
           "}": "", "p": "", "r": "", "u": "", "d": "", "a": "", "z": "", "E": "", "\"": ""}

# Requests and macros that carry no text of their own.
_SILENT = frozenset("""
    br sp ne nf fi ad na hy nh in ti ll pl ft ps vs ss cs bp pn po ns rs ta tc lc ce ul cu uf it nr rr rm
    rn als ds as am so mso ev fam fl cf tr char fchar lf ig do pc mc nm nn hc hw ie if el tm ab ex pso
    PP LP P TP TQ HP RS RE PD DT IX UE ME EE TE TH Dd Dt Os Pp Lp Bl El Bd Ed Ek Bk Sm No Ns Xc Xo
    Ef Ec Eo Ta Fd In Lb Bf Ud Ux Bx Ox Nx Fx Dx Bsx At St UC OP YS ne Vb Ve
""".split())
_HEADINGS = frozenset({"SH", "SS", "Sh", "Ss"})
_JOINED = frozenset({"BR", "RB", "IR", "RI", "BI", "IB"})  # alternating fonts, no space between arguments
_PREFIX = {"Fl": "-", "Op": "[", "Ar": "", "Cm": "", "Xr": ""}


def _args(line: str) -> list[str]:
    """A request line's arguments: split on spaces, "double quoted" ones kept whole."""
    out: list[str] = []
    for m in re.finditer(r'"((?:[^"]|"")*)"?|(\S+)', line):
        out.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2))
    return out


def _unescape(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group("char_two") is not None:
            return _CHARS.get(m.group("char_two"), "")
        if m.group("char_long") is not None:
            name = m.group("char_long")
            if name.startswith("u") and re.fullmatch(r"u[0-9A-Fa-f]{4,6}", name):
                return chr(int(name[1:], 16))
            return _CHARS.get(name, "")
        for g in ("str_two", "str_long", "str_one"):
            if m.group(g) is not None:
                return _STRINGS.get(m.group(g), "")
        if m.group("other") is not None:
            return _SIMPLE.get(m.group("other"), m.group("other"))
        return ""

    return _ESCAPE.sub(sub, text)


def _comment_free(line: str) -> str:
    """The line without its ``\\"`` comment (an escaped backslash ``\\\\`` does not start one)."""
    at = 0
    while (at := line.find("\\", at)) >= 0:
        if line.startswith('\\"', at) or line.startswith('\\#', at):
            return line[:at]
        at += 2
    return line


def roff_to_text(source: str) -> tuple[str, dict[str, str]]:
    """The text of a roff page and its title (from ``.TH``/``.Dt``: ``LS(1)``)."""
    lines = source.replace("\\\n", "").splitlines()
    out: list[str] = []
    meta: dict[str, str] = {}
    skipping_until = ""  # ".de NAME" ... ".." defines a macro: no text
    for raw in lines:
        if skipping_until:
            if raw.strip() == skipping_until:
                skipping_until = ""
            continue
        line = _comment_free(raw)
        if line[:1] not in (".", "'"):
            if line.strip() or (out and out[-1]):
                out.append(_unescape(line).rstrip())
            continue
        args = _args(line[1:].strip())
        if not args:
            continue
        name, rest = args[0], args[1:]
        if name in ("de", "de1", "am", "ig"):
            skipping_until = ".." if name != "ig" or not rest else "." + rest[0]
            continue
        if name in ("TH", "Dt") and rest:
            meta.setdefault("title", f"{_unescape(rest[0])}({_unescape(rest[1])})" if len(rest) > 1
                            else _unescape(rest[0]))
        if name in _HEADINGS:
            if out and out[-1]:
                out.append("")
            out.append(_unescape(" ".join(rest)).strip())
            continue
        if name in _SILENT or name.startswith(("if", "ie", "el")):
            if name in ("PP", "LP", "P", "TP", "HP", "Pp", "Lp", "sp") and out and out[-1]:
                out.append("")
            continue
        if name in _JOINED:
            text = "".join(rest)
        elif name == "IP":  # .IP tag indent: the tag is text, the indent is not
            text = rest[0] if rest else ""
        elif name in _PREFIX:
            text = " ".join(_PREFIX[name] + a for a in rest)
        else:  # B, I, SM, SB, IP's tag, Nm, Nd, UR, MT, and any macro not known here: the arguments
            text = " ".join(rest)
        text = _unescape(text).strip()
        if text:
            out.append(text)
    text = "\n".join(out).strip() + "\n"
    return re.sub(r"\n{3,}", "\n\n", text), meta


def looks_like_roff(text: str) -> bool:
    return _ROFF_START.search(text[:4096]) is not None


def read_man(data: bytes) -> Extracted:
    """A man page's text with the markup dropped (a file that is not roff: as plain text)."""
    source = decode_bytes(data)
    if not looks_like_roff(source):
        return read_text(data)
    links = re.fullmatch(r"\s*(?:['.]\\\".*\n)*\s*\.so\s+(\S+)\s*", source)
    if links:
        raise SkipFile("empty", f"the man page only points to another one ({links.group(1)}), indexed in its own right")
    text, meta = roff_to_text(source)
    if not text.strip():
        raise SkipFile("empty", "the man page has no text")
    return Extracted(text, meta)
