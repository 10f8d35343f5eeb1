"""Translate and score: the one path from source lines to BLEU, chrF and chrF++, used by training's
validation, `tcli export --check-with` and `tcli evaluate`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.files import in_range, read_lines
from translate_cli.core.metrics import Scores, score
from translate_cli.core.translator import Translator
from translate_cli.errors import DataError


@dataclass
class Scored:
    hypotheses: list[str]
    scores: Scores


def translate_and_score(translator: Translator, sources: list[str], references: list[str], options: DecodeOptions,
                        bootstrap: bool = False,
                        translate: Callable[[list[str]], list[str]] | None = None) -> Scored:
    """Translate `sources` into the translator's language and score them against `references`. `translate`
    replaces the plain translation (a glossary's, core/documents/glossary.py)."""
    if len(sources) != len(references):
        raise DataError(f"{len(sources):,} source lines but {len(references):,} reference lines; a test set needs "
                        f"a line-aligned source and reference")
    if translate is not None:
        hypotheses = translate(sources)
    else:
        hypotheses = [translation.text for translation in translator.translate(sources, options)]
    return Scored(hypotheses, score(hypotheses, references, translator.lang, bootstrap))


def read_test_set(source: Path, reference: Path, lines: str | None = None) -> tuple[list[str], list[str]]:
    """The source and reference lines of a test set (only `lines` "FIRST-LAST" of each, if given), checked
    to be line-aligned."""
    sources = list(in_range(read_lines(source), lines, source))
    references = list(in_range(read_lines(reference), lines, reference))
    if len(sources) != len(references):
        raise DataError(f"{source} has {len(sources):,} lines but {reference} has {len(references):,}; source and "
                        f"reference must be line-aligned")
    return sources, references
