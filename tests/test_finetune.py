"""Fine-tuning an imported model with train.init_from: prepare reuses its tokenizer, training resumes exactly
after SIGKILL, the model learns, and what it writes still translates and exports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import REPO, run_cli
from test_resume import assert_identical, child, weights

from translate_cli.core.checkpoint import load_model

CONFIG = """\
# fine-tune test config: tcli prepare c.yaml; tcli train c.yaml
name: ft
target_langs: [hi]
data_root: {data_root}
data:
  train: [{{prefix: train}}]
  dev: [{{prefix: dev}}]
train: {{init_from: {model}, max_steps: {steps}, batch_tokens: {batch}, lr: 0.001, warmup_steps: 10, threads: 1,
        log_every: 5, eval_every: {every}, eval_sentences: 10, best_metric: loss}}
decode: {{beam_size: 2, max_len_b: 5, max_len_a: 0.5, length_norm: power, length_penalty: 1.0}}
"""


def project(folder: Path, model: Path, steps: int = 40, every: int = 10, batch: int = 400) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "c.yaml").write_text(CONFIG.format(data_root=REPO / "data" / "sample", model=model, steps=steps,
                                                 every=every, batch=batch), encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        prepared = run_cli("prepare", "c.yaml")
    finally:
        os.chdir(cwd)
    assert prepared.exit_code == 0, prepared.output
    assert "reusing the vocabulary" in prepared.stderr
    return folder


def test_prepare_reuses_the_models_tokenizer(hf_models, tmp_path):
    model = hf_models.imported("nllb")
    folder = project(tmp_path, model)
    data = folder / "runs/ft/data"
    meta = json.loads((data / "meta.json").read_text())
    assert meta["tokenizer"] == "spm+vocab" and meta["lang_tokens"]["hi"]["target_prefix"] == ["hin_Deva"]
    for name in ("source.spm", "target.spm", "vocabulary.json"):
        assert (data / name).read_bytes() == (model / name).read_bytes()
    english_hindi = hf_models.imported("marian")
    unknown = run_cli("prepare", str(folder / "c.yaml"), "target_langs=[ja]", f"train.init_from={english_hindi}",
                      f"data_dir={tmp_path / 'other'}")
    assert unknown.exit_code == 2 and "does not translate into 'ja'; it knows hi" in unknown.stderr


def test_sigkill_then_resume_equals_an_uninterrupted_finetune(hf_models, tmp_path, tcli):
    folder = project(tmp_path, hf_models.imported("marian"))
    straight = tcli("train", "c.yaml", "work_dir=runs/straight", cwd=folder)
    assert straight.returncode == 0, straight.stderr
    assert "starting from the weights" in straight.stderr
    killed = child(folder, "kill", 27, "work_dir=runs/killed")
    assert killed.returncode == -9
    resumed = tcli("train", "c.yaml", "work_dir=runs/killed", "--resume", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert_identical(weights(folder / "runs/straight/last"), weights(folder / "runs/killed/last"))
    assert_identical(weights(folder / "runs/straight/best"), weights(folder / "runs/killed/best"))


@pytest.mark.parametrize("kind", ["nllb", "marian"])
def test_finetuning_learns_and_the_result_translates_and_exports(hf_models, tmp_path, kind):
    folder = project(tmp_path, hf_models.imported(kind), steps=300, every=100, batch=1000)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        trained = run_cli("train", "c.yaml")
    finally:
        os.chdir(cwd)
    assert trained.exit_code == 0, trained.output
    log = [json.loads(line) for line in (folder / "runs/ft/log.jsonl").read_text().splitlines()]
    dev = [entry["dev_loss"] for entry in log if entry["type"] == "dev"]
    assert len(dev) == 3 and dev[-1] < dev[0], dev
    best = folder / "runs/ft/best"
    info = load_model(best).info
    assert info.tokenizer == "spm+vocab" and info.model.norm == ("post" if kind == "marian" else "pre")
    text = "Where is the station?\n\nGood morning.\n"
    result = run_cli("translate", str(best), stdin=text)
    assert result.exit_code == 0 and len(result.stdout.split("\n")[:-1]) == 3, result.output
    exported = run_cli("export", str(best), "-o", str(tmp_path / "ct2"))
    assert exported.exit_code == 0, exported.output
    result = run_cli("translate", str(tmp_path / "ct2"), "--backend", "ctranslate2", stdin=text)
    assert result.exit_code == 0 and len(result.stdout.split("\n")[:-1]) == 3, result.output
