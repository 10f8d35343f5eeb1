"""tcli plot: training curves of one or more runs as a PNG (core/pictures/plots.py)."""

from __future__ import annotations

from pathlib import Path

from translate_cli import console
from translate_cli.core.pictures.plots import plot_runs
from translate_cli.errors import TcliError


def run(run_dirs: list[Path], *, output: Path, labels: list[str] | None = None) -> Path:
    if labels and len(labels) != len(run_dirs):
        raise TcliError(f"--label given {len(labels)} times for {len(run_dirs)} runs; give one per run or none")
    written = plot_runs(run_dirs, output, labels)
    console.info(f"wrote {written}")
    return written
