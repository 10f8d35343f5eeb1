"""Periodic validation during training: dev loss, and dev BLEU/chrF/chrF++ from greedy decoding."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from translate_cli.core.checkpoint import LoadedModel
from translate_cli.core.data import ParallelCorpus, TokenIds, collate, token_budget_batches
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.files import read_lines
from translate_cli.core.metrics import METRICS
from translate_cli.core.scoring import translate_and_score
from translate_cli.core.train.loss import loss_sum
from translate_cli.core.translator import Translator


@torch.inference_mode()
def dev_loss(model: torch.nn.Module, corpus: ParallelCorpus, batch_tokens: int, device: torch.device) -> float:
    """Mean cross-entropy per target token (no label smoothing) over the whole dev split."""
    if not len(corpus):
        return float("nan")
    total, tokens = 0.0, 0
    batches = token_budget_batches(corpus.source.lengths(), corpus.target.lengths(), batch_tokens, 0, 0, shuffle=False)
    for indices in batches:
        batch = collate(corpus, indices, TokenIds.of(model.config)).to(device)
        total += float(loss_sum(model, batch, label_smoothing=0.0))
        tokens += batch.target_tokens
    return total / tokens


def dev_scores(loaded: LoadedModel, data_dir: Path, max_sentences: int, batch_tokens: int) -> dict[str, float]:
    """Greedy translations of the first `max_sentences` dev lines of every target language, scored."""
    results: dict[str, float] = {}
    if max_sentences <= 0:
        return results
    per_metric: dict[str, list[float]] = {name: [] for name in METRICS}
    for lang in loaded.info.target_langs:
        source_path = data_dir / f"dev.{lang}.src.txt"
        if not source_path.is_file():
            continue
        sources = read_lines(source_path)[:max_sentences]
        references = read_lines(data_dir / f"dev.{lang}.ref.txt")[:max_sentences]
        options = DecodeOptions(beam_size=1, batch_tokens=batch_tokens)
        scores = translate_and_score(Translator(loaded, lang), sources, references, options).scores
        for name, values in per_metric.items():  # keys bleu_ja, chrf_ja, chrfpp_ja, ...
            results[f"{name}_{lang}"] = scores.value(name)
            values.append(scores.value(name))
    for name, values in per_metric.items():  # the mean over languages: bleu, chrf, chrfpp
        if values:
            results[name] = round(sum(values) / len(values), 2)
    return results


def validate(loaded: LoadedModel, dev: ParallelCorpus | None, data_dir: Path, max_sentences: int,
             batch_tokens: int) -> dict[str, float]:
    model = loaded.model
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        result: dict[str, float] = {}
        if dev is not None and len(dev):
            loss = dev_loss(model, dev, batch_tokens, device)
            result["dev_loss"] = round(loss, 4)
            result["dev_ppl"] = round(math.exp(min(loss, 50.0)), 2)
        result.update(dev_scores(loaded, data_dir, max_sentences, batch_tokens))
        return result
    finally:
        model.train(was_training)
