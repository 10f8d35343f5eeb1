"""sacreBLEU BLEU, chrF and chrF++ with the BLEU tokenizer chosen by the target language.

Bootstrap confidence intervals come from sacreBLEU itself; its resampling seed is pinned (SEED) so the
same hypotheses always give the same interval.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.metrics.base import Metric, Score
from sacrebleu.significance import _bootstrap_resample, estimate_ci

# Japanese has no spaces between words: BLEU over MeCab tokens (as JoeyNMT and WAT do).
BLEU_TOKENIZERS = {"ja": "ja-mecab", "zh": "zh", "ko": "ko-mecab"}
METRICS = ("bleu", "chrf", "chrfpp")  # the order of every table and report
LABELS = {"bleu": "BLEU", "chrf": "chrF", "chrfpp": "chrF++"}
SEED = 12345  # sacreBLEU's own default, pinned so a user's SACREBLEU_SEED cannot change a report
BOOTSTRAP_SAMPLES = 1000  # resamples behind every 95% confidence interval


def bleu_tokenizer(lang: str) -> str:
    return BLEU_TOKENIZERS.get(lang, "13a")


def sacrebleu_metrics(lang: str) -> dict[str, Metric]:
    """Fresh sacreBLEU metric objects by our metric name; chrF++ is chrF with word bigrams (word_order=2)."""
    return {"bleu": BLEU(tokenize=bleu_tokenizer(lang)), "chrf": CHRF(), "chrfpp": CHRF(word_order=2)}


@contextmanager
def fixed_seed() -> Iterator[None]:
    """sacreBLEU reads its resampling seed from SACREBLEU_SEED; pin it to SEED for the duration."""
    saved = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(SEED)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SACREBLEU_SEED", None)
        else:
            os.environ["SACREBLEU_SEED"] = saved


def bleu_detail(result) -> str:
    """sacreBLEU's BLEU line without the metric name and the bootstrap part: score, precisions, BP, lengths."""
    precisions = "/".join(f"{p:.1f}" for p in result.precisions)
    return (f"{result.score:.2f} {precisions} (BP = {result.bp:.3f} ratio = {result.ratio:.3f} "
            f"hyp_len = {result.sys_len:d} ref_len = {result.ref_len:d})")


@dataclass
class Scores:
    lang: str
    bleu: float
    chrf: float
    chrfpp: float
    bleu_signature: str
    chrf_signature: str
    chrfpp_signature: str
    bleu_detail: str  # n-gram precisions, brevity penalty, lengths
    sentences: int
    # With bootstrap: per metric, half the width of sacreBLEU's 95% interval (2.5th to 97.5th percentile
    # of the resampled scores), shown as `score ± half-width`.
    confidence: dict[str, float] = field(default_factory=dict)

    def value(self, metric: str) -> float:
        return getattr(self, metric)

    def signature(self, metric: str) -> str:
        return getattr(self, f"{metric}_signature")

    def to_dict(self) -> dict:
        record = asdict(self)
        if not self.confidence:
            del record["confidence"]
        return record


def _with_confidence(metric: Metric, hypotheses: list[str], references: list[str]) -> tuple[Score, float]:
    """The corpus score and the half-width of its 95% bootstrap interval, both by sacreBLEU.

    Not `corpus_score(n_bootstrap=...)`: it averages the resampled scores with statistics.mean, which
    raises TypeError on chrF when some resamples score exactly 0 (a float among float32s, e.g. mostly
    empty outputs). The same resampling summarised by sacrebleu.significance's numpy estimate works."""
    stats = metric._extract_corpus_statistics(hypotheses, [references])
    result = metric._aggregate_and_compute(stats)
    metric.n_bootstrap = BOOTSTRAP_SAMPLES  # recorded in the signature, as corpus_score would
    metric.seed, resampled = _bootstrap_resample(stats, metric, BOOTSTRAP_SAMPLES)
    _, half_width = estimate_ci(np.array([float(s.score) for s in resampled]))
    return result, round(float(half_width), 2)


def score(hypotheses: list[str], references: list[str], lang: str, bootstrap: bool = False) -> Scores:
    """Corpus BLEU, chrF and chrF++ of aligned hypothesis/reference lines for target language `lang`;
    with `bootstrap`, also sacreBLEU's 95% confidence interval of each (BOOTSTRAP_SAMPLES resamples)."""
    assert len(hypotheses) == len(references), "hypotheses and references must align"
    values, signatures, confidence, detail = {}, {}, {}, ""
    with fixed_seed():
        for name, metric in sacrebleu_metrics(lang).items():
            if bootstrap:
                result, confidence[name] = _with_confidence(metric, hypotheses, references)
            else:
                result = metric.corpus_score(hypotheses, [references])
            values[name] = round(result.score, 2)
            signatures[f"{name}_signature"] = str(metric.get_signature())
            if name == "bleu":
                detail = bleu_detail(result)
    return Scores(lang=lang, **values, **signatures, bleu_detail=detail, sentences=len(hypotheses),
                  confidence=confidence)
