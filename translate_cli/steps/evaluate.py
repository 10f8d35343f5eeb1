"""tcli evaluate: translate and score, or score an existing translation, against references."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from translate_cli import console
from translate_cli.core import metrics, textio
from translate_cli.core.checkpoint import load_model, read_info
from translate_cli.core.translator import Translator, resolve_lang
from translate_cli.errors import TcliError


def run(model_dir: Path | None, *, reference: Path, source: Path | None = None, hypothesis: Path | None = None,
        lang: str | None = None, decode: dict | None = None, json_path: Path | None = None,
        output: Path | None = None, min_bleu: float | None = None, min_chrf: float | None = None,
        threads: int | None = None) -> bool:
    """Print the scores (and write the reports asked for); False when a --min-* gate fails."""
    if threads:
        torch.set_num_threads(threads)
    for path in (json_path, output):
        if path is not None:
            textio.check_output_path(path)
    references = textio.read_lines(reference)
    if hypothesis is not None:
        if model_dir is not None:
            lang = resolve_lang(read_info(model_dir), lang, model_dir)
        elif lang is None:
            raise TcliError("--hyp without a model: name the target language with --to (for example --to ja)")
        hypotheses, hyp_name = textio.read_lines(hypothesis), str(hypothesis)
    else:
        if model_dir is None or source is None:
            raise TcliError("give a MODEL_DIR and --src to translate, or --hyp FILE to score an existing translation")
        translator = Translator(load_model(model_dir), lang)
        lang = translator.lang
        options = translator.info.decode.updated(**(decode or {}))
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
    failed = [f"{name} {value:.2f} < {floor}" for name, value, floor in
              (("BLEU", scores.bleu, min_bleu), ("chrF", scores.chrf, min_chrf)) if floor is not None and value < floor]
    if failed:
        console.error_line("below threshold: " + ", ".join(failed))
    return not failed


def _print(scores: metrics.Scores, hyp_name: str, reference: Path) -> None:
    rows = [["BLEU", f"{scores.bleu:.2f}", scores.bleu_signature], ["chrF", f"{scores.chrf:.2f}", scores.chrf_signature]]
    table = console.table(f"{hyp_name} vs {reference} ({scores.sentences:,} lines, target {scores.lang})",
                          ["metric", "score", "signature"], rows, numeric_from=1)
    console.out.print(table)
    console.out.print(f"BLEU detail: {scores.bleu_detail}")
