"""tcli export: write a model for another inference engine (CTranslate2, core/export_ct2.py)."""

from __future__ import annotations

from pathlib import Path

from translate_cli import console
from translate_cli.core.checkpoint import load_model
from translate_cli.core.export_ct2 import export


def run(model_dir: Path, *, output: Path, format: str = "ctranslate2", quantization: str = "none") -> Path:
    folder = export(load_model(model_dir), output, None if quantization == "none" else quantization)
    console.info(f"exported {model_dir} to {folder} ({format}, {quantization}); translate with "
                 f"`tcli translate {folder} --backend ctranslate2`")
    return folder
