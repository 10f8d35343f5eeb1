"""What an export costs in quality: the same dev set translated by the model and by its export, scored
with the same metrics, recorded in the export's tcli-ctranslate2.json (`tcli export --check-with`)."""

from __future__ import annotations

import json
from pathlib import Path

from translate_cli.core import metrics, textio
from translate_cli.core.checkpoint import LoadedModel
from translate_cli.core.ct2_backend import CT2_MARKER, load_ct2
from translate_cli.core.translator import Translator
from translate_cli.errors import DataError


def read_dev_set(source: Path, reference: Path) -> tuple[list[str], list[str]]:
    sources, references = textio.read_lines(source), textio.read_lines(reference)
    if len(sources) != len(references):
        raise DataError(f"{source} has {len(sources):,} lines but {reference} has {len(references):,}; "
                        f"--check-with needs a line-aligned source and reference")
    return sources, references


def compare(loaded: LoadedModel, export_dir: Path, sources: list[str], references: list[str],
            lang: str | None = None, threads: int | None = None) -> dict:
    """BLEU and chrF of the model and of its export on one dev set, with the model's decoding defaults."""
    scored = {}
    for name, model in (("model", loaded), ("export", load_ct2(export_dir, threads))):
        translator = Translator(model, lang)
        hypotheses = [t.text for t in translator.translate(sources, translator.info.decode)]
        scored[name] = metrics.score(hypotheses, references, translator.lang)
    model_scores, export_scores = scored["model"], scored["export"]
    decode = loaded.info.decode
    return {"lines": len(sources), "lang": model_scores.lang, "beam_size": decode.beam_size,
            "model": {"bleu": model_scores.bleu, "chrf": model_scores.chrf},
            "export": {"bleu": export_scores.bleu, "chrf": export_scores.chrf},
            "bleu_change": round(export_scores.bleu - model_scores.bleu, 2),
            "chrf_change": round(export_scores.chrf - model_scores.chrf, 2),
            "bleu_signature": model_scores.bleu_signature, "chrf_signature": model_scores.chrf_signature}


def record(export_dir: Path, check: dict) -> None:
    """Add `check` to the export's tcli-ctranslate2.json (atomically)."""
    marker = Path(export_dir) / CT2_MARKER
    meta = json.loads(marker.read_text(encoding="utf-8"))
    meta["check"] = check
    textio.write_lines_atomically(marker, [json.dumps(meta, indent=2, ensure_ascii=False)])
