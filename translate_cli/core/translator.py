"""Lines in, lines out: split into sentences, normalise, encode, batch by length, search, decode, join, restore
input order.

Exactly one output for every input line, in order. An empty (or whitespace-only) line gives an empty
output without touching the model. With split="sentences" each sentence of a line is translated on its
own and the translations are joined by the target's convention (no space for Japanese); with "none" the
line is translated whole. A piece longer than the model's source limit is cut, at sentence ends first and
then at word starts, translated, and joined again. Both are counted.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from translate_cli.core.checkpoint import LoadedModel, ModelInfo, describe_langs, load_model
from translate_cli.core.data import token_budget_batches
from translate_cli.core.decoding import DecodeOptions, Hypothesis
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


def load_for_translation(model_dir: Path, backend: str = "native", quantize: str = "none",
                         threads: int | None = None) -> LoadedModel:
    """A model directory ready to translate with: native PyTorch (optionally int8), or a CTranslate2 export.
    The backend is resolved by ct2_backend.choose_backend (steps call it themselves, to print its note).

    torch is imported only for the native backend (core/ct2_backend.py never needs it). Threads (default:
    every core) go to batches side by side, one torch thread each, as CTranslate2's do: on CPU this beat
    threads inside each batch (docs/benchmarks.md, "Threads")."""
    if backend != "native":
        from translate_cli.core.ct2_backend import choose_backend

        choice = choose_backend(model_dir, backend, quantize)
        model_dir, backend = choice.folder, choice.backend
    if backend == "ctranslate2":
        from translate_cli.core.ct2_backend import load_ct2

        if quantize != "none":
            raise TcliError("--quantize applies to the native backend; quantize a CTranslate2 model when "
                            "exporting it (tcli export ... --quantization int8)")
        return load_ct2(model_dir, threads)
    import torch

    from translate_cli.core.ct2_backend import available_cores

    workers = threads or available_cores()
    torch.set_num_threads(1)
    loaded = load_model(model_dir)
    loaded.search_workers = workers
    if quantize == "int8":
        from translate_cli.core.quantize import quantize_int8

        loaded.model = quantize_int8(loaded.model)
    return loaded


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
        self._pool: ThreadPoolExecutor | None = None  # native search workers, made on first use
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
        stats = stats if stats is not None else TranslationStats()
        encoded = [self.encode_line(line, options.split) for line in lines]
        results = self.search([ids for line in encoded for ids in line.pieces], options)
        found = iter(results)  # in the order of the lines' pieces
        stats.lines += len(lines)
        stats.empty += sum(1 for line in encoded if not line.pieces)
        stats.sentence_lines += sum(1 for line in encoded if line.sentences > 1)
        stats.sentences_in_them += sum(line.sentences for line in encoded if line.sentences > 1)
        stats.cut_lines += sum(1 for line in encoded if line.cut)
        stats.joined_lines += sum(1 for line in encoded if len(line.pieces) > 1)
        stats.output_tokens += sum(len(hyps[0].tokens) for hyps in results)
        return [self._join([next(found) for _ in line.pieces]) for line in encoded]

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
        """Search every source (ids without EOS), batched by length; results in input order."""
        if self.loaded.ct2 is not None:  # CTranslate2 batches (and spreads over its threads) by itself
            max_lengths = [int(len(ids) * options.max_len_a) + options.max_len_b for ids in sources]
            return self.loaded.ct2.search(sources, max_lengths, options.beam_size, options.length_penalty,
                                          options.nbest, self.target_prefix)
        workers = self.loaded.search_workers
        batches = length_batches(sources, worker_budget(sources, options.batch_tokens // max(1, options.beam_size),
                                                        workers))

        def search_batch(batch: np.ndarray) -> list[list[Hypothesis]]:
            batch_sources = [sources[i] for i in batch]
            max_lengths = [int(len(ids) * options.max_len_a) + options.max_len_b for ids in batch_sources]
            return self._native_search(batch_sources, max_lengths, options)

        if workers > 1 and len(batches) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="tcli-search")
            found = list(self._pool.map(search_batch, batches))
        else:
            found = [search_batch(batch) for batch in batches]
        results: list[list[Hypothesis]] = [[] for _ in sources]
        for batch, hyps_of_batch in zip(batches, found):
            for index, hyps in zip(batch, hyps_of_batch):
                results[index] = hyps
        return results

    def _native_search(self, sources: list[list[int]], max_lengths: list[int],
                       options: DecodeOptions) -> list[list[Hypothesis]]:
        import torch

        from translate_cli.core.data import pad_sequences
        from translate_cli.core.search import beam_search, greedy_search

        device = next(self.model.parameters()).device
        source = pad_sequences(sources, suffix=self.eos_id, pad=self.pad_id).to(device)
        limits = torch.tensor(max_lengths)
        if options.beam_size == 1 and options.nbest == 1:
            return [[h] for h in greedy_search(self.model, source, limits, prefix=self.target_prefix)]
        return beam_search(self.model, source, limits, options.beam_size, options.length_penalty, nbest=options.nbest,
                           prefix=self.target_prefix, length_norm=options.length_norm)


def worker_budget(sources: list[list[int]], budget: int, workers: int) -> int:
    """The token budget per batch, cut so that each of `workers` search threads gets a batch."""
    if workers <= 1:
        return budget
    return min(budget, max(16, math.ceil(sum(len(ids) + 1 for ids in sources) / workers)))


def length_batches(sources: list[list[int]], budget: int) -> list[np.ndarray]:
    """Indices of the sources in length-sorted batches whose padded size (with EOS) fits the budget."""
    lengths = np.fromiter((len(ids) for ids in sources), dtype=np.int64, count=len(sources))
    return token_budget_batches(lengths, np.zeros_like(lengths), budget, seed=0, epoch=0, shuffle=False)
