"""Translating with a CTranslate2 export (written by core/ct2/export.py), without importing torch.

A shell user who runs `tcli translate EXPORT --backend ctranslate2` for one line pays only for
CTranslate2, SentencePiece and numpy: nothing on this path imports torch (tests/test_architecture.py).

Threads: CTranslate2 runs `inter_threads` translators side by side, each on its own batches with
`intra_threads` threads for its matrix products. On CPU, batches in parallel beat threads inside one
batch for tcli's small models (docs/benchmarks.md, "CTranslate2 threads"), so `threads_for` gives every
thread its own translator, and `search` hands CTranslate2 all the sentences of a call at once, in
batches small enough that every translator gets work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from translate_cli.core.architecture import ModelConfig, suppressed_ids
from translate_cli.core.checkpoint import LoadedModel, load_model_tokenizer, read_info
from translate_cli.core.decoding import DecodeOptions, Hypothesis, available_cores
from translate_cli.errors import CheckpointError, TcliError

CT2_MARKER = "tcli-ctranslate2.json"
MAX_BATCH_SENTENCES = 64  # per CTranslate2 batch; smaller batches only for short inputs (see batch_size)


def import_ctranslate2():
    try:
        import ctranslate2
    except ImportError:
        raise TcliError("the CTranslate2 backend needs the optional extra: pip install -e \".[ct2]\"") from None
    return ctranslate2


def is_ct2_export(folder: Path) -> bool:
    return (Path(folder) / CT2_MARKER).is_file()


@dataclass(frozen=True)
class CT2Threads:
    """How CTranslate2 uses the threads it is given."""

    inter_threads: int  # translators working side by side, each on its own batches
    intra_threads: int  # threads inside one translator's matrix products


def threads_for(threads: int | None) -> CT2Threads:
    """The measured rule: one translator per thread, one thread each (docs/benchmarks.md)."""
    total = threads or available_cores()
    return CT2Threads(inter_threads=total, intra_threads=1)


def batch_size(sentences: int, translators: int) -> int:
    """Sentences per CTranslate2 batch: at most MAX_BATCH_SENTENCES, and small enough that a call with few
    sentences still gives every translator a batch."""
    return max(1, min(MAX_BATCH_SENTENCES, math.ceil(sentences / translators)))


class CT2Searcher:
    """Runs search through a CTranslate2 Translator on token ids, returning tcli Hypotheses."""

    def __init__(self, folder: Path, pieces: list[str], config: ModelConfig, threads: int | None = None,
                 layout: CT2Threads | None = None):
        ctranslate2 = import_ctranslate2()
        self.pieces, self.eos = pieces, pieces[config.eos_id]
        self.index = {piece: i for i, piece in enumerate(pieces)}
        # As the native search: suppressed tokens are never generated, and an empty output is allowed.
        self.suppress = [[pieces[i]] for i in suppressed_ids(config)]
        self.threads = layout or threads_for(threads)
        self.max_batch_size: int | None = None  # sentences per CTranslate2 batch; None: batch_size()
        self.translator = ctranslate2.Translator(str(folder), device="cpu",
                                                 inter_threads=self.threads.inter_threads,
                                                 intra_threads=self.threads.intra_threads)

    def search(self, sources: list[list[int]], options: DecodeOptions,
               prefix: Sequence[int] = ()) -> list[list[Hypothesis]]:
        """Search every source (ids without EOS); results in input order.

        CTranslate2 takes one output limit per call, so sentences are grouped by their own limit. Its limit
        counts the tokens before end-of-sentence, as the native search's does; a hypothesis that reaches it
        ends there, like the native search's forced end-of-sentence.
        A forced `prefix` (a target-language token) goes to CTranslate2 as a target prefix and is cut from
        the output. Every group is submitted before any result is awaited: CTranslate2's translators work
        on them side by side."""
        max_lengths = [options.max_length(len(ids)) for ids in sources]
        tokens = [[self.pieces[i] for i in ids] + [self.eos] for ids in sources]
        forced = [self.pieces[i] for i in prefix]
        groups: dict[int, list[int]] = {}
        for index, limit in enumerate(max_lengths):
            groups.setdefault(limit, []).append(index)
        size = self.max_batch_size or batch_size(len(sources), self.threads.inter_threads)
        pending = []
        for limit, indices in groups.items():
            # max_batch_size splits a group into batches that the translators share.
            results = self.translator.translate_batch(
                [tokens[i] for i in indices], target_prefix=[forced] * len(indices) if forced else None,
                beam_size=options.beam_size, num_hypotheses=options.nbest, length_penalty=options.length_penalty,
                return_scores=True, max_decoding_length=limit + len(forced), min_decoding_length=0,
                suppress_sequences=self.suppress,
                max_batch_size=size, batch_type="examples", asynchronous=True)
            pending.append((limit, indices, results))
        output: list[list[Hypothesis]] = [[] for _ in sources]
        for limit, indices, results in pending:
            for index, result in zip(indices, results):
                found = result.result()
                output[index] = [Hypothesis([self.index[p] for p in hyp[len(forced):]][:limit], score, score)
                                 for hyp, score in zip(found.hypotheses, found.scores)]
        return output

    def attention(self, sources: list[list[int]], targets: list[list[int]],
                  prefix: Sequence[int] = ()) -> list[np.ndarray]:
        """See decoding.Searcher.attention: each translation forced as a target prefix, with CTranslate2's
        attention of the alignment layer (the export sets it, core/ct2/export.py) for every step."""
        forced = [self.pieces[i] for i in prefix]
        output: list[np.ndarray] = [np.zeros(0)] * len(sources)
        groups: dict[int, list[int]] = {}
        for index, target in enumerate(targets):  # one decoding length per call, as in search
            groups.setdefault(len(target), []).append(index)
        for length, indices in groups.items():
            results = self.translator.translate_batch(
                [[self.pieces[i] for i in sources[k]] + [self.eos] for k in indices],
                target_prefix=[forced + [self.pieces[i] for i in targets[k]] for k in indices], beam_size=1,
                max_decoding_length=len(forced) + length + 1, min_decoding_length=0, return_attention=True,
                max_batch_size=MAX_BATCH_SENTENCES, batch_type="examples")
            for index, result in zip(indices, results):
                rows = np.asarray(result.attention[0], dtype=np.float32)
                output[index] = rows[len(forced):len(forced) + length + 1, :len(sources[index]) + 1]
        return output


def load_ct2(folder: Path | str, threads: int | None = None) -> LoadedModel:
    """A CTranslate2 export as a LoadedModel whose search runs in CTranslate2."""
    folder = Path(folder)
    info = read_info(folder)
    if not is_ct2_export(folder):
        raise TcliError(f"{folder}: not a CTranslate2 export; create one with "
                        f"`tcli export MODEL_DIR --format ctranslate2 -o {folder}`")
    try:
        tokenizer = load_model_tokenizer(folder, info)
    except CheckpointError as exc:
        raise TcliError(f"{exc}; export the model again") from None
    pieces = tokenizer.pieces(range(tokenizer.vocab_size))
    try:
        searcher = CT2Searcher(folder, pieces, info.model, threads)
    except RuntimeError as exc:
        raise TcliError(f"{folder}: CTranslate2 cannot load it ({exc})") from None
    return LoadedModel(info, None, tokenizer, folder, searcher=searcher)
