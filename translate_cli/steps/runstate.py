"""A run directory's trainer state: the lock against two trainings at once, and `last` resume files."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import torch

from translate_cli.core.checkpoint import SPM, WEIGHTS, load_model_weights, read_info, sha256_file
from translate_cli.core.model import ModelConfig
from translate_cli.errors import CheckpointError, TcliError

TRAINER_STATE, OPTIMIZER = "trainer_state.json", "optimizer.pt"


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


def save_trainer_files(folder: Path, optimizer: torch.optim.Optimizer, state: dict) -> None:
    torch.save(optimizer.state_dict(), folder / OPTIMIZER)
    (folder / TRAINER_STATE).write_text(json.dumps(state), encoding="utf-8")


def check_compatible(folder: Path, expected: ModelConfig, data_spm: Path) -> None:
    """A model trained further must have the very same vocabulary as the data and the same shape."""
    info = read_info(folder)
    spm_path = folder / SPM
    if not spm_path.is_file() or sha256_file(spm_path) != sha256_file(data_spm):
        raise CheckpointError(f"{folder}: its vocabulary ({SPM}) differs from the prepared data's "
                              f"{data_spm}; prepare the new data with the model's SentencePiece model or train anew")
    if info.model != expected:
        raise CheckpointError(f"{folder}: saved with model settings {info.model.to_dict()}, but the config asks "
                              f"for {expected.to_dict()}; use the model's original model.* settings")


def load_weights(folder: Path, model: torch.nn.Module) -> None:
    try:
        model.load_state_dict(load_model_weights(folder))
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{folder / WEIGHTS}: not loadable ({str(exc).splitlines()[0][:200]})") from None


def load_last(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              expected: ModelConfig, data_spm: Path) -> dict:
    """Restore weights and optimizer from `last`; returns the trainer state. Nothing is unpickled."""
    if not (folder / TRAINER_STATE).is_file():
        raise CheckpointError(f"{folder}: no resumable checkpoint ({TRAINER_STATE} missing); "
                              f"train without --resume to start a new run")
    check_compatible(folder, expected, data_spm)
    try:
        model.load_state_dict(load_model_weights(folder))
        optimizer.load_state_dict(torch.load(folder / OPTIMIZER, weights_only=True, map_location="cpu"))
        return json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
    except Exception as exc:  # any corrupt file: one clear line, never a traceback
        raise CheckpointError(f"{folder}: cannot resume ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
