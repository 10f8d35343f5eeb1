"""An evaluation of one or more test sets: scores, the comparison with a baseline, gates, the JSON report.

A report stores what a later comparison needs (core/evaluate/baseline.py reads it back): the hypotheses
themselves and their sha256, the sha256 of the reference they were scored against, and sacreBLEU's
signatures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from translate_cli.core import metrics
from translate_cli.core.evaluate import significance
from translate_cli.core.evaluate.baseline import FORMAT, VERSION, Baseline, check_baseline, lines_sha256, pick_baseline
from translate_cli.core.evaluate.settings import GateSettings
from translate_cli.core.evaluate.significance import METHODS, Comparison
from translate_cli.core.files import in_range, iter_file, read_lines
from translate_cli.core.metrics import LABELS, METRICS, SEED, Scores
from translate_cli.core.scoring import Scored
from translate_cli.errors import DataError


@dataclass
class EvalSet:
    name: str
    reference: Path
    source: Path | None = None
    hypothesis: Path | None = None  # an existing translation to score instead of translating
    lang: str | None = None
    lines: str | None = None  # only these lines of source and reference ("FIRST-LAST", a config's `lines`)


@dataclass
class PreparedSet:
    """A test set with its lines read and its baseline checked: everything before the slow part."""

    test_set: EvalSet
    references: list[str]
    hypotheses: list[str] | None
    baseline: Baseline | None


@dataclass
class Gate:
    name: str  # e.g. "min-bleu", "worse-chrfpp"
    metric: str
    title: str  # what passing means, e.g. "BLEU >= 15"
    passed: bool
    detail: str  # the numbers behind the verdict


@dataclass
class SetResult:
    name: str
    hypothesis: str  # where the hypotheses came from, for people
    reference: str
    source: str | None
    hypotheses: list[str]
    reference_sha256: str
    scores: Scores
    baseline: str | None = None
    method: str | None = None
    comparison: dict[str, Comparison] = field(default_factory=dict)
    gates: list[Gate] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    def confidence(self, metric: str) -> float | None:
        """The 95% half-width of the new score: from the comparison, else from --confidence, else None."""
        if metric in self.comparison:
            return self.comparison[metric].new_ci
        return self.scores.confidence.get(metric)

    def to_dict(self) -> dict:
        record = {"name": self.name, "hypothesis": self.hypothesis, "source": self.source,
                  "reference": self.reference, "reference_sha256": self.reference_sha256, **self.scores.to_dict()}
        if self.comparison:
            record["comparison"] = {"baseline": self.baseline, "method": self.method, "seed": SEED,
                                    "metrics": {name: asdict(c) for name, c in self.comparison.items()}}
        record.update(gates=[asdict(gate) for gate in self.gates], passed=self.passed,
                      hypotheses_sha256=lines_sha256(self.hypotheses), hypotheses=self.hypotheses)
        return record


def check_gates(result: SetResult, settings: GateSettings) -> list[Gate]:
    """Floors on BLEU/chrF, and the regression gate on each metric when a baseline was compared."""
    gates = []
    for metric, floor in (("bleu", settings.min_bleu), ("chrf", settings.min_chrf)):
        if floor is not None:
            value, label = result.scores.value(metric), LABELS[metric]
            passed = value >= floor
            detail = f"{label} {value:.2f} {'>=' if passed else 'below threshold'} {floor:g}"
            gates.append(Gate(f"min-{metric}", metric, f"{label} >= {floor:g}", passed, detail))
    if settings.fail_if_worse is not None and result.comparison:
        margin, alpha = settings.fail_if_worse, settings.alpha
        for metric in METRICS:
            c = result.comparison[metric]
            failed = c.significantly_worse(margin, alpha)
            detail = (f"{LABELS[metric]} {c.new:.2f} vs baseline {c.baseline:.2f}: {c.delta:+.2f} points, "
                      f"p = {c.p_value:.4f} ({result.method}); {_verdict(c, margin, alpha)}")
            title = f"{LABELS[metric]} not worse than the baseline by more than {margin:g} (p < {alpha:g})"
            gates.append(Gate(f"worse-{metric}", metric, title, not failed, detail))
    return gates


def _verdict(c: Comparison, margin: float, alpha: float) -> str:
    if c.significantly_worse(margin, alpha):
        return f"significantly worse by more than {margin:g}"
    if c.delta >= 0:
        return "significantly better" if c.significant(alpha) and c.delta > 0 else "not worse"
    if not c.significant(alpha):
        return "a loss within noise"
    return f"significantly worse, by no more than the margin {margin:g}"


def report_dict(results: list[SetResult], single: bool, context: dict) -> dict:
    """The JSON report: one set's fields at the top level (as before), or a section per set."""
    head = {"format": FORMAT, "version": VERSION}
    if single:
        return {**head, **context, **results[0].to_dict()}
    return {**head, **context, "passed": all(r.passed for r in results),
            "sets": {result.name: result.to_dict() for result in results}}


def prepare_set(test_set: EvalSet, baselines: dict[str, Baseline] | None, baseline_hyp: Path | None,
                sets: int) -> PreparedSet:
    """Read a set's lines and check its baseline: every input error surfaces before the slow part."""
    references = list(in_range(read_lines(test_set.reference), test_set.lines, test_set.reference))
    hypotheses = None
    if test_set.hypothesis is not None:
        hypotheses = read_lines(test_set.hypothesis)
        if len(hypotheses) != len(references):
            raise DataError(f"{test_set.hypothesis} has {len(hypotheses)} lines but {test_set.reference} has "
                            f"{len(references)}; a translation needs exactly one line per reference line")
    elif test_set.source is not None:
        sources = sum(1 for _ in in_range(iter_file(test_set.source), test_set.lines, test_set.source))
        if sources != len(references):
            raise DataError(f"{test_set.source} has {sources} lines but {test_set.reference} has "
                            f"{len(references)}; source and reference must be line-aligned")
    base = None
    if baselines is not None:
        base = pick_baseline(baselines, test_set.name, sets)
    elif baseline_hyp is not None:
        base = Baseline(name=str(baseline_hyp), origin=str(baseline_hyp),
                        hypotheses=read_lines(baseline_hyp))
    if base is not None:
        check_baseline(base, test_set.lang, references, test_set.reference)
    return PreparedSet(test_set, references, hypotheses, base)


def score_set(job: PreparedSet, translated: Scored | None, model_dir: Path | None, confidence: bool,
              gates: GateSettings, method: str) -> SetResult:
    """Score a set (an existing translation, or the model's, already scored by core/scoring.py), compare it
    with its baseline, and judge its gates."""
    test_set, references = job.test_set, job.references
    if job.hypotheses is not None:
        hypotheses, origin = job.hypotheses, str(test_set.hypothesis)
        scores = metrics.score(hypotheses, references, test_set.lang, bootstrap=confidence)
    else:
        hypotheses, scores, origin = translated.hypotheses, translated.scores, f"{model_dir} on {test_set.source}"
    result = SetResult(name=test_set.name, hypothesis=origin, reference=str(test_set.reference),
                       source=str(test_set.source) if test_set.source is not None else None,
                       hypotheses=hypotheses, reference_sha256=lines_sha256(references), scores=scores)
    if job.baseline is not None:
        result.baseline, result.method = job.baseline.origin, method
        result.comparison = significance.compare(job.baseline.hypotheses, hypotheses, references, test_set.lang,
                                                 method)
    result.gates = check_gates(result, gates)
    return result


def method_note(method: str) -> str:
    return f"two-sided {METHODS[method]} p-value (sacreBLEU, seed {SEED})"
