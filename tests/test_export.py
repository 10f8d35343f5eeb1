"""The CTranslate2 export computes the same model, and the ctranslate2 backend keeps tcli's guarantees."""

import torch
from conftest import run_cli

from translate_cli.core.checkpoint import load_model
from translate_cli.core.ct2.export import export
from translate_cli.core.ct2.runtime import load_ct2
from translate_cli.core.tokenizer import BOS_ID, EOS_ID


def test_exported_model_scores_tokens_like_the_native_one(single_model_dir, tmp_path):
    loaded = load_model(single_model_dir)
    folder = export(loaded, tmp_path / "ct2")
    ct2 = load_ct2(folder).searcher
    sources = [loaded.tokenizer.encode("Where is the station?"), loaded.tokenizer.encode("I like tennis very much.")]
    targets = [loaded.tokenizer.encode("駅はどこですか。"), loaded.tokenizer.encode("テニスが大好きです。")]
    pieces = ct2.pieces
    results = ct2.translator.score_batch([[pieces[i] for i in s] + ["</s>"] for s in sources],
                                         [[pieces[i] for i in t] for t in targets])
    for source, target, result in zip(sources, targets, results):
        with torch.no_grad():
            logits = loaded.model.logits(loaded.model(torch.tensor([source + [EOS_ID]]),
                                                      torch.tensor([[BOS_ID] + target])))[0]
        native = torch.log_softmax(logits, -1)[torch.arange(len(target) + 1), torch.tensor(target + [EOS_ID])]
        assert torch.allclose(torch.tensor(result.log_probs), native, atol=2e-3), (result.log_probs, native)


def test_backend_keeps_one_line_per_line(single_model_dir, tmp_path):
    folder = tmp_path / "ct2"
    made = run_cli("export", str(single_model_dir), "-o", str(folder), "--quantization", "int8")
    assert made.exit_code == 0, made.output
    text = "Hello there.\n\n   \nThe data is ready 🎉\n"
    result = run_cli("translate", str(folder), "--backend", "ctranslate2", "-b", "2", stdin=text)
    assert result.exit_code == 0, result.output
    outputs = result.stdout.split("\n")[:-1]
    assert len(outputs) == 4 and outputs[1] == outputs[2] == ""


def test_export_and_backend_errors(single_model_dir, tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    refused = run_cli("export", str(single_model_dir), "-o", str(occupied))
    assert refused.exit_code == 2 and "not a folder tcli wrote" in refused.stderr
    assert (occupied / "notes.txt").read_text() == "mine"
    wrong = run_cli("translate", str(single_model_dir), "--backend", "ctranslate2", stdin="hi\n")
    assert wrong.exit_code == 2 and "tcli export" in wrong.stderr


TORCH_REPORTER = ("import sys\n"
                  "from translate_cli.cli import app\n"
                  "try:\n"
                  "    app(sys.argv[1:])\n"
                  "except SystemExit as stop:\n"
                  "    print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr)\n"
                  "    raise\n")


def translate_reporting_torch(*args: str) -> tuple[str, str]:
    """`tcli translate ARGS` on two lines in a fresh interpreter: (stdout, stderr ending in whether torch was
    imported)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", TORCH_REPORTER, "translate", *args],
                          input="Where is the station?\nHello.\n", text=True, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split("\n")) == 3, done.stdout
    return done.stdout, done.stderr.strip()


def test_translating_with_the_ctranslate2_backend_never_imports_torch(single_model_dir, tmp_path):
    folder = export(load_model(single_model_dir), tmp_path / "ct2", "int8")
    for backend, model, expected in (("ctranslate2", folder, "no torch"), ("auto", folder, "no torch"),
                                     ("native", single_model_dir, "torch imported")):
        _, stderr = translate_reporting_torch(str(model), "--backend", backend)
        assert stderr.endswith(expected), (backend, stderr)


def test_backend_auto_takes_the_export_in_the_model_directory_only_when_it_is_current(single_model_dir, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(single_model_dir, model)
    native, stderr = translate_reporting_torch(str(model), "-b", "1")  # no export yet: auto is native
    assert stderr.endswith("torch imported"), stderr
    made = run_cli("export", str(model))  # no -o: into MODEL_DIR/ctranslate2
    assert made.exit_code == 0, made.output
    assert (model / "ctranslate2" / "tcli-ctranslate2.json").is_file()
    auto, stderr = translate_reporting_torch(str(model), "-b", "1")
    assert stderr.endswith("no torch"), stderr
    explicit, _ = translate_reporting_torch(str(model / "ctranslate2"), "--backend", "ctranslate2", "-b", "1")
    assert auto == explicit
    _, stderr = translate_reporting_torch(str(model), "-b", "1", "--quantize", "int8")  # native int8 asked for
    assert stderr.endswith("torch imported"), stderr
    inside, stderr = translate_reporting_torch(str(model), "--backend", "ctranslate2", "-b", "1")
    assert inside == explicit and stderr.endswith("no torch")
    # An export made from other weights (its model.json differs) is never used in their place.
    copy = model / "ctranslate2" / "model.json"
    copy.write_text(copy.read_text(encoding="utf-8").replace('"sha256"', '"sha256" ', 1), encoding="utf-8")
    stale, stderr = translate_reporting_torch(str(model), "-b", "1")
    assert stale == native and stderr.endswith("torch imported")
    assert "exported from other weights" in stderr and "tcli export" in stderr, stderr
    refused = run_cli("translate", str(model), "--backend", "ctranslate2", stdin="hi\n")
    assert refused.exit_code == 2 and "exported from other weights" in refused.stderr


def test_export_check_records_the_score_change_of_quantization(single_model_dir, tmp_path):
    import json

    source, reference = tmp_path / "dev.en", tmp_path / "dev.ja"
    source.write_text("Where is the station?\nI like tennis very much.\n\nHello.\n", encoding="utf-8")
    reference.write_text("駅はどこですか。\nテニスが大好きです。\n\nこんにちは。\n", encoding="utf-8")
    folder = tmp_path / "int8"
    made = run_cli("export", str(single_model_dir), "-o", str(folder), "--quantization", "int8",
                   "--check-with", str(source), str(reference))
    assert made.exit_code == 0, made.output
    check = json.loads((folder / "tcli-ctranslate2.json").read_text(encoding="utf-8"))["check"]
    assert check["lines"] == 4 and check["lang"] == "ja"
    for metric in ("bleu", "chrf"):
        assert abs(check[f"{metric}_change"] - (check["export"][metric] - check["model"][metric])) < 0.011
    assert "change" in made.stdout


def test_export_check_refuses_a_misaligned_dev_set_before_exporting(single_model_dir, tmp_path):
    source, reference = tmp_path / "dev.en", tmp_path / "dev.ja"
    source.write_text("one\ntwo\n", encoding="utf-8")
    reference.write_text("一\n", encoding="utf-8")
    refused = run_cli("export", str(single_model_dir), "-o", str(tmp_path / "out"), "--check-with", str(source),
                      str(reference))
    assert refused.exit_code == 2 and "line-aligned" in refused.stderr and "Traceback" not in refused.output
    assert not (tmp_path / "out").exists()
    missing = run_cli("export", str(single_model_dir), "-o", str(tmp_path / "out"), "--check-with",
                      str(tmp_path / "nope.en"), str(reference))
    assert missing.exit_code == 2 and "nope.en" in missing.stderr and not (tmp_path / "out").exists()


def test_backend_auto_without_ctranslate2_installed_says_which_extra(single_model_dir, tmp_path, monkeypatch):
    import importlib.util
    import shutil

    from translate_cli.core.ct2 import backend as ct2_backend

    model = tmp_path / "model"
    shutil.copytree(single_model_dir, model)
    export(load_model(model), model / "ctranslate2")
    assert ct2_backend.choose_backend(model, "auto") == ct2_backend.BackendChoice("ctranslate2", model / "ctranslate2")
    assert ct2_backend.choose_backend(model, "native").backend == "native"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ctranslate2" else real(name, *a))
    choice = ct2_backend.choose_backend(model, "auto")
    assert choice.backend == "native" and choice.folder == model and ".[ct2]" in choice.note
