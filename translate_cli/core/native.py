"""The native PyTorch backend: greedy and beam search over Seq2SeqTransformer.encode/decode (one token per
step with a key/value cache), NativeSearcher (length-sorted batches searched by threads side by side),
int8 dynamic quantisation, and loading a model directory for it.

Both search a batch of sentences at once and drop sentences from the batch as they finish. Output
lengths are bounded per sentence: end-of-sentence is forbidden before `min_lengths[i]` tokens and the
only choice once `max_lengths[i]` tokens have been generated. A `prefix` of forced first tokens (the
target-language token of M2M100/NLLB models) is generated with log-probability 0 before the free steps;
it counts in the length that normalises beam scores, but not in the limits, and is not returned.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from translate_cli.core.architecture import suppressed_ids
from translate_cli.core.checkpoint import LoadedModel, load_model
from translate_cli.core.data import pad_sequences, token_budget_batches
from translate_cli.core.decoding import DecodeOptions, Hypothesis, alignment_layer, available_cores
from translate_cli.core.model import DecoderCache, Encoded, Seq2SeqTransformer, decoder_attention

ATTENTION_BATCH_TOKENS = 4096  # source + target tokens per teacher-forced pass of NativeSearcher.attention


def _step_log_probs(model: Seq2SeqTransformer, last_tokens: torch.Tensor, encoded: Encoded, cache: DecoderCache,
                    at_limit: torch.Tensor, before_min: torch.Tensor, forced: Optional[int] = None,
                    free_limit_eos: bool = False) -> torch.Tensor:
    """(N, V) log-probabilities of the next token under the length rules (masks are (N,) booleans);
    with `forced`, that token is the only choice and costs nothing. End-of-sentence forced at the limit
    keeps its log-probability, or costs nothing with `free_limit_eos` (Hugging Face's forced_eos_token_id)."""
    hidden = model.decode(last_tokens, encoded, cache)[:, -1]  # (N, D)
    log_probs = torch.log_softmax(model.logits(hidden).float(), dim=-1)
    if forced is not None:
        log_probs.fill_(float("-inf"))[:, forced] = 0.0
        return log_probs
    config = model.config
    for token in suppressed_ids(config):
        log_probs[:, token] = float("-inf")
    if bool(before_min.any()):
        log_probs[before_min, config.eos_id] = float("-inf")
    if bool(at_limit.any()):
        eos_column = 0.0 if free_limit_eos else log_probs[at_limit, config.eos_id].clone()
        log_probs[at_limit] = float("-inf")
        log_probs[at_limit, config.eos_id] = eos_column
    return log_probs


def _length_masks(step: int, sentence: torch.Tensor, max_lengths: torch.Tensor, min_lengths: Optional[torch.Tensor],
                  repeat: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    at_limit = max_lengths.index_select(0, sentence) <= step
    if min_lengths is None:
        before_min = torch.zeros_like(at_limit)
    else:
        before_min = min_lengths.index_select(0, sentence) > step
    return (at_limit.repeat_interleave(repeat).to(device), before_min.repeat_interleave(repeat).to(device))


def _with_prefix(prefix: Sequence[int], max_lengths: torch.Tensor,
                 min_lengths: Optional[torch.Tensor]) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Length limits counted from the first step, forced prefix included."""
    if min_lengths is not None:
        min_lengths = torch.minimum(min_lengths, max_lengths)
    return max_lengths + len(prefix), None if min_lengths is None else min_lengths + len(prefix)


@torch.inference_mode()
def greedy_search(model: Seq2SeqTransformer, source: torch.Tensor, max_lengths: torch.Tensor,
                  min_lengths: Optional[torch.Tensor] = None, prefix: Sequence[int] = ()) -> list[Hypothesis]:
    """The most probable token at every step. source (B, S); max/min_lengths (B,) on the CPU."""
    config, device = model.config, source.device
    count = source.size(0)
    max_lengths, min_lengths = _with_prefix(prefix, max_lengths, min_lengths)
    encoded = model.encode(source)
    cache = model.new_cache()
    sentence = torch.arange(count)  # original index of each active row
    last = torch.full((count, 1), config.bos_id, dtype=torch.long, device=device)
    outputs: list[list[int]] = [[] for _ in range(count)]
    scores = [0.0] * count
    step = 0
    while sentence.numel():
        at_limit, before_min = _length_masks(step, sentence, max_lengths, min_lengths, 1, device)
        forced = prefix[step] if step < len(prefix) else None
        best_score, best = _step_log_probs(model, last, encoded, cache, at_limit, before_min, forced).max(dim=-1)
        finished = (best == config.eos_id).cpu()
        for row, (index, token, score) in enumerate(zip(sentence.tolist(), best.tolist(), best_score.tolist())):
            scores[index] += score
            if not finished[row]:
                outputs[index].append(token)
        keep = (~finished).nonzero().squeeze(1)
        if keep.numel() < sentence.numel():
            sentence = sentence.index_select(0, keep)
            keep = keep.to(device)
            encoded = encoded.select(keep)
            cache.select(keep)
            best = best.index_select(0, keep)
        last = best.unsqueeze(1)
        step += 1
    return [Hypothesis(tokens[len(prefix):], score, score) for tokens, score in zip(outputs, scores)]


def length_penalty(length: int, alpha: float, norm: str = "gnmt") -> float:
    """What a beam score is divided by: GNMT's ((5 + |Y|) / 6) ** alpha (Wu et al., 2016, eq. 14), or
    |Y| ** alpha (norm="power", Hugging Face's and CTranslate2's)."""
    if norm == "power":
        return float(length) ** alpha
    return ((5.0 + length) / 6.0) ** alpha


@torch.inference_mode()
def beam_search(model: Seq2SeqTransformer, source: torch.Tensor, max_lengths: torch.Tensor, beam_size: int,
                alpha: float = 0.6, nbest: int = 1, min_lengths: Optional[torch.Tensor] = None,
                prefix: Sequence[int] = (), length_norm: str = "gnmt") -> list[list[Hypothesis]]:
    """Batched beam search: B sentences x K beams per step; finished sentences leave the batch.

    Per step each sentence takes its top 2K extensions: end-of-sentence ones ranked within the top K
    become finished hypotheses, the best K others continue. A sentence stops once it has K finished
    hypotheses or reaches its length limit. Returns the `nbest` best per sentence, best first.
    Encoder states stay one per sentence; the K beams share them (see DecoderCache.beams).
    length_norm="power" (imported models) follows Hugging Face's generate() throughout: score / |Y| ** alpha,
    and the end-of-sentence forced at the length limit costs nothing (its forced_eos_token_id).
    """
    config, device = model.config, source.device
    count, beams = source.size(0), beam_size
    max_lengths, min_lengths = _with_prefix(prefix, max_lengths, min_lengths)
    encoded = model.encode(source)  # (B, S, D): not expanded per beam
    cache = model.new_cache(beams)
    sentence = torch.arange(count)  # original index of each active sentence
    prefixes = torch.full((count * beams, 1), config.bos_id, dtype=torch.long, device=device)
    beam_scores = torch.full((count, beams), float("-inf"), device=device)
    beam_scores[:, 0] = 0.0  # all beams start identical: only the first may expand at step 0
    finished: list[list[Hypothesis]] = [[] for _ in range(count)]
    step = 0
    while sentence.numel():
        active = sentence.numel()
        at_limit, before_min = _length_masks(step, sentence, max_lengths, min_lengths, beams, device)
        forced = prefix[step] if step < len(prefix) else None
        log_probs = _step_log_probs(model, prefixes[:, -1:], encoded, cache, at_limit, before_min, forced,
                                    free_limit_eos=length_norm == "power")
        vocab = log_probs.size(1)
        candidates = (beam_scores.view(-1, 1) + log_probs).view(active, beams * vocab)
        top_scores, top_ids = candidates.topk(min(2 * beams, beams * vocab), dim=1)  # (n, 2K)
        origin, token = top_ids // vocab, top_ids % vocab
        is_eos = token == config.eos_id
        _collect_finished(finished, sentence, prefixes, top_scores, origin, is_eos, beams,
                          lambda length: length_penalty(length, alpha, length_norm), len(prefix))

        done = torch.tensor([len(finished[i]) >= beams for i in sentence.tolist()]) | at_limit[::beams].cpu()
        # The best K extensions that do not end the sentence continue as the next beams.
        continuing = (~is_eos) & ((~is_eos).cumsum(dim=1) <= beams)
        next_scores = top_scores[continuing].view(active, beams)
        next_origin = origin[continuing].view(active, beams)
        next_token = token[continuing].view(active, beams)

        keep = (~done).nonzero().squeeze(1)
        if not keep.numel():
            break
        keep_dev = keep.to(device)
        parent_rows = (keep_dev.unsqueeze(1) * beams + next_origin.index_select(0, keep_dev)).view(-1)
        prefixes = torch.cat([prefixes.index_select(0, parent_rows),
                              next_token.index_select(0, keep_dev).view(-1, 1)], dim=1)
        beam_scores = next_scores.index_select(0, keep_dev)
        shrunk = keep.numel() < active
        if shrunk:
            encoded = encoded.select(keep_dev)
        cache.select(parent_rows, keep_dev if shrunk else None)
        sentence = sentence.index_select(0, keep)
        step += 1
    # Only non-finite scores (NaN logits) can leave a sentence without a hypothesis: give it an empty one.
    return [sorted(hyps, key=lambda h: h.normalized, reverse=True)[:nbest] or [Hypothesis([], float("-inf"),
                                                                                         float("-inf"))]
            for hyps in finished]


def _collect_finished(finished: list[list[Hypothesis]], sentence: torch.Tensor, prefixes: torch.Tensor,
                      top_scores: torch.Tensor, origin: torch.Tensor, is_eos: torch.Tensor, beams: int,
                      penalty, forced: int) -> None:
    """Move end-of-sentence candidates ranked within the top K into their sentence's finished list."""
    ranked = is_eos[:, :beams] & torch.isfinite(top_scores[:, :beams])
    if not bool(ranked.any()):
        return
    for row, column in ranked.nonzero().tolist():
        hyps = finished[int(sentence[row])]
        if len(hyps) >= beams:
            continue
        tokens = prefixes[row * beams + int(origin[row, column]), 1:].tolist()
        score = float(top_scores[row, column])
        hyps.append(Hypothesis(tokens[forced:], score, score / penalty(len(tokens) + 1)))


class NativeSearcher:
    """Searches with the PyTorch model: sources sorted by length into batches within the token budget
    (`batch_tokens` / beam size), and with several `workers` each batch searched by its own thread (one
    torch thread each, as CTranslate2's translators: on CPU this beat threads inside each batch,
    docs/benchmarks.md, "Threads")."""

    def __init__(self, model: Seq2SeqTransformer, workers: int = 1):
        self.model, self.workers = model, workers
        self._pool: ThreadPoolExecutor | None = None  # made on first use

    def search(self, sources: list[list[int]], options: DecodeOptions,
               prefix: Sequence[int] = ()) -> list[list[Hypothesis]]:
        budget = worker_budget(sources, options.batch_tokens // max(1, options.beam_size), self.workers)
        batches = length_batches(sources, budget)

        def search_batch(batch: np.ndarray) -> list[list[Hypothesis]]:
            return self._search_batch([sources[i] for i in batch], options, prefix)

        if self.workers > 1 and len(batches) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="tcli-search")
            found = list(self._pool.map(search_batch, batches))
        else:
            found = [search_batch(batch) for batch in batches]
        results: list[list[Hypothesis]] = [[] for _ in sources]
        for batch, hyps_of_batch in zip(batches, found):
            for index, hyps in zip(batch, hyps_of_batch):
                results[index] = hyps
        return results

    def attention(self, sources: list[list[int]], targets: list[list[int]],
                  prefix: Sequence[int] = ()) -> list[np.ndarray]:
        """See decoding.Searcher.attention: one teacher-forced pass per batch of similar lengths."""
        config = self.model.config
        layer = alignment_layer(config.decoder_layers)
        results: list[np.ndarray] = [np.zeros(0)] * len(sources)
        lengths = [len(s) + len(t) for s, t in zip(sources, targets)]
        for batch in length_batches([[0] * n for n in lengths], ATTENTION_BATCH_TOKENS):
            source = pad_sequences([sources[i] for i in batch], suffix=config.eos_id, pad=config.pad_id)
            target_in = pad_sequences([[*prefix, *targets[i]] for i in batch], prefix=config.bos_id, pad=config.pad_id)
            device = next(self.model.parameters()).device
            weights = decoder_attention(self.model, source.to(device), target_in.to(device), layer).mean(1)
            for row, index in enumerate(batch):  # (T, S) without the prefix steps and the padding
                steps = slice(len(prefix), len(prefix) + len(targets[index]) + 1)
                results[index] = weights[row, steps, :len(sources[index]) + 1].float().cpu().numpy()
        return results

    def _search_batch(self, sources: list[list[int]], options: DecodeOptions,
                      prefix: Sequence[int]) -> list[list[Hypothesis]]:
        config = self.model.config
        device = next(self.model.parameters()).device
        source = pad_sequences(sources, suffix=config.eos_id, pad=config.pad_id).to(device)
        limits = torch.tensor([options.max_length(len(ids)) for ids in sources])
        if options.beam_size == 1 and options.nbest == 1:
            return [[h] for h in greedy_search(self.model, source, limits, prefix=prefix)]
        return beam_search(self.model, source, limits, options.beam_size, options.length_penalty, nbest=options.nbest,
                           prefix=prefix, length_norm=options.length_norm)


def worker_budget(sources: list[list[int]], budget: int, workers: int) -> int:
    """The token budget per batch, cut so that each of `workers` search threads gets a batch."""
    if workers <= 1:
        return budget
    return min(budget, max(16, math.ceil(sum(len(ids) + 1 for ids in sources) / workers)))


def length_batches(sources: list[list[int]], budget: int) -> list[np.ndarray]:
    """Indices of the sources in length-sorted batches whose padded size (with EOS) fits the budget."""
    lengths = np.fromiter((len(ids) for ids in sources), dtype=np.int64, count=len(sources))
    return token_budget_batches(lengths, np.zeros_like(lengths), budget, seed=0, epoch=0, shuffle=False)


def quantize_int8(model: Seq2SeqTransformer) -> Seq2SeqTransformer:
    """int8 dynamic quantisation of the linear layers for CPU inference: int8 weights with a per-tensor
    scale, activations quantised on the fly per batch. The tied output projection is not an nn.Linear,
    so it gets its own (quantised) copy of the embedding matrix."""
    config = model.config
    projection = nn.Linear(config.d_model, config.vocab_size, bias=model.output_bias is not None)
    projection.weight = nn.Parameter(model.embedding.weight.detach().clone())
    if model.output_bias is not None:
        projection.bias = nn.Parameter(model.output_bias.detach().clone())
    model.output_projection = projection
    with warnings.catch_warnings():
        # torch.ao's eager-mode API is deprecated in favour of the separate torchao package; it still
        # works, and keeps tcli free of another dependency.
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(model.eval(), {nn.Linear}, dtype=torch.qint8)
    return quantized


def load_native(model_dir: Path, quantize: str = "none", threads: int | None = None) -> LoadedModel:
    """A model directory ready to translate with PyTorch (optionally int8): `threads` (default every core)
    search batches side by side, one torch thread each."""
    torch.set_num_threads(1)
    loaded = load_model(model_dir)
    if quantize == "int8":
        loaded.model = quantize_int8(loaded.model)
    loaded.searcher = NativeSearcher(loaded.model, threads or available_cores())
    return loaded
