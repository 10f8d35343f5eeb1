"""Sentences inside a line: the one place that knows which library splits them.

sentencex was chosen over pysbd and blingfire (README, "Translating real text"): as accurate as pysbd on
FLORES prose, lossless ("".join(pieces) == text), stateless (thread-safe), imports in about 1 ms, and
prints nothing. To swap the library, change `_segment` only.
"""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")


def _segment(text: str, lang: str) -> list[str]:
    # Imported here so that commands which never split (and `tcli --help`) do not load it.
    import sentencex

    return sentencex.segment(lang, text)


def split_sentences(text: str, lang: str = "en") -> list[str]:
    """The sentences of one line, stripped and in order; [] for a blank line.

    No character is ever lost: if the splitter's pieces do not hold every non-space character of the line,
    the whole line comes back as one sentence. Pieces without a letter ("1.", a lone quote) are glued to the
    next sentence (or the previous one when last), so "1. Buy milk." stays one sentence.
    """
    if not text.strip():
        return []
    pieces = _segment(text, lang)
    if _SPACE.sub("", "".join(pieces)) != _SPACE.sub("", text):
        return [text.strip()]
    sentences: list[str] = []
    carry = ""
    for piece in pieces:
        if not any(char.isalpha() for char in piece):
            carry += piece
            continue
        sentences.append(carry + piece)
        carry = ""
    if carry:
        if sentences:
            sentences[-1] += carry
        else:
            sentences.append(carry)
    return [sentence.strip() for sentence in sentences if sentence.strip()]


NO_SPACE_LANGS = {"ja", "zh", "th"}


def joiner(lang: str) -> str:
    """What joins translated sentences into one line, by the target's convention: nothing between Japanese,
    Chinese or Thai sentences, one space otherwise."""
    return "" if lang in NO_SPACE_LANGS else " "
