"""HTML: text and human-readable attributes translated, the document otherwise kept byte for byte.

Python's html.parser reads the document as events with their source positions. A run of text and inline
elements between block boundaries is one segment, translated as a whole; the inline elements inside it
(<a href>, <b>, <em>, ...) become spans that the placement puts around the right words, <code>/<kbd>
keep their exact source as fixed spans, <br>/<img> are anchors. alt, title, placeholder and aria-label
values are segments of their own. Nothing inside <script>, <style>, <pre>, <textarea> or an element marked
translate="no" is touched.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from translate_cli.core.documents.segments import Placed, Segment, Span
from translate_cli.errors import DataError

INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "data", "del", "dfn", "em", "font", "i", "ins", "label", "mark",
          "q", "s", "small", "span", "strong", "sub", "sup", "time", "u"}
FIXED = {"code", "kbd", "samp", "var", "tt"}  # kept as they are, inside a sentence
ANCHORS = {"br", "img", "wbr"}  # no words of their own, placed in the sentence
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
UNTOUCHED = {"script", "style", "pre", "textarea", "template", "svg", "math"}
ATTRIBUTES = ("alt", "title", "placeholder", "aria-label")
_ATTRIBUTE = re.compile(r"""(\s)(alt|title|placeholder|aria-label)(\s*=\s*)("[^"]*"|'[^']*'|[^\s"'=<>`]+)""", re.I)
_SLOT = re.compile("\x00(\\d+)\x00")
_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"[ \t\r\n\f]+")  # not U+00A0: a non-breaking space stays one


@dataclass
class _Event:
    kind: str  # start, end, text or other (comment, declaration)
    start: int  # offsets in the source
    end: int = -1
    tag: str = ""
    attrs: dict = field(default_factory=dict)
    text: str = ""  # text: decoded; start: the tag's source with attribute slots (see _tag_literal)


class _Events(HTMLParser):
    """Every event with its start offset in the source (entities are text events of their own)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=False)
        self.events: list[_Event] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def _at(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        self.events.append(_Event("start", self._at(), tag=tag, attrs={k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.events[-1].kind = "startend"

    def handle_endtag(self, tag):
        self.events.append(_Event("end", self._at(), tag=tag))

    def handle_data(self, data):
        self.events.append(_Event("text", self._at(), text=data))

    def handle_entityref(self, name):
        self.events.append(_Event("text", self._at(), text=html.unescape(f"&{name};")))

    def handle_charref(self, name):
        self.events.append(_Event("text", self._at(), text=html.unescape(f"&#{name};")))

    def handle_comment(self, data):
        self.events.append(_Event("other", self._at()))

    handle_decl = handle_pi = unknown_decl = handle_comment


def _events(text: str, where: str) -> list[_Event]:
    parser = _Events(text)
    parser.feed(text)
    parser.close()
    events = parser.events
    for event, following in zip(events, events[1:] + [_Event("other", len(text))]):
        event.end = following.start  # an event ends where the next one starts
        if event.kind == "startend":  # <tag/>: a start that ends itself
            event.kind = "start"
    open_tags: list[str] = []
    for event in events:
        if event.kind == "start" and event.tag not in VOID:
            open_tags.append(event.tag)
        elif event.kind == "end" and event.tag not in VOID:
            if event.tag not in open_tags:
                line = text.count("\n", 0, event.start) + 1
                raise DataError(f"{where}:{line}: </{event.tag}> closes no open element; fix the HTML")
            while open_tags and open_tags.pop() != event.tag:
                pass
    return events


class HtmlDocument:
    def __init__(self, text: str, where: str = "<html>"):
        self.source = text
        self.segments: list[Segment] = []
        self.edits: list[tuple[int, int, object]] = []  # (start, end, segment index or literal with slots)
        self._run: list[_Event] = []
        skipping, depth = None, 0
        for event in _events(text, where):
            if skipping is not None:  # inside <script>, <pre>, translate="no" ...
                depth += (event.kind == "start" and event.tag == skipping) - (event.kind == "end" and event.tag == skipping)
                if depth == 0:
                    skipping = None
                continue
            if event.kind == "start" and (event.tag in UNTOUCHED or event.attrs.get("translate", "").lower() == "no"):
                self._flush()
                if event.tag not in VOID and not text[event.start:event.end].rstrip().endswith("/>"):
                    skipping, depth = event.tag, 1
                continue
            if event.kind == "start":
                event.text = self._tag_literal(event)
            if event.kind == "text" or (event.kind in ("start", "end") and event.tag in INLINE | FIXED | ANCHORS):
                self._run.append(event)
            else:
                self._flush()
        self._flush()

    def _tag_literal(self, event: _Event) -> str:
        """The tag's source, its translatable attribute values replaced by slots of their own segments."""
        raw = self.source[event.start:event.end]
        out, last = [], 0
        for match in _ATTRIBUTE.finditer(raw):
            value = event.attrs.get(match.group(2).lower(), "")
            if not _LETTER.search(value):
                continue
            self.segments.append(Segment(" ".join(value.split()), [], self.source.count("\n", 0, event.start) + 1))
            quote = match.group(4)[0] if match.group(4)[0] in "\"'" else '"'
            out += [raw[last:match.start(4)], f"{quote}\x00{len(self.segments) - 1}\x00{quote}"]
            last = match.end(4)
        literal = "".join(out) + raw[last:]
        if literal != raw:
            self.edits.append((event.start, event.end, literal))
        return literal

    def _flush(self) -> None:
        """The inline run so far as one segment, without its outer whitespace and dangling tags."""
        run, self._run = self._run, []
        while run and (run[0].kind == "end" or (run[0].kind == "text" and not run[0].text.strip())):
            run.pop(0)
        while run and (run[-1].kind == "start" or (run[-1].kind == "text" and not run[-1].text.strip())):
            run.pop()
        if not any(event.kind == "text" and _LETTER.search(event.text) for event in run):
            return
        segment = _segment(run, self.source, self.source.count("\n", 0, run[0].start) + 1)
        if segment is None or not _LETTER.search(segment.text):
            return
        raw_first, raw_last = self.source[run[0].start:run[0].end], self.source[run[-1].start:run[-1].end]
        lead = len(raw_first) - len(raw_first.lstrip()) if run[0].kind == "text" else 0
        trail = len(raw_last) - len(raw_last.rstrip()) if run[-1].kind == "text" else 0
        self.segments.append(segment)
        self.edits.append((run[0].start + lead, run[-1].end - trail, len(self.segments) - 1))

    def render(self, translations: list[Placed]) -> str:
        out, position = [], 0
        for start, end, edit in sorted(self.edits, key=lambda e: e[0]):
            if start < position:
                continue  # a tag inside a segment: the segment's spans carry its literal
            out.append(self.source[position:start])
            out.append(translations[edit].render(escape_text) if isinstance(edit, int) else edit)
            position = end
        out.append(self.source[position:])
        return _SLOT.sub(lambda m: html.escape(translations[int(m.group(1))].render(), quote=True), "".join(out))


def escape_text(text: str) -> str:
    """Translated prose made literal in HTML."""
    return html.escape(text, quote=False)


def _segment(run: list[_Event], source: str, line: int) -> Segment | None:
    """Text and inline elements as prose with spans; an element left open or closed out of order is an
    anchor where it stood; a <code> not closed inside the run makes no segment."""
    text: list[str] = []
    spans: list[Span] = []
    stack: list[tuple[str, int, str]] = []
    fixed: tuple[str, int, int] | None = None  # tag, prose offset, source offset

    def position() -> int:
        return sum(map(len, text))

    for event in run:
        if fixed is not None:  # inside <code>: its words for the model, its source kept
            if event.kind == "end" and event.tag == fixed[0]:
                spans.append(Span(fixed[1], position(), fixed=source[fixed[2]:event.end]))
                fixed = None
            elif event.kind == "text":
                text.append(_SPACES.sub(" ", event.text))
            continue
        if event.kind == "text":
            text.append(_SPACES.sub(" ", event.text))
        elif event.kind == "start" and event.tag in FIXED:
            fixed = (event.tag, position(), event.start)
        elif event.kind == "start" and event.tag in ANCHORS:
            spans.append(Span(position(), position(), open=event.text))
        elif event.kind == "start":
            stack.append((event.tag, position(), event.text))
        elif event.kind == "end" and stack and stack[-1][0] == event.tag:
            _, begin, opener = stack.pop()
            spans.append(Span(begin, position(), open=opener, close=source[event.start:event.end]))
        elif event.kind == "end" and event.tag not in ANCHORS:
            spans.append(Span(position(), position(), open=source[event.start:event.end]))
    spans += [Span(begin, begin, open=opener) for _, begin, opener in stack]
    return None if fixed is not None else Segment("".join(text), spans, line)


def structure(text: str) -> list[tuple]:
    """The document's structure without its prose: every block-level tag with its attributes (translatable
    values left out), the exact text of what is never translated (<script>, <pre>, translate="no"...), and
    the inline tags of each block as a sorted list (a translation may reorder them)."""
    shape: list[tuple] = []
    inline: list[tuple] = []
    skipping, depth = None, 0
    for event in _events(text, "<structure>"):
        attrs = tuple(sorted((k, v) for k, v in event.attrs.items() if k.lower() not in ATTRIBUTES))
        if skipping is not None:
            depth += (event.kind == "start" and event.tag == skipping) - (event.kind == "end" and event.tag == skipping)
            shape.append((event.kind, event.tag, attrs, text[event.start:event.end] if event.kind == "text" else ""))
            skipping = None if depth == 0 else skipping
            continue
        if event.kind == "start" and (event.tag in UNTOUCHED or event.attrs.get("translate", "").lower() == "no"):
            if event.tag not in VOID and not text[event.start:event.end].rstrip().endswith("/>"):
                skipping, depth = event.tag, 1
        if event.kind in ("start", "end") and event.tag in INLINE | FIXED | ANCHORS:
            fixed = text[event.start:event.end] if event.tag in FIXED else ""
            inline.append((event.kind, event.tag, attrs, fixed))
        elif event.kind in ("start", "end", "other"):
            if inline:
                shape.append(tuple(sorted(inline)))
                inline = []
            shape.append((event.kind, event.tag, attrs, text[event.start:event.end] if event.kind == "other" else ""))
    if inline:
        shape.append(tuple(sorted(inline)))
    return shape
