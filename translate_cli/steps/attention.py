"""tcli attention: translate one sentence and draw what a decoder layer attended to (core/pictures/plots.py)."""

from __future__ import annotations

from pathlib import Path

from translate_cli import console
from translate_cli.core.checkpoint import load_model
from translate_cli.core.pictures.plots import attention_map


def run(model_dir: Path, sentence: str, *, output: Path, lang: str | None = None, layer: int = -1,
        self_attention: bool = False, fonts: list[Path] = ()) -> Path:
    written, _ = attention_map(load_model(model_dir), sentence, output, lang, layer, self_attention, fonts)
    console.info(f"wrote {written}")
    return written
