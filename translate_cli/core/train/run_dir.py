"""A training run's folder: its lock, log, `best`/`last` model directories, resume state, kept
checkpoints and their averages.

    runs/NAME/
      .lock  config.yaml  log.jsonl  best/  last/ (+ optimizer.pt, trainer_state.json)
      checkpoints/stepNNNNNNN.safetensors  averaged/  tensorboard/
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from translate_cli.core.architecture import ModelConfig
from translate_cli.core.checkpoint import (
    LoadedModel,
    ModelInfo,
    load_model_tokenizer,
    load_weights_into,
    read_info,
    readable_dir,
    save_model,
    sha256_file,
)
from translate_cli.core.files import write_file_atomically
from translate_cli.core.model import Seq2SeqTransformer
from translate_cli.core.tokenizer import Tokenizer, tokenizer_files
from translate_cli.errors import CheckpointError, DataError, TcliError, reason

TRAINER_STATE, OPTIMIZER, LOG = "trainer_state.json", "optimizer.pt", "log.jsonl"
CHECKPOINTS = "checkpoints"
CHECKPOINT_NAME = re.compile(r"^step(\d+)\.safetensors$")
RUN_OUTPUTS = ("best", "last", ".best.tmp", ".last.tmp", ".best.old", ".last.old", CHECKPOINTS, "averaged",
               "tensorboard", LOG)


class RunLock:
    """An exclusive lock on `work_dir/.lock`, held while training; a second trainer is refused."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        self.handle = None

    def __enter__(self) -> "RunLock":
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise TcliError(f"{self.path.parent}: in use by a running training ({holder}); wait for it to "
                            f"finish or choose another work_dir=...") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()}")
        self.handle.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def holds_run(work: Path) -> bool:
    return (work / "last").exists() or (work / ".last.old").exists()


def remove_run_outputs(work: Path) -> None:
    """What a fresh run would write; the prepared data (and anything else) in work_dir stays."""
    for name in RUN_OUTPUTS:
        path = work / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def save_last(work: Path, loaded: LoadedModel, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """`last`: a model directory plus the optimizer and the trainer's state, for an exact resume."""
    def extra(folder: Path) -> None:
        torch.save(optimizer.state_dict(), folder / OPTIMIZER)
        (folder / TRAINER_STATE).write_text(json.dumps(state), encoding="utf-8")

    save_model(work / "last", loaded.info, loaded.model, loaded.tokenizer, extra)


def same_tokenizer(folder: Path, info: ModelInfo, data_tokenizer: Tokenizer) -> bool:
    """Whether a model directory's tokenizer files are the very ones of the prepared data."""
    names = tokenizer_files(info.tokenizer)
    return info.tokenizer == data_tokenizer.kind and all(
        (folder / name).is_file() and sha256_file(folder / name) == sha256_file(path)
        for name, path in zip(names, data_tokenizer.files))


def check_compatible(folder: Path, expected: ModelConfig, data_tokenizer: Tokenizer) -> ModelInfo:
    """A model trained further must have the very same vocabulary as the data and the same shape."""
    folder = readable_dir(folder)
    info = read_info(folder)
    if not same_tokenizer(folder, info, data_tokenizer):
        names = ", ".join(tokenizer_files(info.tokenizer))
        raise CheckpointError(f"{folder}: its vocabulary ({names}) differs from the prepared data's "
                              f"{data_tokenizer.files[0].parent}; prepare the data with train.init_from set to this "
                              f"model (prepare then reuses its vocabulary) or train anew")
    if not info.model.same_weights_shape(expected):
        raise CheckpointError(f"{folder}: saved with model settings {info.model.to_dict()}, but the config asks "
                              f"for {expected.to_dict()}; use the model's original model.* settings")
    return info


def restore_last(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 expected: ModelConfig, data_tokenizer: Tokenizer) -> dict:
    """Restore weights and optimizer from `last`; returns the trainer state. Nothing is unpickled."""
    if not (folder / TRAINER_STATE).is_file():
        raise CheckpointError(f"{folder}: no resumable checkpoint ({TRAINER_STATE} missing); "
                              f"train without --resume to start a new run")
    info = check_compatible(folder, expected, data_tokenizer)
    try:
        load_weights_into(model, folder, info)
        optimizer.load_state_dict(torch.load(folder / OPTIMIZER, weights_only=True, map_location="cpu"))
        return json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
    except Exception as exc:  # any corrupt file: one clear line, never a traceback
        raise CheckpointError(f"{folder}: cannot resume ({type(exc).__name__}: {reason(exc)})") from None


def list_checkpoints(work: Path) -> list[tuple[int, Path]]:
    """(step, path) of the kept checkpoints, oldest first."""
    folder = Path(work) / CHECKPOINTS
    found = [(int(m.group(1)), path) for path in folder.glob("step*.safetensors")
             if (m := CHECKPOINT_NAME.match(path.name))]
    return sorted(found)


def keep_checkpoint(work: Path, step: int, model: torch.nn.Module, keep: int) -> Path:
    """Weights at `step` (written atomically); only the newest `keep` checkpoints stay."""
    folder = Path(work) / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step{step:07d}.safetensors"
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_file_atomically(path, lambda staging: save_file(weights, str(staging)))
    for _, old in list_checkpoints(work)[:-keep]:
        old.unlink()
    return path


def average_weights(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of state dicts (accumulated in float64, returned in the original dtypes).

    Averaging the last few checkpoints of a run smooths out the noise of its final updates (Vaswani et
    al., 2017, averaged the last 5 or 20 checkpoints for their reported models)."""
    total: dict[str, torch.Tensor] = {}
    dtypes: dict[str, torch.dtype] = {}
    for path in paths:
        for name, tensor in load_file(str(path)).items():
            dtypes.setdefault(name, tensor.dtype)
            total[name] = total.get(name, 0) + tensor.double()
    return {name: (value / len(paths)).to(dtypes[name]) for name, value in total.items()}


def average_run(work: Path, last: int, output: Path) -> tuple[Path, list[int]]:
    """Average the newest `last` kept checkpoints of a run into a model directory; returns it and the steps."""
    work = Path(work)
    kept = list_checkpoints(work)
    if not kept:
        raise CheckpointError(f"{work / CHECKPOINTS}: no kept checkpoints; train with train.keep_checkpoints=N "
                              f"(N >= {last}) to keep some")
    if len(kept) < last:
        raise CheckpointError(f"{work / CHECKPOINTS}: holds {len(kept)} checkpoints, fewer than the {last} asked for")
    chosen = kept[-last:]
    template = work / "last"
    info = read_info(template)
    model = Seq2SeqTransformer(info.model)
    try:
        model.load_state_dict(average_weights([path for _, path in chosen]))
    except (RuntimeError, OSError, ValueError) as exc:
        raise CheckpointError(f"{work / CHECKPOINTS}: checkpoints do not fit {template} or are damaged "
                              f"({reason(exc)})") from None
    steps = [step for step, _ in chosen]
    info.training = {**info.training, "averaged_steps": steps, "step": steps[-1]}
    save_model(output, info, model, load_model_tokenizer(readable_dir(template), info))
    return Path(output), steps


class MetricsLog:
    """log.jsonl (appended to, never overwritten) and optionally TensorBoard; rank 0 only."""

    def __init__(self, work: Path, enabled: bool, tensorboard: bool):
        self.work, self.enabled, self.tensorboard = work, enabled, tensorboard
        self.file = self.writer = None

    def __enter__(self) -> "MetricsLog":
        if self.enabled:
            self.file = open(self.work / LOG, "a", encoding="utf-8")
            if self.tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:
                    raise TcliError("train.tensorboard: true needs tensorboard: pip install -e \".[tensorboard]\"") from None
                self.writer = SummaryWriter(str(self.work / "tensorboard"))
        return self

    def __call__(self, entry: dict) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps({"time": round(time.time(), 3), **entry}) + "\n")
        self.file.flush()
        if self.writer is not None and entry.get("type") in ("train", "dev"):
            for key, value in entry.items():
                if key not in ("type", "step", "time") and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{entry['type']}/{key}", value, entry["step"])
            self.writer.flush()

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()
        if self.writer is not None:
            self.writer.close()


def read_log(work: Path) -> tuple[list[dict], list[dict]]:
    """(train entries, dev entries) of a run; a step logged twice (before a crash and after resume) keeps
    its latest entry."""
    path = Path(work) / LOG
    if not path.is_file():
        raise DataError(f"{path}: not found; give a run directory written by `tcli train` (e.g. runs/en-ja)")
    entries: dict[tuple[str, int], dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise DataError(f"{path}:{number}: not a JSON line; the log is damaged") from None
        if entry.get("type") in ("train", "dev"):
            entries[(entry["type"], entry["step"])] = entry
    ordered = sorted(entries.values(), key=lambda e: e["step"])
    return [e for e in ordered if e["type"] == "train"], [e for e in ordered if e["type"] == "dev"]
