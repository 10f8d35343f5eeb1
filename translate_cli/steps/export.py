"""tcli export: write a model for another inference engine (CTranslate2, core/ct2/export.py), and with
--check-with, measure what the export (its quantization) costs in BLEU and chrF on a dev set."""

from __future__ import annotations

from pathlib import Path

from translate_cli import console
from translate_cli.core.checkpoint import load_model
from translate_cli.core.ct2.backend import EXPORT_SUBDIR
from translate_cli.core.ct2.check import ExportCheck, check_export, record
from translate_cli.core.ct2.export import export
from translate_cli.core.scoring import read_test_set


def run(model_dir: Path, *, output: Path | None = None, format: str = "ctranslate2", quantization: str = "none",
        check_with: tuple[Path, Path] | None = None, lang: str | None = None, threads: int | None = None) -> Path:
    """Without `output`, the export goes into MODEL_DIR/ctranslate2, where `--backend auto` (the default of
    translate and serve) finds it."""
    dev_set = read_test_set(*check_with) if check_with else None  # bad paths fail before the work
    loaded = load_model(model_dir)
    folder = export(loaded, output or Path(model_dir) / EXPORT_SUBDIR, None if quantization == "none" else quantization)
    console.info(f"exported {model_dir} to {folder} ({format}, {quantization}); `tcli translate "
                 f"{model_dir if output is None else folder}` now uses it")
    if dev_set is not None:
        with console.console.status(f"translating {len(dev_set[0]):,} lines with the model and with the export..."):
            check = check_export(loaded, folder, *dev_set, lang=lang, threads=threads)
        record(folder, check)
        _print(check, check_with, quantization)
    return folder


def _print(check: ExportCheck, check_with: tuple[Path, Path], quantization: str) -> None:
    rows = [[name, f"{scores.bleu:.2f}", f"{scores.chrf:.2f}"]
            for name, scores in (("model (PyTorch, fp32)", check.model), (f"export (CTranslate2, {quantization})",
                                                                         check.export))]
    rows.append(["change", f"{check.bleu_change:+.2f}", f"{check.chrf_change:+.2f}"])
    title = (f"{check_with[0]} vs {check_with[1]} ({check.lines:,} lines, target {check.model.lang}, "
             f"beam {check.beam_size})")
    console.out.print(console.table(title, ["translated by", "BLEU", "chrF"], rows, numeric_from=1))
    console.info("recorded under \"check\" in the export's tcli-ctranslate2.json")
