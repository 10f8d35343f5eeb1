"""Lines in, lines out: split into sentences, normalise, encode, batch by length, search, decode, join, restore
input order.

Exactly one output for every input line, in order. An empty (or whitespace-only) line gives an empty
output without touching the model. With split="sentences" each sentence of a line is translated on its
own and the translations are joined by the target's convention (no space for Japanese); with "none" the
line is translated whole. A piece longer than the model's source limit is cut, at sentence ends first and
then at word starts, translated, and joined again. Both are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from translate_cli.core.alignment import NO_SPAN, Alignment, token_word_spans, word_spans
from translate_cli.core.checkpoint import LoadedModel, ModelInfo, describe_langs
from translate_cli.core.decoding import DecodeOptions, Hypothesis, Searcher
from translate_cli.core.sentences import joiner, split_sentences
from translate_cli.core.text import normalize, single_line
from translate_cli.errors import CheckpointError, TcliError


@dataclass
class TranslationStats:
    lines: int = 0
    empty: int = 0
    sentence_lines: int = 0  # lines of two or more sentences, each translated on its own
    sentences_in_them: int = 0  # how many sentences those lines held
    cut_lines: int = 0  # lines with a piece longer than the model's limit, cut and translated in parts
    joined_lines: int = 0  # lines whose output joins two or more translated pieces (no n-best alternatives)
    output_tokens: int = 0


@dataclass
class EncodedLine:
    pieces: list[list[int]]  # model inputs, in order; their translations are joined into the line's output
    sentences: int = 0  # sentences found (split="sentences"), 0 when not split
    cut: bool = False  # True when a piece had to be cut at the model's length limit


@dataclass
class Translation:
    text: str
    score: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)  # n-best, best first


def resolve_lang(info: ModelInfo, lang: str | None, where: Path) -> str:
    """The target language to produce (tcli's code, or the model's own such as hin_Deva); a single-target
    model needs none."""
    known = info.target_langs
    if lang is None:
        if len(known) == 1:
            return known[0]
        raise TcliError(f"{where}: this model translates into {describe_langs(known)}; choose one with --to")
    found = info.find_lang(lang)
    if found is None:
        raise TcliError(f"{where}: the model was not trained to translate into '{lang}'; "
                        f"it knows: {describe_langs(known)}")
    return found


class Translator:
    def __init__(self, loaded: LoadedModel, lang: str | None = None):
        self.loaded = loaded
        self.model, self.tokenizer, self.info = loaded.model, loaded.tokenizer, loaded.info
        self.lang = resolve_lang(loaded.info, lang, loaded.path)
        try:
            self.prefix, self.target_prefix = self.info.tokens_for(self.lang).ids(self.tokenizer)
        except ValueError as exc:
            raise CheckpointError(f"{loaded.path}: asking for '{self.lang}' needs a {exc}; the model "
                                  f"directory is damaged") from None
        config = self.info.model
        self.pad_id, self.eos_id = config.pad_id, config.eos_id
        self.source_rules = self.info.normalize[self.info.source_lang]
        self.joiner = joiner(self.lang)
        self.searcher = loaded.searcher or _native_searcher(loaded)
        # Room for the language tag and EOS.
        self.piece_limit = self.info.model.max_source_tokens - len(self.prefix) - 1

    def encode(self, line: str, split: str = "sentences") -> list[list[int]]:
        """One source line -> model inputs (one per piece; none for an empty line)."""
        return self.encode_line(line, split).pieces

    def encode_line(self, line: str, split: str = "sentences") -> EncodedLine:
        """One source line -> its pieces: its sentences (split="sentences") or the whole line ("none"), each
        cut at word starts where over the model's limit. A whole line over the limit is cut at sentence
        ends first."""
        if split == "none":
            whole = self._ids(line)
            if len(whole) <= self.piece_limit:  # the common case: the splitter is not even called
                return EncodedLine([self.prefix + whole] if whole else [])
            groups = self._pack(self._sentence_ids(line))
            return EncodedLine([self.prefix + part for ids in groups for part in self._cut(ids)], cut=True)
        sentences = self._sentence_ids(line)
        parts = [self._cut(ids) for ids in sentences]
        return EncodedLine([self.prefix + part for cut in parts for part in cut], len(sentences),
                           any(len(cut) > 1 for cut in parts))

    def _sentence_ids(self, line: str) -> list[list[int]]:
        return [ids for sentence in split_sentences(line, self.info.source_lang) if (ids := self._ids(sentence))]

    def _ids(self, text: str) -> list[int]:
        text = normalize(text, self.source_rules)
        return self.tokenizer.encode(text) if text else []

    def _pack(self, sentences: list[list[int]]) -> list[list[int]]:
        """Consecutive sentences packed into as few groups within the limit as order allows (a sentence over
        the limit stays alone, to be cut at word starts)."""
        groups: list[list[int]] = []
        for ids in sentences:
            if groups and len(groups[-1]) + len(ids) <= self.piece_limit:
                groups[-1] = groups[-1] + ids
            else:
                groups.append(list(ids))
        return groups

    def _cut(self, ids: list[int]) -> list[list[int]]:
        """Cut at word starts (pieces beginning with '▁') where possible, never above the limit."""
        limit = self.piece_limit
        if len(ids) <= limit:
            return [ids]
        pieces = self.tokenizer.pieces(ids)
        chunks, start = [], 0
        while len(ids) - start > limit:
            window = range(start + limit, start + limit // 2, -1)
            # A word start if there is one; else anything but a byte piece (<0x..>), so the bytes of one
            # character are never split across two pieces.
            cut = next((p for p in window if pieces[p].startswith("▁")),
                       next((p for p in window if not pieces[p].startswith("<0x")), start + limit))
            chunks.append(ids[start:cut])
            start = cut
        chunks.append(ids[start:])
        return chunks

    def translate(self, lines: list[str], options: DecodeOptions, stats: TranslationStats | None = None) -> list[Translation]:
        encoded, results = self._search_lines(lines, options, stats)
        found = iter(results)  # in the order of the lines' pieces
        return [self._join([next(found) for _ in line.pieces]) for line in encoded]

    def translate_aligned(self, lines: list[str], options: DecodeOptions,
                          stats: TranslationStats | None = None) -> list[tuple[str, Alignment]]:
        """The best translation of every line with its alignment to the line (core/alignment.py): one more
        teacher-forced pass of the model over each translation, for its cross-attention."""
        options = replace(options, nbest=1)
        encoded, results = self._search_lines(lines, options, stats)
        sources = [ids for line in encoded for ids in line.pieces]
        targets = [hyps[0].tokens for hyps in results]
        weights = iter(self.searcher.attention(sources, targets, self.target_prefix))
        found = iter(targets)
        aligned = []
        for line, encoding in zip(lines, encoded):
            pieces = [(ids, next(found), next(weights)) for ids in encoding.pieces]
            aligned.append(self._aligned(pieces, self._source_spans(line, options.split, encoding)))
        return aligned

    def _search_lines(self, lines: list[str], options: DecodeOptions,
                      stats: TranslationStats | None) -> tuple[list[EncodedLine], list[list[Hypothesis]]]:
        stats = stats if stats is not None else TranslationStats()
        encoded = [self.encode_line(line, options.split) for line in lines]
        results = self.search([ids for line in encoded for ids in line.pieces], options)
        stats.lines += len(lines)
        stats.empty += sum(1 for line in encoded if not line.pieces)
        stats.sentence_lines += sum(1 for line in encoded if line.sentences > 1)
        stats.sentences_in_them += sum(line.sentences for line in encoded if line.sentences > 1)
        stats.cut_lines += sum(1 for line in encoded if line.cut)
        stats.joined_lines += sum(1 for line in encoded if len(line.pieces) > 1)
        stats.output_tokens += sum(len(hyps[0].tokens) for hyps in results)
        return encoded, results

    def _source_spans(self, line: str, split: str, encoding: EncodedLine) -> list[list[tuple[int, int]]]:
        """For each piece of an encoded line, the characters of the line behind each of its tokens (the
        language tag's: NO_SPAN)."""
        if split == "none" and not encoding.cut:
            sentences = [(line, 0)]
        else:
            sentences, position = [], 0
            for sentence in split_sentences(line, self.info.source_lang):
                found = line.find(sentence, position)
                sentences.append((sentence, max(found, 0)))
                position = found + len(sentence) if found >= 0 else position
        spans = []
        for text, offset in sentences:
            ids = self._ids(text)
            spans += token_word_spans(self.tokenizer.pieces(ids), word_spans(text, offset))
        per_piece, start = [], 0
        for piece in encoding.pieces:
            count = len(piece) - len(self.prefix)
            chunk = spans[start:start + count]
            per_piece.append([NO_SPAN] * len(self.prefix) + chunk + [NO_SPAN] * (count - len(chunk)))
            start += count
        return per_piece

    def _aligned(self, pieces: list[tuple[list[int], list[int], np.ndarray]],
                 source_spans: list[list[tuple[int, int]]]) -> tuple[str, Alignment]:
        """A line's translation (its pieces' joined) and one alignment over all its pieces."""
        texts, target_spans, blocks, columns = [], [], [], []
        length = 0
        for (source, target, weights), spans in zip(pieces, source_spans):
            text = self._text(target)
            offset = length + (len(self.joiner) if texts and text else 0)
            target_spans += [(offset + start, offset + end) for start, end in self._token_spans(target, text)]
            if text:
                texts.append(text)
                length = offset + len(text)
            blocks.append(weights[:len(target)])  # the EOS step links nothing
            columns += spans + [NO_SPAN]  # the source's EOS
        matrix = np.zeros((len(target_spans), len(columns)), dtype=np.float32)
        row = column = 0
        for block in blocks:
            matrix[row:row + block.shape[0], column:column + block.shape[1]] = block
            row, column = row + block.shape[0], column + block.shape[1]
        return self.joiner.join(texts), Alignment(columns, target_spans, matrix)

    def _token_spans(self, tokens: list[int], text: str) -> list[tuple[int, int]]:
        """Characters of `text` (the decoded tokens) that each token produced, from decoding growing prefixes."""
        spans, previous = [], 0
        for count in range(1, len(tokens) + 1):
            end = min(len(text), max(previous, len(self._text(tokens[:count]))))
            spans.append((previous, end))
            previous = end
        return spans

    def _join(self, pieces: list[list[Hypothesis]]) -> Translation:
        """The best translation of each piece, joined. Only a line of one piece has n-best alternatives: the
        k-th best of separate sentences do not make a k-th best line."""
        if not pieces:
            return Translation("", 0.0)
        # A piece the model translated to nothing adds no joiner (no double spaces).
        text = self.joiner.join(part for hyps in pieces if (part := self._text(hyps[0].tokens)))
        score = sum(hyps[0].score for hyps in pieces)
        alternatives = []
        if len(pieces) == 1:
            alternatives = [(self._text(h.tokens), h.normalized) for h in pieces[0]]
        return Translation(text, score, alternatives)

    def _text(self, tokens: list[int]) -> str:
        # Byte-fallback pieces could spell a newline; one input line must stay one output line.
        return single_line(self.tokenizer.decode(tokens))

    def search(self, sources: list[list[int]], options: DecodeOptions) -> list[list[Hypothesis]]:
        """Search every source (ids without EOS) with the model's backend; results in input order."""
        return self.searcher.search(sources, options, self.target_prefix)


def _native_searcher(loaded: LoadedModel) -> Searcher:
    """A model loaded without a searcher (training's snapshots, load_model) searches natively on one thread;
    torch is imported only here, never on the CTranslate2 path."""
    from translate_cli.core.native import NativeSearcher

    return NativeSearcher(loaded.model)
