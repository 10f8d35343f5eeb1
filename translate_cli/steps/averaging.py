"""Checkpoint averaging: keep the weights of the last N checkpoints and average them into a model.

Averaging the parameters of the last few checkpoints of a run smooths out the noise of the final
updates (Vaswani et al., 2017, averaged the last 5 or 20 checkpoints for their reported models).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from translate_cli.core.checkpoint import (MODEL_JSON, read_info, write_dir_atomically, write_file_atomically,
                                          write_model_files)
from translate_cli.core.model import Seq2SeqTransformer
from translate_cli.errors import CheckpointError

FOLDER = "checkpoints"
NAME = re.compile(r"^step(\d+)\.safetensors$")


def list_checkpoints(work: Path) -> list[tuple[int, Path]]:
    """(step, path) of the kept checkpoints, oldest first."""
    folder = Path(work) / FOLDER
    found = [(int(m.group(1)), path) for path in folder.glob("step*.safetensors") if (m := NAME.match(path.name))]
    return sorted(found)


def save_checkpoint(work: Path, step: int, model: torch.nn.Module, keep: int) -> Path:
    """Weights at `step` (written atomically); only the newest `keep` checkpoints stay."""
    folder = Path(work) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step{step:07d}.safetensors"
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_file_atomically(path, lambda staging: save_file(weights, str(staging)))
    for _, old in list_checkpoints(work)[:-keep]:
        old.unlink()
    return path


def average_weights(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of state dicts (accumulated in float64, returned in the original dtypes)."""
    total: dict[str, torch.Tensor] = {}
    dtypes: dict[str, torch.dtype] = {}
    for path in paths:
        for name, tensor in load_file(str(path)).items():
            dtypes.setdefault(name, tensor.dtype)
            total[name] = total.get(name, 0) + tensor.double()
    return {name: (value / len(paths)).to(dtypes[name]) for name, value in total.items()}


def average_run(work: Path, last: int, output: Path) -> Path:
    """Average the newest `last` kept checkpoints of a run into a self-contained model directory."""
    work = Path(work)
    kept = list_checkpoints(work)
    if not kept:
        raise CheckpointError(f"{work / FOLDER}: no kept checkpoints; train with train.keep_checkpoints=N "
                              f"(N >= {last}) to keep some")
    if len(kept) < last:
        raise CheckpointError(f"{work / FOLDER}: holds {len(kept)} checkpoints, fewer than the {last} asked for")
    chosen = kept[-last:]
    template = work / "last"
    info = read_info(template)
    model = Seq2SeqTransformer(info.model)
    try:
        model.load_state_dict(average_weights([path for _, path in chosen]))
    except (RuntimeError, OSError, ValueError) as exc:
        raise CheckpointError(f"{work / FOLDER}: checkpoints do not fit {template} or are damaged "
                              f"({str(exc).splitlines()[0][:200]})") from None
    info.training = {**info.training, "averaged_steps": [step for step, _ in chosen], "step": chosen[-1][0]}
    write_dir_atomically(output, lambda folder: write_model_files(folder, info, model, template / "spm.model"),
                         MODEL_JSON)
    return Path(output)
