"""Paired significance tests of a new translation against a baseline on the same references (sacreBLEU).

What the numbers mean (sacreBLEU's definitions; tcli only runs them with a pinned seed):
- p-value: two-sided, for the null hypothesis that the two systems score the same. `bs` is paired
  bootstrap resampling (1,000 resamples, as Moses' script does), `ar` approximate randomisation (10,000
  trials). A small p says the difference is unlikely to be noise; the sign of `delta` says which way.
- confidence: for each system, half the width of the 95% bootstrap interval of its score.
"""

from __future__ import annotations

from dataclasses import dataclass

from sacrebleu.significance import PairedTest

from translate_cli.core.metrics import BOOTSTRAP_SAMPLES, METRICS, fixed_seed, sacrebleu_metrics

METHODS = {"bs": "paired bootstrap resampling", "ar": "approximate randomization"}
SAMPLES = {"bs": 1000, "ar": 10000}  # sacreBLEU's defaults (PairedTest's n_samples=0 selects them)


def smallest_p_value(method: str) -> float:
    """sacreBLEU's p is (count + 1) / (samples + 1): no result can be more significant than this."""
    return 1 / (SAMPLES[method] + 1)


@dataclass
class Comparison:
    """One metric of a new system against its baseline on the same references."""

    metric: str
    baseline: float
    new: float
    delta: float  # new - baseline, in points
    p_value: float
    baseline_ci: float  # 95% interval half-widths, as in `29.2 ± 1.1`
    new_ci: float
    signature: str

    def significant(self, alpha: float) -> bool:
        return self.p_value < alpha

    def significantly_worse(self, margin: float, alpha: float) -> bool:
        """The regression gate: a loss of more than `margin` points that is not noise at level `alpha`."""
        return self.significant(alpha) and self.delta < -margin


def compare(baseline: list[str], new: list[str], references: list[str], lang: str,
            method: str = "bs") -> dict[str, Comparison]:
    """BLEU, chrF and chrF++ of `new` against `baseline`, each with a p-value and confidence intervals."""
    assert len(baseline) == len(new) == len(references), "both systems must align with the references"
    assert method in METHODS, method
    metrics = sacrebleu_metrics(lang)
    with fixed_seed():  # PairedTest reads SACREBLEU_SEED when it is built
        test = PairedTest([("baseline", baseline), ("new", new)], metrics, [references], test_type=method,
                          n_samples=SAMPLES[method], n_ar_confidence=BOOTSTRAP_SAMPLES if method == "ar" else -1)
        signatures, results = test()
    # Results are keyed by sacreBLEU's display names ("chrF2++"), in the order the metrics were given.
    keys = [key for key in results if key != "System"]
    comparisons = {}
    for name, key in zip(METRICS, keys):
        old, now = results[key]
        delta = now.score - old.score
        # sacreBLEU counts resampled differences strictly greater than the observed one, so an observed
        # difference of exactly zero (identical outputs) would get its smallest p-value. For a two-sided
        # test P(|difference| >= 0) is 1: equal scores are no evidence of any difference.
        p_value = 1.0 if delta == 0 else float(now.p_value)
        comparisons[name] = Comparison(metric=name, baseline=round(old.score, 2), new=round(now.score, 2),
                                       delta=round(delta, 2), p_value=round(p_value, 4),
                                       baseline_ci=round(float(old.ci), 2), new_ci=round(float(now.ci), 2),
                                       signature=str(signatures[key]))
    return comparisons
