"""tcli average: average a run's last N kept checkpoints into a model directory (core/train/run_dir.py)."""

from __future__ import annotations

from pathlib import Path

from translate_cli import console
from translate_cli.core.train.run_dir import average_run


def run(run_dir: Path, *, last: int, output: Path) -> Path:
    folder, steps = average_run(run_dir, last, output)
    console.info(f"averaged the last {last} checkpoints of {run_dir} (steps {', '.join(map(str, steps))}) into {folder}")
    return folder
