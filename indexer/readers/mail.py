"""E-mail (stdlib ``email``): ``.eml`` is one message, ``.mbox`` one part per message.

A message's text is its header lines that matter (Subject, From, To, Cc, Date), a blank line,
the body (text/plain preferred, else text/html turned into text), the list of attachments, and
the text of each attachment whose type a reader supports (an attached mail too, up to
``max_attachment_depth``). Offsets point into this extracted text.

An mbox is one source (the file) whose text is its messages in file order, separated by blank
lines; each message is a part with ``message`` (1-based), ``subject``, ``from``, ``to``, ``date``
metadata, so a hit inside it can be traced to the message. The stdlib ``mailbox.mbox`` needs a
path and re-reads the file; the bytes are already read (and size-checked), and splitting them at
``From `` lines is exactly the rule ``mailbox.mbox`` applies.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Callable
from email.message import EmailMessage, MIMEPart
from typing import Any

from indexer.readers.base import Extracted, ReadLimits, SkipFile, TextBuilder, summarize
from indexer.readers.html import html_to_text
from indexer.readers.text import decode_bytes

# How an attachment is read: (name, data, limits, depth) -> its text. The dispatcher passes its own
# read_bytes, so this module needs no import of it (an attached PDF goes through the PDF reader).
AttachmentReader = Callable[[str, bytes, ReadLimits, int], Extracted]

_FROM_LINE = re.compile(rb"^From .*\r?\n", re.MULTILINE)
_HEADERS = ("Subject", "From", "To", "Cc", "Date")


def iso_date(value: str) -> str:
    try:
        return email.utils.parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        return value


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a malformed header must not lose the message
        value = None
    return " ".join(str(value).split()) if value is not None else ""


def _part_text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError, KeyError):  # unknown charset, bad encoding
        payload = part.get_payload(decode=True)
        content = decode_bytes(payload) if isinstance(payload, bytes) else str(payload or "")
    if isinstance(content, bytes):
        content = decode_bytes(content)
    text = str(content)
    return html_to_text(text) if part.get_content_type() == "text/html" else text


def message_metadata(msg: EmailMessage) -> dict[str, Any]:
    return {"subject": _header(msg, "Subject"), "from": _header(msg, "From"), "to": _header(msg, "To"),
            "date": iso_date(_header(msg, "Date"))}


def message_text(msg: EmailMessage, limits: ReadLimits, depth: int = 0, *, read_attachment: AttachmentReader) -> str:
    lines = [f"{name}: {value}" for name in _HEADERS if (value := _header(msg, name))]
    blocks = ["\n".join(lines)]
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is not None:
        blocks.append(_part_text(body).strip())
    listed: list[str] = []
    read: list[str] = []
    for number, attachment in enumerate(msg.iter_attachments(), start=1):
        name = attachment.get_filename() or f"attachment-{number}"
        listed.append(f"{name} ({attachment.get_content_type()})")
        if depth >= limits.max_attachment_depth:
            continue
        if attachment.get_content_type() == "message/rfc822":
            inner = attachment.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner_msg, EmailMessage):
                read.append(f"Attachment {name}:\n" + message_text(inner_msg, limits, depth + 1,
                                                                         read_attachment=read_attachment))
            continue
        payload = attachment.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        try:
            read.append(f"Attachment {name}:\n" + read_attachment(name, payload, limits, depth + 1).text)
        except SkipFile:
            continue  # listed by name; its content is not text we can read
    if listed:
        blocks.append("Attachments: " + ", ".join(listed))
    blocks.extend(read)
    return "\n\n".join(b for b in blocks if b)


def _parse(data: bytes) -> EmailMessage:
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; this is a last resort
        raise SkipFile("unreadable", f"not a readable e-mail message ({summarize(exc)})") from exc
    assert isinstance(msg, EmailMessage)  # policy.default always builds EmailMessage
    return msg


def read_eml(data: bytes, limits: ReadLimits, depth: int = 0, *,
             read_attachment: AttachmentReader) -> Extracted:
    msg = _parse(data)
    if not msg.keys():
        raise SkipFile("unreadable", "not an e-mail message: no header lines")
    meta = message_metadata(msg)
    text = message_text(msg, limits, depth, read_attachment=read_attachment)
    return Extracted(text, {"title": meta["subject"], **meta})


def read_mbox(data: bytes, limits: ReadLimits, *, read_attachment: AttachmentReader) -> Extracted:
    starts = [m.end() for m in _FROM_LINE.finditer(data)]
    if not starts or not data.startswith(b"From "):
        raise SkipFile("unreadable", "not an mbox file: it does not start with a 'From ' line")
    ends = [m.start() for m in _FROM_LINE.finditer(data)][1:] + [len(data)]
    out = TextBuilder(limits)
    for number, (s, e) in enumerate(zip(starts, ends, strict=True), start=1):
        raw = re.sub(rb"(?m)^>(>*From )", rb"\1", data[s:e])  # undo mboxrd ">From " quoting
        msg = _parse(raw)
        out.part(message=number, **message_metadata(msg))
        out.add(message_text(msg, limits, read_attachment=read_attachment))
    return out.build({"messages": len(starts)})
