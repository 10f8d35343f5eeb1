"""Exact resume after SIGKILL or Ctrl-C, atomic checkpoints, and one trainer per run directory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from safetensors.torch import load_file

from translate_cli.core.checkpoint import load_model

# Runs `tcli train` in a child process whose Trainer misbehaves at a chosen step: a real signal from
# inside the training loop, at an exact step, so the test does not depend on timing.
CHILD = """
import os, signal, sys, time, pathlib
from translate_cli.core.train import trainer as train
from translate_cli.core import checkpoint
action, at_step = sys.argv[1], int(sys.argv[2])
original_update, original_write = train.Trainer.train_update, checkpoint.write_model_files

def update(self):
    if self.state.step == at_step:
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "interrupt":
            os.kill(os.getpid(), signal.SIGINT)
        if action == "hold":
            pathlib.Path("holding").write_text("yes")
            time.sleep(60)
    return original_update(self)

def write(folder, *args):
    original_write(folder, *args)
    if action == "kill-in-save" and train_state[0] == at_step and folder.name == ".last.tmp":
        os.kill(os.getpid(), signal.SIGKILL)

train_state = [0]
def track(self):
    result = update(self)
    train_state[0] = self.state.step
    return result

train.Trainer.train_update = track
checkpoint.write_model_files = write
from translate_cli.cli import app
app(["train", "c.yaml", *sys.argv[3:]])
"""


def child(project: Path, action: str, step: int, *args: str, wait: bool = True):
    command = [sys.executable, "-c", CHILD, action, str(step), *args]
    if not wait:
        return subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)


def weights(folder: Path) -> dict:
    return load_file(str(folder / "model.safetensors"))


def assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equal(b[name]), name


def test_sigkill_then_resume_equals_an_uninterrupted_run(tiny_project, tcli):
    straight = tcli("train", "c.yaml", "work_dir=runs/straight", cwd=tiny_project)
    assert straight.returncode == 0, straight.stderr
    killed = child(tiny_project, "kill", 27, "work_dir=runs/killed")
    assert killed.returncode == -9  # SIGKILL: no chance to save anything at step 27
    state = json.loads((tiny_project / "runs/killed/last/trainer_state.json").read_text())
    assert state["state"]["step"] == 20  # the last periodic save before the kill
    resumed = tcli("train", "c.yaml", "work_dir=runs/killed", "--resume", cwd=tiny_project)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    assert_identical(weights(tiny_project / "runs/straight/last"), weights(tiny_project / "runs/killed/last"))
    assert_identical(weights(tiny_project / "runs/straight/best"), weights(tiny_project / "runs/killed/best"))
    # The log was appended to, not overwritten: it holds the first session's entries too.
    log = [json.loads(line) for line in (tiny_project / "runs/killed/log.jsonl").read_text().splitlines()]
    steps = [e["step"] for e in log if e["type"] == "train"]
    assert steps[0] == 5 and steps[-1] == 40 and steps.count(25) == 2
    straight_dev = [e for e in map(json.loads, (tiny_project / "runs/straight/log.jsonl").read_text().splitlines())
                    if e["type"] == "dev"]
    resumed_dev = [e for e in log if e["type"] == "dev"]
    assert [(e["step"], e["dev_loss"], e["best"]) for e in straight_dev] == \
        [(e["step"], e["dev_loss"], e["best"]) for e in resumed_dev]


def test_ctrl_c_saves_last_and_exits_130_then_resumes_exactly(tiny_project, tcli):
    straight = tcli("train", "c.yaml", "work_dir=runs/straight", cwd=tiny_project)
    assert straight.returncode == 0
    interrupted = child(tiny_project, "interrupt", 27, "work_dir=runs/int")
    assert interrupted.returncode == 130, interrupted.stderr
    # The update in flight when Ctrl-C arrived completes, then `last` is saved at that step.
    assert "interrupted at step 28" in interrupted.stderr and "Traceback" not in interrupted.stderr
    assert json.loads((tiny_project / "runs/int/last/trainer_state.json").read_text())["state"]["step"] == 28
    assert tcli("train", "c.yaml", "work_dir=runs/int", "--resume", cwd=tiny_project).returncode == 0
    assert_identical(weights(tiny_project / "runs/straight/last"), weights(tiny_project / "runs/int/last"))


def test_kill_during_a_save_leaves_the_previous_checkpoint_loadable(tiny_project, tcli):
    # Killed right after the new `last` files are written at step 30, before the directory swap.
    result = child(tiny_project, "kill-in-save", 30, "work_dir=runs/k")
    assert result.returncode == -9
    loaded = load_model(tiny_project / "runs/k/last")
    assert loaded.info.training["step"] == 20
    resumed = tcli("train", "c.yaml", "work_dir=runs/k", "--resume", cwd=tiny_project)
    assert resumed.returncode == 0 and "from step 20" in resumed.stderr


def test_interrupted_swap_is_recovered(tiny_project, tcli):
    assert tcli("train", "c.yaml", "train.max_steps=10", cwd=tiny_project).returncode == 0
    last = tiny_project / "runs/tiny/last"
    last.rename(last.with_name(".last.old"))  # as if killed between the two renames of a swap
    assert load_model(last).info.training["step"] == 10


def test_second_trainer_on_a_busy_run_is_refused(tiny_project, tcli):
    first = child(tiny_project, "hold", 5, "work_dir=runs/busy", wait=False)
    try:
        deadline = time.time() + 120
        while not (tiny_project / "holding").exists():
            assert first.poll() is None and time.time() < deadline, first.stderr and first.stderr.read()
            time.sleep(0.1)
        second = tcli("train", "c.yaml", "work_dir=runs/busy", "--resume", cwd=tiny_project)
        assert second.returncode == 2
        assert "in use by a running training" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.kill()
        first.wait()


def test_existing_run_is_not_overwritten_by_accident(tiny_project, tcli):
    assert tcli("train", "c.yaml", "train.max_steps=10", cwd=tiny_project).returncode == 0
    again = tcli("train", "c.yaml", "train.max_steps=10", cwd=tiny_project)
    assert again.returncode == 2 and "--resume" in again.stderr and "--overwrite" in again.stderr
    assert tcli("train", "c.yaml", "train.max_steps=10", "--overwrite", cwd=tiny_project).returncode == 0
