"""Which source words each part of a translation came from, read off the model's cross-attention.

A translation's alignment links every target token to the source token it attended to most in the
alignment layer (decoding.alignment_layer), in character offsets of the source line and of the translation.
Formats use it to carry inline markup across (a link stays around the words it was around), subtitles to
put cue boundaries back, glossaries to find the words a term became. Attention to the end of the sentence
or to a language tag counts as no link (punctuation and function words often look there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_SPAN = (-1, -1)  # a language tag or end-of-sentence: no characters of the line


@dataclass
class Alignment:
    source_spans: list[tuple[int, int]]  # characters of the source line behind each source token (NO_SPAN: none)
    target_spans: list[tuple[int, int]]  # characters of the translation of each target token
    weights: np.ndarray  # (target tokens, source tokens) attention, rows summing to 1 within their piece

    def __post_init__(self) -> None:
        assert self.weights.shape == (len(self.target_spans), len(self.source_spans)), self.weights.shape
        real = np.array([span != NO_SPAN for span in self.source_spans], dtype=bool)
        best = self.weights.argmax(axis=1) if self.weights.size else np.zeros(0, dtype=np.int64)
        self.links = np.where(real[best], best, -1) if len(best) else best  # source token per target token

    def covered(self, start: int, end: int) -> np.ndarray:
        """Source tokens whose characters overlap start..end."""
        return np.array([s < end and start < e and (s, e) != NO_SPAN for s, e in self.source_spans], dtype=bool)

    def target_range(self, start: int, end: int, gap: int = 1) -> tuple[int, int] | None:
        """The characters of the translation linked to source characters start..end: of the runs of target
        tokens linked there (a run may skip `gap` unlinked tokens), the one that gave them the most attention;
        None when no token is linked there. One compact run, so a stray link elsewhere in the sentence
        cannot stretch a span over words that are not its own."""
        covered = self.covered(start, end)
        rows = [t for t, link in enumerate(self.links) if link >= 0 and covered[link]]
        if not rows:
            return None
        runs, current = [], [rows[0]]
        for row in rows[1:]:
            if row - current[-1] <= gap + 1:
                current.append(row)
            else:
                runs.append(current)
                current = [row]
        runs.append(current)
        mass = self.weights[:, covered].sum(axis=1)
        best = max(runs, key=lambda run: float(mass[run[0]:run[-1] + 1].sum()))
        return self.target_spans[best[0]][0], self.target_spans[best[-1]][1]

    def strongest(self, start: int, end: int) -> tuple[int, int] | None:
        """The target token that gave source characters start..end the most attention (a fallback when no
        token is linked to them); None for an empty translation or span."""
        covered = self.covered(start, end)
        if not covered.any() or not len(self.target_spans):
            return None
        return self.target_spans[int(self.weights[:, covered].sum(axis=1).argmax())]

    def split_point(self, offset: int) -> int:
        """Where in the translation to cut so that what came from source characters before `offset` falls
        before the cut and what came from after it falls after, as far as the links allow (ties: the
        earliest cut). A character offset of the translation."""
        sides = [-1 if link < 0 else (1 if self.source_spans[link][0] >= offset else 0) for link in self.links]
        # Agreement of each cut k (between token k-1 and k): tokens before it from before, after it from after.
        best_cut, best_score = 0, -1
        before_ok = 0
        after_ok = sum(side == 1 for side in sides)
        for k in range(len(sides) + 1):
            score = before_ok + after_ok
            if score > best_score:
                best_cut, best_score = k, score
            if k < len(sides):
                before_ok += sides[k] == 0
                after_ok -= sides[k] == 1
        if best_cut == 0:
            return 0
        return self.target_spans[best_cut - 1][1]


def word_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Character ranges of the whitespace-separated words of `text`, shifted by `offset`."""
    spans, start = [], None
    for index, char in enumerate(text + " "):
        if char.isspace():
            if start is not None:
                spans.append((start + offset, index + offset))
                start = None
        elif start is None:
            start = index
    return spans


def token_word_spans(pieces: list[str], words: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The word each subword piece belongs to (a piece starting with '▁' starts a word, SentencePiece's
    convention), as that word's character range. When the pieces and the words do not agree in number
    (normalisation changed the spacing), pieces are spread over the words in proportion."""
    if not pieces:
        return []
    index, starts = -1, []
    for piece in pieces:
        if piece.startswith("▁") or index < 0:
            index += 1
        starts.append(index)
    if words and index + 1 == len(words):
        return [words[i] for i in starts]
    if not words:
        return [NO_SPAN] * len(pieces)
    return [words[min(len(words) - 1, i * len(words) // len(pieces))] for i in range(len(pieces))]
