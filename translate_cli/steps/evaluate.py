"""tcli evaluate: translate and score, or score an existing translation, against references."""

from __future__ import annotations

import json
from pathlib import Path

from translate_cli import console
from translate_cli.core import metrics, textio
from translate_cli.core.checkpoint import load_model
from translate_cli.core.translator import DecodeOptions, Translator, resolve_lang
from translate_cli.errors import TcliError


def run(model_dir: Path | None, source: Path | None, reference: Path, hypothesis: Path | None, lang: str | None,
        options: DecodeOptions, json_path: Path | None = None, output: Path | None = None) -> metrics.Scores:
    for path in (json_path, output):
        if path is not None:
            textio.check_output_path(path)
    references = textio.read_lines(reference)
    if hypothesis is not None:
        if lang is None and model_dir is not None:
            lang = resolve_lang(load_model(model_dir), None)
        if lang is None:
            raise TcliError("--hyp without a model: name the target language with --to (for example --to ja)")
        hypotheses = textio.read_lines(hypothesis)
        hyp_name = str(hypothesis)
    else:
        if model_dir is None or source is None:
            raise TcliError("give a MODEL_DIR and --src to translate, or --hyp FILE to score an existing translation")
        translator = Translator(load_model(model_dir), lang)
        lang = translator.lang
        sources = textio.read_lines(source)
        if len(sources) != len(references):
            raise TcliError(f"{source} has {len(sources)} lines but {reference} has {len(references)}; "
                            f"source and reference must be line-aligned")
        with console.console.status(f"translating {len(sources):,} lines of {source}..."):
            hypotheses = [t.text for t in translator.translate(sources, options)]
        hyp_name = f"{model_dir} on {source}"
        if output is not None:
            textio.write_lines_atomically(output, hypotheses)
    if len(hypotheses) != len(references):
        raise TcliError(f"{hypothesis} has {len(hypotheses)} lines but {reference} has {len(references)}; "
                        f"a translation needs exactly one line per reference line")
    scores = metrics.score(hypotheses, references, lang)
    _print(scores, hyp_name, reference)
    if json_path is not None:
        report = {"hypothesis": hyp_name, "reference": str(reference), **scores.to_dict()}
        textio.write_lines_atomically(json_path, [json.dumps(report, indent=2, ensure_ascii=False)])
    return scores


def _print(scores: metrics.Scores, hyp_name: str, reference: Path) -> None:
    rows = [["BLEU", f"{scores.bleu:.2f}", scores.bleu_signature], ["chrF", f"{scores.chrf:.2f}", scores.chrf_signature]]
    table = console.table(f"{hyp_name} vs {reference} ({scores.sentences:,} lines, target {scores.lang})",
                          ["metric", "score", "signature"], rows, numeric_from=1)
    console.out.print(table)
    console.out.print(f"BLEU detail: {scores.bleu_detail}")
