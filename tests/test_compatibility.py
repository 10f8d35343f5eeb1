"""Model and run directories written by earlier tcli versions still load, resume and translate exactly.

tests/fixtures/v1 was written by the code of commit 83436e7 (tests/fixtures/make_v1_fixture.py): a
prepared data folder, a run stopped at step 20, and what that code produced from them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, run_cli
from safetensors.torch import load_file

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "v1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))


def tensor_digests(path: Path) -> dict[str, str]:
    return {name: hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()
            for name, t in sorted(load_file(str(path)).items())}


@pytest.fixture
def old_project(tmp_path, monkeypatch) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "project")
    project = tmp_path / "project"
    (project / "sample").mkdir()
    for split in ("train", "dev"):
        for lang in ("en", "ja"):
            shutil.copyfile(REPO / "data" / "sample" / f"{split}.{lang}", project / "sample" / f"{split}.{lang}")
    monkeypatch.chdir(project)
    return project


def test_old_run_resumes_bit_identically(old_project):
    result = run_cli("train", "c.yaml", "train.max_steps=40", "--resume")
    assert result.exit_code == 0, result.output
    assert "resuming" in result.stderr and "from step 20" in result.stderr
    assert tensor_digests(old_project / "runs/old/last/model.safetensors") == EXPECTED["resumed_last_weights"]
    assert tensor_digests(old_project / "runs/old/best/model.safetensors") == EXPECTED["resumed_best_weights"]


def test_old_prepared_data_is_still_up_to_date(old_project):
    result = run_cli("prepare", "c.yaml")
    assert result.exit_code == 0, result.output
    assert "reusing" in result.stderr


@pytest.mark.parametrize("mode, args", [("greedy", ["-b", "1"]), ("beam3", []), ("nbest3", ["--nbest", "3"])])
def test_old_model_translates_identically(old_project, mode, args):
    text = "\n".join(EXPECTED["sentences"]) + "\n"
    result = run_cli("translate", "runs/old/last", "--threads", "1", *args, stdin=text)
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n")[:-1] == EXPECTED[mode]
