"""Subtitles (SRT, WebVTT) as documents: the text of each cue is translated, everything else (numbers,
identifiers, timecodes, cue settings, the header, NOTE and STYLE blocks) is kept.

A sentence that runs over several cues is one segment, so the model sees the whole sentence; each cue
boundary inside it is an anchor span (no markup of its own) that the inline placement moves to the aligned
point of the translation, where render cuts it back into the same cues. Inline tags (<i>, <b>, <font>,
<c.x>, <v Bob>, {\\an8}) are spans, so they stay around the words they were around.

SRT is read and written with the `srt` library (its output is canonical SRT: one blank line between cues,
HH:MM:SS,mmm times); WebVTT is in core/documents/vtt.py.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass, replace
from itertools import pairwise

import srt

from translate_cli.core.documents.segments import Placed, Segment, Span
from translate_cli.errors import DataError

MAX_CUES_PER_SENTENCE = 4  # unpunctuated captions (auto-generated ones) would otherwise merge without end
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)(?:\.[^\s.<>]+)*(?:[ \t][^<>\n]*)?>|<\d[\d:.]*>|\{\\[^{}\n]*\}")
_PAIRED = {"i", "b", "u", "s", "font", "c", "v", "lang", "ruby", "rt"}  # tags with a closing tag
_FINAL = re.compile(r"[.!?。！？…][\"'”’»」』)\]]*$")


@dataclass
class _Cue:
    text: str  # the words, whitespace collapsed, tags taken out
    spans: list[Span]  # the tags, over `text`
    lines: int  # non-empty lines it had
    line: int  # file line of its first text line


def _markup(raw: str, entities: bool) -> tuple[str, list[Span]]:
    """A cue's words as one line and its tags as spans. An unclosed tag runs to the end of the cue, a stray
    closing tag or an unknown one is an anchor: all written back. `entities`: WebVTT's &amp; &lt; etc."""
    out: list[str] = []
    spans: list[Span] = []
    stack: list[tuple[str, str, int]] = []  # open tags: name, as written, where its words start

    def add(chunk: str) -> None:
        for char in html.unescape(chunk) if entities else chunk:
            if not char.isspace():
                out.append(char)
            elif out and out[-1] != " ":
                out.append(" ")

    position = 0
    for match in _TAG.finditer(raw):
        add(raw[position:match.start()])
        position = match.end()
        tag, here, name = match.group(0), len(out), (match.group(2) or "").lower()
        if name in _PAIRED and not match.group(1):
            stack.append((name, tag, here))
        elif name in _PAIRED and any(entry[0] == name for entry in stack):
            while True:  # tags opened inside and left open end here (no close written, as in the source)
                open_name, open_tag, start = stack.pop()
                spans.append(Span(start, here, open_tag, tag if open_name == name else ""))
                if open_name == name:
                    break
        else:
            spans.append(Span(here, here, tag))
    add(raw[position:])
    if out and out[-1] == " ":
        out.pop()
    spans += [Span(start, len(out), tag) for _, tag, start in stack]
    size = len(out)
    return "".join(out), [Span(min(s.start, size), min(s.end, size), s.open, s.close) for s in spans]


def _cue(raw: str, line: int, entities: bool) -> _Cue:
    text, spans = _markup(raw, entities)
    return _Cue(text, spans, sum(1 for part in raw.split("\n") if part.strip()), line)


def _chains(cues: list[_Cue]) -> list[list[int]]:
    """Cues to translate, grouped so that a sentence running over cues is one group. A cue without a letter
    or digit (♪, ...) is left as it is."""
    chains: list[list[int]] = []
    open_chain = False
    for index, cue in enumerate(cues):
        if not any(char.isalnum() for char in cue.text):
            open_chain = False
            continue
        if open_chain and len(chains[-1]) < MAX_CUES_PER_SENTENCE:
            chains[-1].append(index)
        else:
            chains.append([index])
        open_chain = not _FINAL.search(cue.text)
    return chains


def _is_boundary(span: Span) -> bool:
    return span.start == span.end and not span.open and not span.close and span.fixed is None


def _segment(cues: list[_Cue], chain: list[int]) -> Segment:
    """The chain's cues as one sentence, an anchor span where each cue after the first starts."""
    text, spans = "", []
    for index in chain:
        if text:
            text += " "
            spans.append(Span(len(text), len(text)))
        offset = len(text)
        spans += [replace(span, start=span.start + offset, end=span.end + offset) for span in cues[index].spans]
        text += cues[index].text
    return Segment(text, spans, cues[chain[0]].line)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _anchored_cuts(placed: Placed, pieces: int, spaced: bool) -> list[int] | None:
    """Cut points from the boundary anchors (moved off mid-word), or None when they are missing, out of
    order or would leave a cue without words."""
    text = placed.text
    points = [min(max(span.start, 0), len(text)) for span in placed.spans if _is_boundary(span)]
    if len(points) != pieces - 1:
        return None
    if spaced:  # to the nearer end of the word it fell in
        points = [p if not (0 < p < len(text) and not text[p - 1].isspace() and not text[p].isspace())
                  else min(_word_edges(text, p), key=lambda edge: abs(edge - p)) for p in points]
    cuts = [0, *points, len(text)]
    if any(b < a or _trim(text, a, b)[0] == _trim(text, a, b)[1] for a, b in pairwise(cuts)):
        return None
    return cuts


def _word_edges(text: str, point: int) -> tuple[int, int]:
    start, end = point, point
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _proportional_cuts(text: str, weights: list[int], spaced: bool) -> list[int]:
    """Cut points in proportion to the source cues' lengths, at word starts (or between characters for a
    target without spaces), each cue getting at least one word while there are enough."""
    units = [i for i, char in enumerate(text) if not char.isspace() and (not spaced or i == 0 or text[i - 1].isspace())]
    total, cuts, last, seen = max(1, sum(weights)), [0], 0, 0
    for k in range(1, len(weights)):
        seen += weights[k - 1]
        ideal = seen * len(text) / total
        nearest = min(range(len(units)), key=lambda u: abs(units[u] - ideal), default=0)
        last = max(last + 1, min(nearest, len(units) - (len(weights) - k)))
        cuts.append(units[last] if last < len(units) else len(text))
    return [*cuts, len(text)]


def _split(placed: Placed, cuts: list[int]) -> list[Placed]:
    """The translation cut at `cuts`, every span kept: one that crosses a cut goes around its words on both
    sides, one with no words left becomes an anchor in the piece where it starts."""
    text = placed.text
    ranges = [_trim(text, a, b) for a, b in pairwise(cuts)]
    pieces = [Placed(text[a:b]) for a, b in ranges]
    for span in placed.spans:
        if _is_boundary(span):
            continue
        wide = span.start < span.end
        hits = [k for k, (a, b) in enumerate(ranges) if wide and a < b and span.start < b and span.end > a]
        for k in hits[:1] if span.fixed is not None else hits:
            a, b = ranges[k]
            pieces[k].spans.append(replace(span, start=max(span.start, a) - a, end=min(span.end, b) - a))
        if not hits:
            k = min(max(bisect.bisect_right(cuts, span.start) - 1, 0), len(pieces) - 1)
            a, b = ranges[k]
            point = min(max(span.start, a), b) - a
            pieces[k].spans.append(replace(span, start=point, end=point))
    return pieces


def _break(placed: Placed, lines: int) -> Placed:
    """One line, or two (split at the space nearest the middle, or the middle character without spaces)
    when the source cue had two lines or more: simple on purpose, no balancing by pixel width."""
    text = re.sub(r"[\r\n]", " ", placed.text)
    if lines < 2 or len(text) < 2:
        return Placed(text, placed.spans)
    spaces = [i for i, char in enumerate(text) if char == " " and 0 < i < len(text) - 1]
    if " " in text:
        if not spaces:
            return Placed(text, placed.spans)
        middle = min(spaces, key=lambda i: abs(2 * i - len(text)))
        return Placed(text[:middle] + "\n" + text[middle + 1:], placed.spans)
    middle = len(text) // 2
    moved = [Span(s.start + (s.start >= middle), s.end + (s.end > middle or s.start >= middle), s.open,
                  s.close, s.fixed) for s in placed.spans]
    return Placed(text[:middle] + "\n" + text[middle:], moved)


def escape_vtt(text: str) -> str:
    """Text as WebVTT cue text (a glossary target written into a cue needs this too)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Subtitles:
    """Shared by both formats: cues, the segments over them, render into per-cue lines."""

    def __init__(self, cues: list[_Cue], where: str, entities: bool) -> None:
        self.cues, self.where, self.entities = cues, where, entities
        self.chains = _chains(cues)
        self.segments = [_segment(cues, chain) for chain in self.chains]
        self.resplit = 0  # merged sentences cut back into cues by length (the anchors did not come back)
        self.emptied = 0  # cues left without words (a translation with fewer words than cues)

    def _bodies(self, translations: list[Placed]) -> list[list[str] | None]:
        """The new text lines of every cue, None for a cue left as it is."""
        assert len(translations) == len(self.segments), (len(translations), len(self.segments))
        self.resplit = self.emptied = 0
        bodies: list[list[str] | None] = [None] * len(self.cues)
        for chain, placed in zip(self.chains, translations):
            spaced = " " in placed.text.strip()
            cuts = _anchored_cuts(placed, len(chain), spaced) if len(chain) > 1 else [0, len(placed.text)]
            if cuts is None:
                self.resplit += 1
                cuts = _proportional_cuts(placed.text, [len(self.cues[i].text) for i in chain], spaced)
            for index, piece in zip(chain, _split(placed, cuts)):
                rendered = _break(piece, self.cues[index].lines).render(escape_vtt if self.entities else str)
                self.emptied += not piece.text
                bodies[index] = rendered.split("\n") if rendered else []
        return bodies


class SrtDocument(_Subtitles):
    def __init__(self, subtitles: list[srt.Subtitle], cues: list[_Cue], where: str, eol: str, bom: str) -> None:
        super().__init__(cues, where, entities=False)
        self.subtitles, self.eol, self.bom = subtitles, eol, bom

    def render(self, translations: list[Placed]) -> str:
        bodies = self._bodies(translations)
        out = [srt.Subtitle(sub.index, sub.start, sub.end, sub.content if body is None else "\n".join(body),
                            sub.proprietary) for sub, body in zip(self.subtitles, bodies)]
        text = srt.compose(out, reindex=False, eol=self.eol)
        def timings(subs: list[srt.Subtitle]) -> list[tuple]:
            return [(sub.index, sub.start, sub.end, sub.proprietary) for sub in subs]

        if timings(_read_srt(text, self.where)) != timings(out):
            raise DataError(f"{self.where}: the translated subtitles do not read back as the same cues; report this")
        return self.bom + text


def _read_srt(text: str, where: str) -> list[srt.Subtitle]:
    try:
        return list(srt.parse(text))
    except srt.SRTParseError as error:
        skipped = error.unmatched_content
        at = error.expected_start + len(skipped) - len(skipped.lstrip())
        first = skipped.strip().splitlines()[0][:40] if skipped.strip() else ""
        raise DataError(f"{where}:{text.count(chr(10), 0, at) + 1}: not a subtitle block ({first!r}); expected a "
                        "number, then a line like 00:00:01,000 --> 00:00:02,500, then the text; fix the file") from None


def parse_srt(text: str, where: str) -> SrtDocument:
    """An SRT file as a document (cue numbers, times and position data kept; a missing number becomes the
    cue's position, as srt would write 0)."""
    subtitles = _read_srt(text, where)
    cues, cursor = [], 0
    for position, sub in enumerate(subtitles):
        arrow = re.compile(r"-[ -] *>").search(text, cursor)
        at = arrow.end() if arrow else cursor
        cursor = at + len(sub.content)
        cues.append(_cue(sub.content, text.count("\n", 0, at) + 2, entities=False))
        if sub.index is None:
            subtitles[position] = srt.Subtitle(position + 1, sub.start, sub.end, sub.content, sub.proprietary)
    return SrtDocument(subtitles, cues, where, "\r\n" if "\r\n" in text else "\n", "\ufeff" * text.startswith("\ufeff"))
