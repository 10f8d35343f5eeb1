"""What an export costs in quality: the same dev set translated by the model and by its export, scored
with the same metrics (core/scoring.py), recorded in the export's tcli-ctranslate2.json
(`tcli export --check-with`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from translate_cli.core.checkpoint import LoadedModel
from translate_cli.core.ct2.runtime import CT2_MARKER, load_ct2
from translate_cli.core.files import write_lines_atomically
from translate_cli.core.metrics import Scores
from translate_cli.core.scoring import translate_and_score
from translate_cli.core.translator import Translator


@dataclass
class ExportCheck:
    """The model's and the export's scores on one dev set, with the model's decoding defaults."""

    lines: int
    beam_size: int
    model: Scores
    export: Scores

    @property
    def bleu_change(self) -> float:
        return round(self.export.bleu - self.model.bleu, 2)

    @property
    def chrf_change(self) -> float:
        return round(self.export.chrf - self.model.chrf, 2)

    def to_dict(self) -> dict:
        """As recorded under "check" in tcli-ctranslate2.json."""
        return {"lines": self.lines, "lang": self.model.lang, "beam_size": self.beam_size,
                "model": {"bleu": self.model.bleu, "chrf": self.model.chrf},
                "export": {"bleu": self.export.bleu, "chrf": self.export.chrf},
                "bleu_change": self.bleu_change, "chrf_change": self.chrf_change,
                "bleu_signature": self.model.bleu_signature, "chrf_signature": self.model.chrf_signature}


def check_export(loaded: LoadedModel, export_dir: Path, sources: list[str], references: list[str],
                 lang: str | None = None, threads: int | None = None) -> ExportCheck:
    """BLEU and chrF of the model and of its export on one dev set, with the model's decoding defaults."""
    scores = []
    for model in (loaded, load_ct2(export_dir, threads)):
        translator = Translator(model, lang)
        scores.append(translate_and_score(translator, sources, references, translator.info.decode).scores)
    return ExportCheck(len(sources), loaded.info.decode.beam_size, *scores)


def record(export_dir: Path, check: ExportCheck) -> None:
    """Add the check to the export's tcli-ctranslate2.json (atomically)."""
    marker = Path(export_dir) / CT2_MARKER
    meta = json.loads(marker.read_text(encoding="utf-8"))
    meta["check"] = check.to_dict()
    write_lines_atomically(marker, [json.dumps(meta, indent=2, ensure_ascii=False)])
