"""tcli distill: a teacher's translations of the training corpora, resumable after a kill (the same corpus as an
uninterrupted run), cached by the teacher's weights and the data, one line per line whatever the lines hold,
refused for a teacher of other languages, and a student trained on them, from an imported Hugging Face model
to an int8 CTranslate2 export."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, build_model_dir, one_line_error, run_cli

HOSTILE = ["Where is the station?", "", "   ", "I like green tea.", "word " * 400, "a\tb", "Ünïcödé ✓ 🎉",
           "The train leaves at 7:45. It is late! Is it?", "x"]


def project(folder: Path, teacher: Path, lines: int = 60, chunk: int = 7, extra: str = "", lang: str = "ja") -> Path:
    """A config over a small corpus with hostile lines (target `lang`), distilled by `teacher`."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    sample_en = (REPO / "data/sample/train.en").read_text(encoding="utf-8").splitlines()
    sample_ja = (REPO / f"data/sample/train.{lang}").read_text(encoding="utf-8").splitlines()
    english = (HOSTILE + sample_en)[:lines]
    japanese = (["駅はどこですか。", "", "", "緑茶が好きです。", "言葉", "a", "✓", "電車は遅い。", "x"] + sample_ja)[:lines]
    (data / "train.en").write_text("\n".join(english) + "\n", encoding="utf-8")
    (data / f"train.{lang}").write_text("\n".join(japanese) + "\n", encoding="utf-8")
    shutil.copy(REPO / "data/sample/dev.en", data / "dev.en")
    shutil.copy(REPO / f"data/sample/dev.{lang}", data / f"dev.{lang}")
    config = folder / "c.yaml"
    config.write_text(f"""name: student
target_langs: [{lang}]
data_root: {data}
work_dir: {folder / 'run'}
data_dir: {folder / 'prepared'}
data:
  train: [{{prefix: train}}]
  dev: [{{prefix: dev}}]
distill: {{teacher: {teacher}, folder: {folder / 'distilled'}, beam_size: 2, chunk_lines: {chunk}{extra}}}
vocab: {{size: 500, character_coverage: 0.98}}
model: {{d_model: 32, heads: 2, encoder_layers: 2, decoder_layers: 1, ff_dim: 64}}
train: {{max_steps: 3, batch_tokens: 400, warmup_steps: 1, threads: 1, eval_every: 3, eval_sentences: 2}}
""", encoding="utf-8")
    return config


def distilled(folder: Path) -> tuple[str, str]:
    found = sorted((folder / "distilled").glob("0-train.*"))
    texts = {path.suffix: path.read_text(encoding="utf-8") for path in found if path.suffix in (".en", ".ja")}
    return texts[".en"], texts[".ja"]


def test_one_line_per_line_whatever_the_lines_hold(single_model_dir, tmp_path):
    config = project(tmp_path, single_model_dir)
    result = run_cli("distill", str(config))
    assert result.exit_code == 0, result.output
    source, target = distilled(tmp_path)
    original = (tmp_path / "data/train.en").read_text(encoding="utf-8")
    assert source == original
    assert len(target.split("\n")) == len(source.split("\n")) == 61 and target.endswith("\n")
    assert target.split("\n")[1:3] == ["", ""]  # empty and blank lines stay empty
    prepared = run_cli("prepare", str(config))
    assert prepared.exit_code == 0, prepared.output
    assert "distilled" in prepared.stdout and "0-train" in prepared.stdout


def test_a_killed_run_resumes_to_the_same_corpus(single_model_dir, tmp_path):
    whole = project(tmp_path / "whole", single_model_dir, lines=90, chunk=6)
    assert run_cli("distill", str(whole)).exit_code == 0
    killed = project(tmp_path / "killed", single_model_dir, lines=90, chunk=6)
    partial = tmp_path / "killed/distilled/0-train.ja.partial"
    process = subprocess.Popen([sys.executable, "-m", "translate_cli", "distill", str(killed)], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not partial.is_file() or partial.read_bytes().count(b"\n") < 20):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    lines_then = partial.read_bytes().count(b"\n")
    assert 20 <= lines_then < 90, lines_then
    with open(partial, "ab") as handle:  # a chunk cut in the middle of a line
        handle.write("途中".encode())
    resumed = run_cli("distill", str(killed))
    assert resumed.exit_code == 0, resumed.output
    assert f"{90 - lines_then + lines_then % 6:,} lines translated now" in resumed.stderr
    assert distilled(tmp_path / "killed") == distilled(tmp_path / "whole")
    assert not partial.exists()


def test_new_teacher_weights_or_new_data_invalidate_the_cache(tmp_path):
    teacher = build_model_dir(tmp_path / "t1", ["ja"], seed=0)
    config = project(tmp_path / "p", teacher)
    assert run_cli("distill", str(config)).exit_code == 0
    again = run_cli("distill", str(config))
    assert again.exit_code == 0 and "already distilled" in again.stderr
    other = build_model_dir(tmp_path / "t2", ["ja"], seed=1)
    shutil.copy(other / "model.safetensors", teacher / "model.safetensors")
    shutil.copy(other / "model.json", teacher / "model.json")
    retrained = run_cli("distill", str(config))
    assert retrained.exit_code == 0 and "60 lines translated now" in retrained.stderr
    with open(tmp_path / "p/data/train.en", "a", encoding="utf-8") as handle:
        handle.write("One more line.\n")
    with open(tmp_path / "p/data/train.ja", "a", encoding="utf-8") as handle:
        handle.write("もう一行。\n")
    more_data = run_cli("distill", str(config))
    assert more_data.exit_code == 0 and "61 lines translated now" in more_data.stderr


def test_a_teacher_of_other_languages_or_no_teacher_is_a_one_line_error(multi_model_dir, tmp_path):
    hindi_only = build_model_dir(tmp_path / "hi", ["hi"])
    one_line_error(run_cli("distill", str(project(tmp_path / "a", hindi_only))),
                   "does not translate into ja", "it knows hi")
    config = project(tmp_path / "b", multi_model_dir)
    one_line_error(run_cli("distill", str(config), "distill.teacher=null"), "needs a teacher")


def test_nbest_keeps_the_hypothesis_closest_to_the_original(single_model_dir, tmp_path):
    config = project(tmp_path, single_model_dir, lines=20, extra=", nbest: 2")
    result = run_cli("distill", str(config))
    assert result.exit_code == 0, result.output
    assert "n-best 2" in result.stderr and len(distilled(tmp_path)[1].split("\n")) == 21


def test_distil_an_imported_hugging_face_teacher_into_a_student_and_export_it(hf_models, tmp_path, monkeypatch):
    teacher = hf_models.imported("marian")
    config = project(tmp_path, teacher, lines=120, extra=", mixed: true", lang="hi")
    monkeypatch.chdir(tmp_path)
    for command in (["distill", str(config)], ["prepare", str(config)], ["train", str(config)],
                    ["export", str(tmp_path / "run/best"), "--quantization", "int8"]):
        result = run_cli(*command)
        assert result.exit_code == 0, (command, result.output)
    translated = run_cli("translate", str(tmp_path / "run/best"), stdin="Where is the station?\n")
    assert translated.exit_code == 0 and translated.stdout.count("\n") == 1
    assert (tmp_path / "run/best/ctranslate2/model.bin").is_file()
