"""The Kyoto recipes on a slice of the real corpus (never all of it): every cleaning rule they use shows
its count, dev/test stay whole, and the transformer-base recipe is valid and takes real steps on a CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO

SLICE = {"train": 3000, "dev": 40, "test": 40}


@pytest.fixture(scope="module")
def kyoto_slice(tmp_path_factory, request) -> Path:
    shared = request.getfixturevalue("shared_data")
    root = tmp_path_factory.mktemp("kyoto")
    folder = root / "en-ja" / "kyoto"
    folder.mkdir(parents=True)
    for split, count in SLICE.items():
        for lang in ("en", "ja"):
            with open(shared / "en-ja" / "kyoto" / f"{split}.{lang}", encoding="utf-8") as handle:
                lines = [next(handle) for _ in range(count)]
            (folder / f"{split}.{lang}").write_text("".join(lines), encoding="utf-8")
    return root


def test_kyoto_recipe_counts_every_rule_on_a_slice(kyoto_slice, tcli):
    settings = [f"data_root={kyoto_slice}", "vocab.size=4000", f"data_dir={kyoto_slice}/prepared"]
    done = tcli("prepare", str(REPO / "configs/en-ja-kyoto.yaml"), *settings, cwd=kyoto_slice)
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "read" in line)
    assert all(name in header for name in ("empty", "too long", "ratio", "script", "dup", "kept"))
    meta = json.loads((kyoto_slice / "prepared/meta.json").read_text(encoding="utf-8"))
    train = next(c for c in meta["corpora"] if c["label"].startswith("train"))
    assert train["read"] == SLICE["train"] == train["kept"] + sum(train["removed"].values())
    # Titles repeat ("Biography"), glosses make English far longer, and some lines are lists.
    assert train["removed"]["duplicate"] > 0 and train["removed"]["length_ratio"] > 0
    assert train["removed"]["too_long"] > 0
    assert meta["pairs"]["dev"] == SLICE["dev"] and meta["pairs"]["test"] == SLICE["test"]  # never cleaned


def test_transformer_base_recipe_is_valid_and_steps_on_cpu(kyoto_slice, tcli):
    config = str(REPO / "configs/en-ja-kyoto-base.yaml")
    settings = [f"data_root={kyoto_slice}", "vocab.size=4000", f"data_dir={kyoto_slice}/base-data",
                f"work_dir={kyoto_slice}/base-run", "train.precision=fp32", "train.max_steps=2",
                "train.batch_tokens=600", "train.eval_sentences=0", "train.keep_checkpoints=0",
                "train.average_last=0", "train.threads=2"]
    assert tcli("prepare", config, *settings, cwd=kyoto_slice).returncode == 0
    done = tcli("train", config, *settings, cwd=kyoto_slice)
    assert done.returncode == 0, done.stderr
    saved = json.loads((kyoto_slice / "base-run/last/model.json").read_text(encoding="utf-8"))
    assert saved["model"]["d_model"] == 512 and saved["model"]["encoder_layers"] == 6
    assert saved["training"]["step"] == 2
