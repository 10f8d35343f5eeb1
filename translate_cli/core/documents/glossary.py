"""Glossaries: `--glossary terms.tsv` (source term TAB target term, one per line) makes the given translation
appear wherever the source term occurs.

A term found in a segment becomes a fixed span: the sentence is translated as usual (the model sees the
term in context); where the translation already holds the glossary's target it is left as it is, and
otherwise the words of the translation aligned to the term are replaced by the target
(core/documents/inline.py). This needs nothing from the model but its attention, so it works the
same for tcli's models, imported ones and CTranslate2 exports.

Matching on the English side: case-insensitive unless the term has capitals after its first letter (an
acronym such as "IT" or a name such as "McDonald"), and the last word may take a plural or possessive
ending ("temple" matches "Temples" and "temple's"). Longer terms win where matches overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.documents.inline import translate_segments
from translate_cli.core.documents.segments import Segment, Span
from translate_cli.core.files import read_lines
from translate_cli.core.translator import TranslationStats, Translator
from translate_cli.errors import DataError

ENDINGS = r"(?:s|es|'s|’s|s'|s’)?"  # plural and possessive endings the last word may take


@dataclass(frozen=True)
class Term:
    source: str
    target: str
    pattern: re.Pattern


def _pattern(source: str) -> re.Pattern:
    words = [re.escape(word) for word in source.split()]
    words[-1] += ENDINGS if source[-1:].isalpha() else ""
    flags = 0 if any(char.isupper() for char in source[1:]) else re.IGNORECASE
    return re.compile(r"(?<![\w-])" + r"\s+".join(words) + r"(?![\w-])", flags)


@dataclass
class Glossary:
    terms: list[Term] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> "Glossary":
        """A TSV file of `source TAB target` lines; empty lines and lines starting with # are skipped."""
        terms: dict[str, Term] = {}
        for number, line in enumerate(read_lines(path), 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise DataError(f"{path}:{number}: expected 'source term<TAB>target term', got {line[:60]!r}; "
                                f"fix the line (a term may not contain a tab)")
            source, target = " ".join(parts[0].split()), parts[1].strip()
            key = source if any(c.isupper() for c in source[1:]) else source.lower()
            if key in terms and terms[key].target != target:
                raise DataError(f"{path}:{number}: '{source}' is already in the glossary as "
                                f"'{terms[key].target}'; keep one translation per term")
            terms[key] = Term(source, target, _pattern(source))
        if not terms:
            raise DataError(f"{path}: holds no terms; write one 'source term<TAB>target term' per line")
        return cls(sorted(terms.values(), key=lambda term: -len(term.source)))

    def matches(self, text: str) -> list[tuple[int, int, Term]]:
        """Non-overlapping occurrences of terms in `text`, longest term first, in text order."""
        taken: list[tuple[int, int, Term]] = []
        for term in self.terms:
            for match in term.pattern.finditer(text):
                if all(match.end() <= start or end <= match.start() for start, end, _ in taken):
                    taken.append((match.start(), match.end(), term))
        return sorted(taken, key=lambda found: found[0])

    def apply(self, segment: Segment, escape: Callable[[str], str] = lambda text: text) -> tuple[Segment, int]:
        """The segment with a fixed span for every term occurrence that nests in or stays clear of its spans
        (never inside a fixed span such as inline code); returns it and how many terms were found."""
        spans, found = list(segment.spans), 0
        for start, end, term in self.matches(segment.text):
            if all(_clear(span, start, end) for span in segment.spans):
                spans.append(Span(start, end, fixed=escape(term.target), term=True))
                found += 1
        return Segment(segment.text, spans, segment.line), found


def translate_lines(translator: Translator, lines: list[str], options: DecodeOptions, glossary: Glossary,
                    stats: TranslationStats | None = None) -> tuple[list[str], int]:
    """Plain lines translated with the glossary's terms enforced; returns them and the terms found."""
    applied = [glossary.apply(Segment(line)) for line in lines]
    placed = translate_segments(translator, [segment for segment, _ in applied], options, stats)
    return [translation.render() for translation in placed], sum(found for _, found in applied)


def _clear(span: Span, start: int, end: int) -> bool:
    """Whether a term at start..end can be a fixed span beside `span`: apart from it, or inside its words
    (not inside a fixed span, and not around it: its markup would be lost)."""
    if span.start == span.end:
        return not start < span.start < end
    apart = span.end <= start or end <= span.start
    return apart or (span.fixed is None and span.start <= start and end <= span.end)


def term_accuracy(glossary: Glossary, sources: list[str], outputs: list[str]) -> tuple[int, int]:
    """(term occurrences in the sources whose target appears in the output, all term occurrences): each
    occurrence counts once, and an output must hold a term's target as often as its source holds the term."""
    hits = total = 0
    for source, output in zip(sources, outputs):
        wanted: dict[str, int] = {}
        for _, _, term in glossary.matches(source):
            wanted[term.target] = wanted.get(term.target, 0) + 1
        for target, count in wanted.items():
            total += count
            hits += min(count, output.count(target))
    return hits, total
