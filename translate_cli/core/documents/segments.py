"""A structured document as the translator sees it: segments of prose, each translated as a whole, with the
inline markup inside them (a link, bold words, a code span, a placeholder) as spans to carry across.

Every format (core/documents/markdown.py, html.py, subtitles.py, gettext.py) parses a file into a Document:
its segments, and a way to render the file again from their translations. Everything that is not a
segment's text is kept byte for byte by the format's render; a segment's translation comes back as a Placed
text, whose spans the inline placement (core/documents/inline.py) has put around the words they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol


@dataclass(frozen=True)
class Span:
    """Inline markup over characters start..end of a segment's text. Spans of one segment nest or are
    disjoint, never cross. start == end makes an anchor: markup with no words of its own (a line break, an
    empty tag), placed before the translation of the words that follow it."""

    start: int
    end: int
    open: str = ""  # written before the span's words, as they are (not escaped)
    close: str = ""  # written after them
    # Not translated: the words the span covers become this literal (inline code, a URL, a placeholder such
    # as %s or {name}). Its source text stays in the segment so the sentence reads naturally to the model.
    fixed: str | None = None
    # A glossary term (a fixed span with no markup): where the translation already holds `fixed` as often
    # as the segment holds the term, the model's own words stay and the span is dropped.
    term: bool = False


@dataclass
class Segment:
    text: str  # the prose to translate, as one line (a segment may hold several sentences)
    spans: list[Span] = field(default_factory=list)
    line: int = 1  # where it starts in the file, counted from 1 (for messages)


@dataclass
class Placed:
    """A segment's translation with its spans placed: span offsets index `text`."""

    text: str
    spans: list[Span] = field(default_factory=list)

    def render(self, escape: Callable[[str], str] = lambda text: text) -> str:
        """The translation with the markup of every span around its words; only the words are escaped.
        Of spans over the same words, the one listed first is the outer one; an anchor at the start of a span
        stands inside it if listed after it, outside if listed before."""
        opens: dict[int, list[tuple[int, Span]]] = {}
        closes: dict[int, list[tuple[int, Span]]] = {}
        for order, span in enumerate(self.spans):
            opens.setdefault(span.start, []).append((order, span))
            closes.setdefault(span.end, []).append((order, span))
        out, position, skip_until = [], 0, -1
        bounds = sorted({0, len(self.text), *opens, *closes})
        for bound in bounds:
            if bound > position and position >= skip_until:
                out.append(escape(self.text[position:bound]))
            position = bound
            # Close inner spans first (they started later), then open outer ones first (they end later).
            for _, span in sorted(closes.get(bound, []), key=lambda item: (-item[1].start, -item[0])):
                if span.start == span.end:
                    continue
                out.append(span.close)
            for _, span in _opening_order(opens.get(bound, [])):
                out.append(span.open)
                if span.fixed is not None:
                    out.append(span.fixed)
                    skip_until = max(skip_until, span.end)
                if span.start == span.end:
                    out.append(span.close)
        return "".join(out)


def _opening_order(items: list[tuple[int, Span]]) -> list[tuple[int, Span]]:
    """Spans opening at one place: the longer ones first (outer), each anchor before the first span listed
    after it."""
    spans = sorted((item for item in items if item[1].start != item[1].end), key=lambda item: (-item[1].end, item[0]))
    ordered: list[tuple[int, Span]] = []
    for anchor in sorted(item for item in items if item[1].start == item[1].end):
        at = next((k for k, item in enumerate(spans) if item[0] > anchor[0]), len(spans))
        ordered += spans[:at] + [anchor]
        spans = spans[at:]
    return ordered + spans


def plain(segment: Segment) -> Placed:
    """A segment left as it is (untranslated), as a Placed text: renders to the original markup."""
    return Placed(segment.text, list(segment.spans))


class Document(Protocol):
    """A parsed file: its segments, in order, and the file rebuilt from one Placed text per segment."""

    segments: list[Segment]

    def render(self, translations: list[Placed]) -> str: ...
