"""Translating a whole structured file (Markdown, HTML, SRT, WebVTT, gettext PO): parse it into segments
with the format's parser, translate every segment in one batch with its inline markup placed, apply the
glossary, render the file again. Plain text and rows go through core/documents/lines.py instead."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.documents import html, markdown
from translate_cli.core.documents.glossary import Glossary
from translate_cli.core.documents.inline import translate_segments
from translate_cli.core.documents.segments import Document
from translate_cli.core.translator import TranslationStats, Translator
from translate_cli.errors import DataError


@dataclass
class DocumentStats:
    segments: int = 0  # prose segments translated
    spans: int = 0  # inline markup spans carried across (links, emphasis, code, placeholders...)
    terms: int = 0  # glossary term occurrences enforced
    translation: TranslationStats | None = None


def parse(text: str, format: str, where: str, lang: str, spaced: bool, retranslate: bool = False) -> Document:
    """The file as a Document of the given format (DataError with a line number when it does not parse)."""
    if format == "markdown":
        return markdown.MarkdownDocument(text, spaced)
    if format == "html":
        return html.HtmlDocument(text, where)
    if format == "srt":
        from translate_cli.core.documents.subtitles import parse_srt

        return parse_srt(text, where)
    if format == "vtt":
        from translate_cli.core.documents.vtt import parse_vtt

        return parse_vtt(text, where)
    if format == "po":
        from translate_cli.core.documents import gettext

        return gettext.parse_po(text, where, lang, retranslate)
    raise DataError(f"{where}: no document format '{format}'")


def escape_for(format: str):
    """How plain text (a glossary's target) is written in the format."""
    if format == "vtt":
        from translate_cli.core.documents.subtitles import escape_vtt

        return escape_vtt
    return {"markdown": markdown.escape, "html": html.escape_text}.get(format, lambda text: text)


def translate_document(document: Document, format: str, translator: Translator, options: DecodeOptions,
                       glossary: Glossary | None = None) -> tuple[str, DocumentStats]:
    """The parsed file translated, and what was done to it."""
    stats = DocumentStats(translation=TranslationStats())
    segments = document.segments
    if glossary is not None:
        escape = escape_for(format)
        applied = [glossary.apply(segment, escape) for segment in segments]
        segments = [segment for segment, _ in applied]
        stats.terms = sum(found for _, found in applied)
    stats.segments = len(segments)
    stats.spans = sum(len(segment.spans) for segment in document.segments)
    return document.render(translate_segments(translator, segments, options, stats.translation)), stats


def read_document(path: Path | None, stdin: bytes | None = None) -> tuple[str, bool]:
    """A whole file (or stdin's bytes) as text with LF line ends, and whether it had CRLF ones; invalid UTF-8
    is an error naming the line."""
    data = Path(path).read_bytes() if path is not None else (stdin or b"")
    where = str(path) if path is not None else "<stdin>"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{where}:{line}: invalid UTF-8 ({exc.reason}); save the file as UTF-8") from None
    crlf = "\r\n" in text
    return (text.replace("\r\n", "\n") if crlf else text), crlf


def notes(document: Document) -> list[str]:
    """What a render had to repair, for the summary (nothing is changed silently)."""
    found = []
    if getattr(document, "resplit", 0):
        found.append(f"{document.resplit:,} sentences that ran over several cues were cut back into their cues by "
                     f"length (the alignment did not place every cue boundary)")
    if getattr(document, "emptied", 0):
        found.append(f"{document.emptied:,} cues were left without words (their translation had too few)")
    if getattr(document, "repaired_placeholders", 0):
        found.append(f"{document.repaired_placeholders:,} placeholders were restored or removed so that every "
                     f"msgstr has the msgid's placeholders")
    return found
