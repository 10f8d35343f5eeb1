"""Carrying inline markup across a translation: each segment is translated as a whole, and every span (a
link, bold words, a code span, a placeholder, a glossary term) is put around the words of the translation
that the alignment (core/alignment.py) links to the words it was around.

Spans keep their nesting: a child span stays inside its parent's translated words, siblings stay disjoint
(a later sibling starts where an earlier one ends), so the markup always nests validly. A span whose words
no target token is linked to goes around the token that attended to them most; an anchor (a span with no
words: a line break, an empty tag) goes where the alignment best separates what came before it from what
came after it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from translate_cli.core.alignment import Alignment
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.documents.segments import Placed, Segment, Span
from translate_cli.core.translator import TranslationStats, Translator


@dataclass
class _Node:
    span: Span
    children: list["_Node"] = field(default_factory=list)
    target: tuple[int, int] = (0, 0)


def _tree(spans: list[Span]) -> list[_Node]:
    """Spans as a forest by source nesting (outer first; of equal ones, markup holds a fixed span)."""
    roots: list[_Node] = []
    stack: list[_Node] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end, s.fixed is not None)):
        node = _Node(span)
        while stack and not (stack[-1].span.start <= span.start and span.end <= stack[-1].span.end
                             and stack[-1].span.start < stack[-1].span.end):
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def _trim(text: str, start: int, end: int, spaced: bool) -> tuple[int, int]:
    """No whitespace at the edges; with a spaced target, whole words."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if spaced and start < end:
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
    return start, end


def _interior(text: str, spaced: bool) -> tuple[int, int]:
    """The positions strictly inside a translation: after its first word (character) and before its last,
    where it has room for that."""
    stripped = text.strip()
    if not stripped:
        return len(text), len(text)
    first = len(text) - len(text.lstrip())
    last = first + len(stripped)
    if spaced and " " in stripped:
        return first + len(stripped.split()[0]), last - len(stripped.split()[-1])
    return (first + 1, last - 1) if len(stripped) > 1 else (first, last)


def _spread_anchors(anchors: list[_Node], text: str, bounds: tuple[int, int], spaced: bool) -> None:
    """Anchors of one parent at distinct places with words between them, in their order, each as near to
    its aligned place as that allows (two line breaks that meet would make an empty line)."""
    if len(anchors) < 2:
        return
    low, high = bounds
    if spaced:
        places = [m.end() for m in re.finditer(r"\S+(?=\s+\S)", text[low:high])]
        places = [low + place for place in places]
    else:
        places = list(range(low + 1, high))
    if len(places) < len(anchors):
        return  # no room: leave them where the alignment put them
    anchors.sort(key=lambda node: (node.target[0], node.span.start))
    chosen = [min(range(len(places)), key=lambda i: abs(places[i] - node.target[0])) for node in anchors]
    for k in range(1, len(chosen)):  # strictly increasing, forwards ...
        chosen[k] = max(chosen[k], chosen[k - 1] + 1)
    chosen[-1] = min(chosen[-1], len(places) - 1)
    for k in range(len(chosen) - 2, -1, -1):  # ... and within the places, backwards
        chosen[k] = min(chosen[k], chosen[k + 1] - 1)
    for node, index in zip(anchors, chosen):
        node.target = (places[index], places[index])


def _target(span: Span, text: str, alignment: Alignment, spaced: bool, whole: tuple[int, int]) -> tuple[int, int]:
    if (span.start, span.end) == whole and span.fixed is None:  # around all of the segment's words
        return _trim(text, 0, len(text), spaced)
    if span.start == span.end:
        point = alignment.split_point(span.start)
        if whole[0] < span.start < whole[1]:  # inside the sentence in the source: inside it in the translation
            point = min(max(point, _interior(text, spaced)[0]), _interior(text, spaced)[1])
        if spaced:  # between words, not inside one
            while 0 < point < len(text) and not text[point - 1].isspace() and not text[point].isspace():
                point += 1
        return point, point
    found = alignment.target_range(span.start, span.end) or alignment.strongest(span.start, span.end)
    if found is None:
        return len(text), len(text)
    if span.term and _wider_than_term(text[found[0]:found[1]], span.fixed, spaced):
        # A term replaces the words it was translated as: a run of linked tokens much longer than the term
        # is a loose alignment, and replacing all of it would delete the words around the term.
        found = alignment.strongest(span.start, span.end) or found
    return _trim(text, *found, spaced)


def _wider_than_term(words: str, term: str, spaced: bool) -> bool:
    if spaced:
        return len(words.split()) > 2 * len(term.split()) + 1
    return len(words.strip()) > 2 * len(term) + 1


def _fit(nodes: list[_Node], bounds: tuple[int, int], text: str, alignment: Alignment, spaced: bool,
         whole: tuple[int, int]) -> None:
    """Give every node a target range inside `bounds`, siblings disjoint and in their translated order."""
    low, high = bounds
    for node in nodes:
        start, end = _target(node.span, text, alignment, spaced, whole)
        start, end = max(low, min(start, high)), max(low, min(end, high))
        if end <= start and node.span.start < node.span.end:
            start, end = low, high  # nothing of it inside the parent: around the parent's words
        node.target = (start, end)
    anchors = [node for node in nodes if node.span.start == node.span.end]
    _spread_anchors(anchors, text, bounds, spaced)
    previous = low
    for node in sorted((node for node in nodes if node not in anchors), key=lambda n: n.target):
        start, end = node.target
        start = max(start, previous)
        node.target = (start, max(start, end))
        previous = node.target[1]
        _fit(node.children, node.target, text, alignment, spaced, whole)
    # An anchor goes beside a sibling's words rather than inside them (an image's alt text, a code span),
    # at the edge that stays inside the sentence; inside only when neither does.
    # Never onto another anchor's place: two line breaks that meet make an empty line.
    for anchor in anchors:
        for node in nodes:
            start, end = node.target
            if node not in anchors and start < anchor.target[0] < end:
                taken = {other.target[0] for other in anchors if other is not anchor}
                edges = [point for point, inside in ((end, end < high), (start, start > low)) if inside]
                free = [point for point in edges if point not in taken]
                if free:
                    anchor.target = (free[0], free[0])


def place(segment: Segment, translation: str, alignment: Alignment, spaced: bool) -> Placed:
    """The segment's spans around the words of `translation` they belong to (spaced: the target language
    puts spaces between words, so spans take whole words)."""
    spans = _unsettled(segment.spans, translation)
    if not spans:
        return Placed(translation)
    roots = _tree(spans)
    stripped = segment.text.strip()
    first = segment.text.find(stripped[:1]) if stripped else 0
    _fit(roots, (0, len(translation)), translation, alignment, spaced, (first, first + len(stripped)))
    placed: list[Span] = []

    def collect(nodes: list[_Node]) -> None:
        # In translated order, an anchor before a span that starts where it stands (it stays outside it).
        for node in sorted(nodes, key=lambda n: (n.target[0], n.span.start != n.span.end)):
            span = node.span
            placed.append(Span(node.target[0], node.target[1], span.open, span.close, span.fixed))
            if span.fixed is None:
                collect(node.children)

    collect(roots)
    return Placed(translation, placed)


def _unsettled(spans: list[Span], translation: str) -> list[Span]:
    """The spans still to place: glossary terms whose target the translation holds as often as the segment
    holds them are settled (replacing the model's own right words by alignment could only misplace them)."""
    wanted = Counter(span.fixed for span in spans if span.term)
    settled = {target for target, count in wanted.items() if translation.count(target) >= count}
    return [span for span in spans if not (span.term and span.fixed in settled)]


def translate_segments(translator: Translator, segments: list[Segment], options: DecodeOptions,
                       stats: TranslationStats | None = None) -> list[Placed]:
    """Every segment translated (one call: the model batches them) with its spans placed. Segments without
    spans skip the alignment pass."""
    spaced = translator.joiner == " "
    results: list[Placed | None] = [None] * len(segments)
    marked = [i for i, segment in enumerate(segments) if segment.spans]
    plain = [i for i, segment in enumerate(segments) if not segment.spans]
    if plain:
        for index, translation in zip(plain, translator.translate([segments[i].text for i in plain], options, stats)):
            results[index] = Placed(translation.text)
    if marked:
        aligned = translator.translate_aligned([segments[i].text for i in marked], options, stats)
        for index, (text, alignment) in zip(marked, aligned):
            results[index] = place(segments[index], text, alignment, spaced)
    return [result for result in results if result is not None]
