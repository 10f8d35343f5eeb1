"""Model and checkpoint files are never unpickled: a booby-trapped pickle is refused and never runs."""

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from translate_cli.core.checkpoint import load_model, sha256_file
from translate_cli.errors import CheckpointError


class Trap:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def booby_trap(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(Trap(marker)))


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def refresh_checksum(folder: Path, name: str) -> None:
    """Make model.json vouch for a replaced file, so the loader's own format check must refuse it."""
    meta = json.loads((folder / "model.json").read_text())
    meta["sha256"][name] = sha256_file(folder / name)
    (folder / "model.json").write_text(json.dumps(meta))


def test_pickle_as_weights_is_refused_without_running(single_model_dir, tmp_path):
    marker = tmp_path / "pwned"
    folder = copy_model(single_model_dir, tmp_path / "model")
    booby_trap(folder / "model.safetensors", marker)
    with pytest.raises(CheckpointError, match="checksum"):
        load_model(folder)
    refresh_checksum(folder, "model.safetensors")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_model(folder)
    result = run_cli("translate", str(folder), stdin="hello\n")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not marker.exists()


def test_pickle_as_metadata_is_refused(single_model_dir, tmp_path):
    marker = tmp_path / "pwned"
    folder = copy_model(single_model_dir, tmp_path / "model")
    booby_trap(folder / "model.json", marker)
    with pytest.raises(CheckpointError, match="model.json"):
        load_model(folder)
    assert not marker.exists()


def test_pickle_as_optimizer_state_is_refused_on_resume(tiny_project, tcli):
    assert tcli("train", "c.yaml", "train.max_steps=10", cwd=tiny_project).returncode == 0
    marker = tiny_project / "pwned"
    booby_trap(tiny_project / "runs/tiny/last/optimizer.pt", marker)
    resumed = tcli("train", "c.yaml", "train.max_steps=20", "--resume", cwd=tiny_project)
    assert resumed.returncode == 2, resumed.stderr
    assert "cannot resume" in resumed.stderr and "Traceback" not in resumed.stderr
    assert not marker.exists()


def test_missing_or_corrupt_model_files_are_one_line_errors(single_model_dir, tmp_path):
    for name, damage in (("model.safetensors", "delete"), ("spm.model", "delete"), ("model.json", "delete"),
                         ("model.safetensors", "truncate"), ("spm.model", "truncate"), ("model.json", "truncate")):
        folder = copy_model(single_model_dir, tmp_path / f"{name}-{damage}")
        if damage == "delete":
            (folder / name).unlink()
        else:
            data = (folder / name).read_bytes()
            (folder / name).write_bytes(data[: len(data) // 2])
        result = run_cli("translate", str(folder), stdin="hello\n")
        assert result.exit_code == 2, (name, damage, result.output)
        assert name in result.stderr and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("translate", str(tmp_path / "nowhere"), stdin="hello\n")
    assert missing.exit_code == 2 and "model directory not found" in missing.stderr
