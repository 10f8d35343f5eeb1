"""End to end through the CLI on a slice of the real tanaka50k corpus: prepare, train, translate, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import E2E_SLICE as SLICE
from conftest import run_tcli as tcli


@pytest.fixture(scope="module")
def trained(e2e_project: Path) -> Path:
    return e2e_project


def test_run_directory_is_complete_and_self_contained(trained):
    run = trained / "runs" / "e2e"
    assert (run / "config.yaml").is_file()
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any(e["type"] == "train" for e in entries) and any(e["type"] == "dev" for e in entries)
    dev = [e for e in entries if e["type"] == "dev"]
    assert all("bleu" in e and "chrf" in e and "chrfpp" in e and "dev_loss" in e for e in dev)
    assert all(e["chrfpp_ja"] == e["chrfpp"] for e in dev)  # one target: its score is the mean
    for name in ("best", "last"):
        assert {p.name for p in (run / name).iterdir()} >= {"model.json", "model.safetensors", "spm.model"}
    assert not list((run / "best").glob("*.pt"))  # the shipped model has no pickle at all


def test_translate_is_a_line_preserving_filter(trained, shared_data):
    lines = ["I like tennis.", "", "   ", "Where is the station?", "He is my friend."]
    result = tcli("translate", "runs/e2e/best", cwd=trained, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    outputs = result.stdout.split("\n")[:-1]
    assert len(outputs) == len(lines)
    assert outputs[1] == "" and outputs[2] == ""
    assert all(outputs[i] for i in (0, 3, 4))


def test_a_paragraph_is_translated_sentence_by_sentence(trained):
    sentences = ["I like tennis.", "Where is the station?", "He is my friend."]
    stdin = " ".join(sentences) + "\n" + "\n".join(sentences) + "\n"
    result = tcli("translate", "runs/e2e/best", "-b", "1", cwd=trained, stdin=stdin)
    assert result.returncode == 0, result.stderr
    outputs = result.stdout.split("\n")[:-1]
    assert len(outputs) == 4 and all(outputs)
    assert "1 lines held several sentences (3 in all)" in result.stderr  # the splitter found all three
    # Each sentence was translated on its own and the three joined with no space (Japanese).
    assert outputs[0] == "".join(outputs[1:])
    whole = tcli("translate", "runs/e2e/best", "-b", "1", "--split", "none", cwd=trained, stdin=stdin)
    assert whole.returncode == 0 and len(whole.stdout.split("\n")[:-1]) == 4
    assert "several sentences" not in whole.stderr


def test_translate_and_evaluate_files_beat_an_untrained_model(trained):
    data = trained / "data" / "tanaka"
    result = tcli("translate", "runs/e2e/best", str(data / "test.en"), "-o", "hyp.ja", cwd=trained)
    assert result.returncode == 0, result.stderr
    hyp_lines = (trained / "hyp.ja").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(hyp_lines) == SLICE["test"]

    scored = tcli("evaluate", "--hyp", "hyp.ja", "--ref", str(data / "test.ja"), "--to", "ja", "--json", "r.json",
                  cwd=trained)
    assert scored.returncode == 0, scored.stderr
    report = json.loads((trained / "r.json").read_text())
    assert "ja-mecab" in report["bleu_signature"]

    # The floor: a model after one update (effectively untrained) scores below it; the trained one above.
    untrained = tcli("train", "c.yaml", "work_dir=runs/untrained", "train.max_steps=1", "train.eval_sentences=0",
                     cwd=trained)
    assert untrained.returncode == 0, untrained.stderr
    base = tcli("evaluate", "runs/untrained/last", "--src", str(data / "test.en"), "--ref", str(data / "test.ja"),
                "--json", "u.json", cwd=trained)
    assert base.returncode == 0, base.stderr
    floor_bleu, floor_chrf = 3.0, 12.0
    baseline = json.loads((trained / "u.json").read_text())
    assert baseline["bleu"] < floor_bleu and baseline["chrf"] < floor_chrf
    assert report["bleu"] > floor_bleu and report["chrf"] > floor_chrf, report

    gate = tcli("evaluate", "--hyp", "hyp.ja", "--ref", str(data / "test.ja"), "--to", "ja", "--min-bleu", "99",
                cwd=trained)
    assert gate.returncode == 1 and "below threshold" in gate.stderr
    passed = tcli("evaluate", "runs/e2e/best", "--src", str(data / "test.en"), "--ref", str(data / "test.ja"),
                  "--min-bleu", str(floor_bleu), "--min-chrf", str(floor_chrf), "-b", "1", cwd=trained)
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_ctranslate2_backend_matches_native_greedy(trained):
    data = trained / "data" / "tanaka"
    exported = tcli("export", "runs/e2e/best", "-o", "ct2", cwd=trained)
    assert exported.returncode == 0, exported.stderr
    outputs = {}
    for backend, model in (("native", "runs/e2e/best"), ("ctranslate2", "ct2")):
        done = tcli("translate", model, str(data / "test.en"), "-o", f"{backend}.ja", "-b", "1", "--backend", backend,
                    cwd=trained)
        assert done.returncode == 0, done.stderr
        outputs[backend] = (trained / f"{backend}.ja").read_text(encoding="utf-8").split("\n")[:-1]
    native, ct2 = outputs["native"], outputs["ctranslate2"]
    assert len(native) == len(ct2) == SLICE["test"]
    agreement = sum(a == b for a, b in zip(native, ct2)) / len(native)
    assert agreement >= 0.99, agreement
    scores = {}
    for backend in outputs:
        scored = tcli("evaluate", "--hyp", f"{backend}.ja", "--ref", str(data / "test.ja"), "--to", "ja", "--json",
                      f"{backend}.json", cwd=trained)
        assert scored.returncode == 0
        scores[backend] = json.loads((trained / f"{backend}.json").read_text())["bleu"]
    assert abs(scores["native"] - scores["ctranslate2"]) <= 0.3, scores


def test_int8_quantized_translation(trained):
    data = trained / "data" / "tanaka"
    done = tcli("translate", "runs/e2e/best", str(data / "test.en"), "-o", "int8.ja", "--quantize", "int8", "-b", "1",
                cwd=trained)
    assert done.returncode == 0, done.stderr
    lines = (trained / "int8.ja").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(lines) == SLICE["test"] and sum(bool(line) for line in lines) == SLICE["test"]
