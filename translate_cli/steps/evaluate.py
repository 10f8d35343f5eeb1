"""tcli evaluate: score a model's translations (or an existing translation) of one test set, or of every
test set of a config; compare them with a baseline report; print one table and write the reports asked for."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from translate_cli import console
from translate_cli.config import Config
from translate_cli.core import metrics
from translate_cli.core.checkpoint import LoadedModel, ModelInfo, load_model, read_info
from translate_cli.core.decoding import DecodeOverrides
from translate_cli.core.documents.glossary import Glossary, term_accuracy, translate_lines
from translate_cli.core.evaluate import baseline as baselines_module
from translate_cli.core.evaluate import ci_reports, evaluation, significance
from translate_cli.core.evaluate.evaluation import EvalSet, PreparedSet, SetResult
from translate_cli.core.evaluate.settings import GateSettings
from translate_cli.core.files import check_output_path, in_range, read_lines, write_lines_atomically
from translate_cli.core.scoring import Scored, translate_and_score
from translate_cli.core.translator import Translator, resolve_lang
from translate_cli.errors import TcliError


def run(model_dir: Path | None, *, reference: Path | None = None, source: Path | None = None,
        hypothesis: Path | None = None, lang: str | None = None, config: Config | None = None,
        decode: DecodeOverrides = DecodeOverrides(), output: Path | None = None, threads: int | None = None,
        confidence: bool = False, gates: GateSettings = GateSettings(), baseline: Path | None = None,
        baseline_hyp: Path | None = None, json_path: Path | None = None,
        junit: Path | None = None, markdown: Path | None = None, glossary_path: Path | None = None) -> bool:
    """Print the scores and write the reports asked for; False when a gate fails."""
    method = gates.method
    glossary = Glossary.read(glossary_path) if glossary_path is not None else None
    if threads:
        torch.set_num_threads(threads)
    _check_options(model_dir, config, reference, source, hypothesis, lang, output, gates, baseline, baseline_hyp,
                   method)
    for path in (json_path, junit, markdown, output):
        if path is not None:
            check_output_path(path)
    info = read_info(model_dir) if model_dir is not None else None
    if config is not None and info.source_lang != config.source_lang:
        raise TcliError(f"{model_dir}: the model translates from '{info.source_lang}' but the config's "
                        f"source_lang is '{config.source_lang}'")
    sets = _config_sets(config) if config is not None else [EvalSet(str(reference), reference, source, hypothesis,
                                                                    lang)]
    for test_set in sets:
        test_set.lang = _target_lang(info, test_set.lang, model_dir)
    # Every input is read and every baseline checked before the slow part (translating) starts.
    baselines = baselines_module.read_baseline(baseline) if baseline is not None else None
    jobs = [evaluation.prepare_set(test_set, baselines, baseline_hyp, len(sets)) for test_set in sets]
    translated = _translate(model_dir, jobs, decode, output, confidence, glossary) if any(j.hypotheses is None for j in jobs) else {}
    results = [evaluation.score_set(job, translated.get(job.test_set.name), model_dir, confidence, gates, method)
               for job in jobs]
    notes = _notes(results, method)
    _print(results, notes)
    _write_reports(results, notes, json_path, junit, markdown, single=config is None,
                   context={"model": str(model_dir) if model_dir is not None else None})
    for result in results:
        for gate in result.gates:
            if not gate.passed:
                console.error_line(f"gate failed: {result.name}: {gate.detail}")
    return all(result.passed for result in results)


def _check_options(model_dir: Path | None, config: Config | None, reference: Path | None, source: Path | None,
                   hypothesis: Path | None, lang: str | None, output: Path | None, gates: GateSettings,
                   baseline: Path | None, baseline_hyp: Path | None, method: str) -> None:
    """Contradictory or incomplete options: one line each, before any work."""
    if config is not None:
        given = [flag for flag, value in (("--ref", reference), ("--src", source), ("--hyp", hypothesis),
                                          ("--to", lang), ("--output", output)) if value is not None]
        if given:
            raise TcliError(f"--config scores every data.test set of the config; drop {', '.join(given)}")
        if model_dir is None:
            raise TcliError("--config needs a MODEL_DIR to translate the config's test sets")
        if not config.data.test:
            raise TcliError("the config's data.test lists no test sets; add some (for example "
                            "test: [{prefix: en-ja/tanaka50k/test}]) or use --src/--ref")
    elif reference is None:
        raise TcliError("give --ref FILE (with --src to translate, or --hyp to score a translation), "
                        "or --config CONFIG")
    elif hypothesis is None and (model_dir is None or source is None):
        raise TcliError("give a MODEL_DIR and --src to translate, or --hyp FILE to score an existing translation")
    if baseline is not None and baseline_hyp is not None:
        raise TcliError("--baseline and --baseline-hyp both name a baseline; choose one")
    if gates.fail_if_worse is not None and baseline is None and baseline_hyp is None:
        raise TcliError("--fail-if-worse compares with a baseline; add --baseline REPORT.json or --baseline-hyp FILE")
    if baseline_hyp is not None and config is not None and len(config.data.test) > 1:
        raise TcliError(f"--baseline-hyp holds one translation but the config has {len(config.data.test)} test "
                        f"sets; use --baseline REPORT.json (tcli evaluate ... --json writes one)")
    smallest = significance.smallest_p_value(method)
    if gates.fail_if_worse is not None and gates.alpha <= smallest:
        raise TcliError(f"--alpha {gates.alpha:g}: {method} cannot give a p-value below {smallest:.6f}, so no "
                        f"regression could ever fail; raise --alpha")


def _config_sets(config: Config) -> list[EvalSet]:
    root = Path(config.data_root)
    return [EvalSet(name=f"{corpus.prefix}.{corpus.lang}" + (f" lines {corpus.lines}" if corpus.lines else ""),
                    reference=root / f"{corpus.prefix}.{corpus.lang}",
                    source=root / f"{corpus.prefix}.{config.source_lang}", lang=corpus.lang, lines=corpus.lines)
            for corpus in config.data.test]


def _target_lang(info: ModelInfo | None, lang: str | None, model_dir: Path | None) -> str:
    if info is not None:
        return resolve_lang(info, lang, model_dir)  # the model must know the language
    if lang is None:
        raise TcliError("--hyp without a model: name the target language with --to (for example --to ja)")
    return lang


def _translate(model_dir: Path, jobs: list[PreparedSet], decode: DecodeOverrides, output: Path | None,
               confidence: bool, glossary: Glossary | None) -> dict[str, Scored]:
    """Translations of every set without --hyp, scored, by set name (the model is loaded once)."""
    loaded: LoadedModel = load_model(model_dir)
    translated = {}
    for job in jobs:
        if job.hypotheses is not None:
            continue
        test_set = job.test_set
        translator = Translator(loaded, test_set.lang)
        options = translator.info.decode.updated(decode)
        sources = list(in_range(read_lines(test_set.source), test_set.lines, test_set.source))
        status = f"translating {len(sources):,} lines of {test_set.source} into {test_set.lang}..."
        translate = None
        if glossary is not None:
            translate = lambda lines: translate_lines(translator, lines, options, glossary)[0]  # noqa: E731
        with console.console.status(status):
            translated[test_set.name] = translate_and_score(translator, sources, job.references, options, confidence,
                                                            translate)
        if glossary is not None:
            hits, total = term_accuracy(glossary, sources, translated[test_set.name].hypotheses)
            console.info(f"{test_set.name}: glossary term accuracy {hits:,}/{total:,}"
                         + (f" ({100 * hits / total:.1f}%)" if total else ""))
        if output is not None:
            write_lines_atomically(output, translated[test_set.name].hypotheses)
    return translated


def _notes(results: list[SetResult], method: str) -> list[str]:
    """What each row is, and what its numbers mean: the lines printed under the table."""
    notes = [f"{r.name}: {r.hypothesis} vs {r.reference} ({r.scores.sentences:,} lines, target {r.scores.lang})"
             + (f", baseline {r.baseline}" if r.baseline else "") + f"; BLEU {r.scores.bleu_detail}" for r in results]
    signatures = {}
    for result in results:
        for metric in metrics.METRICS:
            signature = (result.comparison[metric].signature if metric in result.comparison
                         else result.scores.signature(metric))
            signatures.setdefault(f"{metrics.LABELS[metric]} {signature}", None)
    notes += [f"signature: {line}" for line in signatures]
    if any(r.comparison for r in results):
        notes.append(f"Δ = new − baseline; p: {evaluation.method_note(method)}")
    if any(r.comparison or r.scores.confidence for r in results):
        notes.append(f"±: half-width of the 95% bootstrap confidence interval ({metrics.BOOTSTRAP_SAMPLES:,} "
                     f"resamples, seed {metrics.SEED})")
    return notes


def _print(results: list[SetResult], notes: list[str]) -> None:
    """One table: a heading row per test set (when there are several), a row per metric."""
    comparing = any(result.comparison for result in results)
    several = len(results) > 1
    header = ["test set / metric" if several else "metric", "score",
              *(["baseline", "Δ", "p"] if comparing else []), "gate"]
    rows = []
    for result in results:
        if several:
            rows.append([result.name] + [""] * (len(header) - 1))
        for metric in metrics.METRICS:
            gates = [gate for gate in result.gates if gate.metric == metric]
            verdict = "" if not gates else "pass" if all(gate.passed for gate in gates) else "FAIL"
            label = ("  " if several else "") + metrics.LABELS[metric]
            rows.append([label, *ci_reports.metric_cells(result, metric, comparing), verdict])
    title = f"tcli evaluate: {len(results)} test sets" if several else f"tcli evaluate: {results[0].name}"
    console.out.print(console.table(title, header, rows, numeric_from=1))
    for note in notes:
        console.result_line(note)


def _write_reports(results: list[SetResult], notes: list[str], json_path: Path | None, junit: Path | None,
                   markdown: Path | None, single: bool, context: dict) -> None:
    if json_path is not None:
        report = evaluation.report_dict(results, single, context)
        write_lines_atomically(json_path, [json.dumps(report, indent=2, ensure_ascii=False)])
    if junit is not None:
        if not any(result.gates for result in results):
            console.warn("--junit without a gate (--min-bleu, --min-chrf, --fail-if-worse): it has no test cases")
        write_lines_atomically(junit, [ci_reports.junit_xml(results)])
    if markdown is not None:
        write_lines_atomically(markdown, [ci_reports.markdown(results, notes)])
