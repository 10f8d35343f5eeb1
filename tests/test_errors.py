"""Every user mistake ends in one line naming the file, line or key, and exit code 2 (no traceback)."""

from pathlib import Path

import pytest
from conftest import one_line_error, run_cli

CONFIG = """\
# errors test config: tcli prepare c.yaml
name: err
target_langs: [ja]
data_root: {root}
data:
  train: [{{prefix: train}}]
vocab: {{size: 400, character_coverage: 1.0}}
model: {{d_model: 16, heads: 2, encoder_layers: 1, decoder_layers: 1, ff_dim: 32}}
train: {{max_steps: 2, eval_every: 2, eval_sentences: 0, threads: 1}}
"""
GOOD_EN = "\n".join(f"sentence number {i} is here" for i in range(40)) + "\n"
GOOD_JA = "\n".join(f"これは{i}番目の文です" for i in range(40)) + "\n"


def project(tmp_path: Path, en: bytes | str = GOOD_EN, ja: bytes | str = GOOD_JA, extra: str = "") -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    for lang, content in (("en", en), ("ja", ja)):
        path = tmp_path / "data" / f"train.{lang}"
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(root=tmp_path / "data") + extra + f"work_dir: {tmp_path / 'run'}\n"
                      f"data_dir: {tmp_path / 'run/data'}\n", encoding="utf-8")
    return config


@pytest.mark.parametrize("extra, fragments", [
    ("trian: {max_steps: 3}\n", ["unknown key 'trian'", "did you mean 'train'"]),
    ("model: {dropuot: 0.1}\n", ["unknown key 'model.dropuot'", "'model.dropout'"]),
])
def test_unknown_keys(tmp_path, extra, fragments):
    config = project(tmp_path)
    text = config.read_text().replace("model: {d_model: 16, heads: 2, encoder_layers: 1, decoder_layers: 1, ff_dim: 32}\n",
                                      "") if extra.startswith("model") else config.read_text()
    config.write_text(text + extra)
    one_line_error(run_cli("prepare", str(config)), str(config), *fragments)


def test_wrong_type_and_out_of_range(tmp_path):
    config = project(tmp_path)
    one_line_error(run_cli("prepare", str(config), "train.max_steps=lots"), "'train.max_steps'", "integer")
    one_line_error(run_cli("prepare", str(config), "model.dropout=1.5"), "'model.dropout'", "less than 1")
    one_line_error(run_cli("prepare", str(config), "vocab.size=10"), "'vocab.size'", "greater than or equal to 300")


def test_missing_files_and_folders(tmp_path):
    one_line_error(run_cli("prepare", str(tmp_path / "absent.yaml")), "absent.yaml", "not found")
    config = project(tmp_path)
    one_line_error(run_cli("prepare", str(config), f"data_root={tmp_path / 'nowhere'}"), "train.en", "not found",
                   "data_root")
    one_line_error(run_cli("train", str(config)), "meta.json", "tcli prepare")


def test_sides_with_different_line_counts(tmp_path):
    config = project(tmp_path, ja=GOOD_JA + "余分な行\n")
    one_line_error(run_cli("prepare", str(config)), "train.en: has 40 lines but", "train.ja has 41")


def test_invalid_utf8_error_and_replace(tmp_path):
    broken = GOOD_EN.encode().replace(b"number 7 ", b"number \xff7 ")
    config = project(tmp_path, en=broken)
    one_line_error(run_cli("prepare", str(config)), "train.en:8: invalid UTF-8", "--on-bad-utf8 replace")
    replaced = run_cli("prepare", str(config), "--on-bad-utf8", "replace")
    assert replaced.exit_code == 0, replaced.output
    assert "1 lines had invalid UTF-8 bytes replaced" in replaced.stderr


def test_bom_and_crlf_are_handled(tmp_path):
    config = project(tmp_path, en=b"\xef\xbb\xbf" + GOOD_EN.replace("\n", "\r\n").encode(),
                     ja=GOOD_JA.replace("\n", "\r\n").encode())
    result = run_cli("prepare", str(config))
    assert result.exit_code == 0, result.output
    sources = (tmp_path / "run/data").glob("*.txt")
    assert not any("\r" in p.read_text() or "\ufeff" in p.read_text() for p in sources)


def test_nul_bytes_and_empty_files(tmp_path):
    config = project(tmp_path, ja=GOOD_JA.encode().replace("3番目".encode(), b"3\x00"))
    one_line_error(run_cli("prepare", str(config)), "train.ja:4: contains a NUL byte")
    config = project(tmp_path, ja=b"")
    one_line_error(run_cli("prepare", str(config)), "train.ja: the file is empty")


def test_training_further_reuses_the_models_vocabulary(tmp_path):
    (tmp_path / "a").mkdir()
    first = project(tmp_path / "a")
    assert run_cli("prepare", str(first)).exit_code == 0
    assert run_cli("train", str(first)).exit_code == 0
    trained = tmp_path / "a" / "run" / "last"
    second_root = tmp_path / "b"
    second_root.mkdir()
    other_en = "\n".join(f"another line {i} over there" for i in range(40)) + "\n"
    other_ja = "\n".join(f"別の{i}行があります" for i in range(40)) + "\n"
    second = project(second_root, en=other_en, ja=other_ja)
    # A new vocabulary and the model's own at once: refused.
    one_line_error(run_cli("prepare", str(second), f"train.init_from={trained}"), "vocab", "train.init_from")
    second.write_text("\n".join(line for line in second.read_text().splitlines() if not line.startswith("vocab:")))
    # Data prepared before init_from was set was made with another vocabulary.
    assert run_cli("prepare", str(second)).exit_code == 0
    one_line_error(run_cli("train", str(second), f"train.init_from={trained}"), "prepared from other inputs",
                   "tcli prepare")
    # Prepared with init_from, the data reuses the model's SentencePiece model and training starts from it.
    assert run_cli("prepare", str(second), f"train.init_from={trained}").exit_code == 0
    assert (second_root / "run/data/spm.model").read_bytes() == (trained / "spm.model").read_bytes()
    started = run_cli("train", str(second), f"train.init_from={trained}")
    assert started.exit_code == 0, started.output
    assert "starting from the weights" in started.stderr
    one_line_error(run_cli("train", str(second), f"train.init_from={trained}", "model.d_model=32", "--overwrite"),
                   "model.d_model", "remove model.d_model")
    resumed = run_cli("train", str(first), "--resume")  # the same data: accepted
    assert resumed.exit_code == 0, resumed.output


def test_outputs_never_replace_a_users_folder(tmp_path, single_model_dir):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    config = project(tmp_path)
    one_line_error(run_cli("prepare", str(config), f"data_dir={precious}"), "precious", "refusing to replace")
    one_line_error(run_cli("export", str(single_model_dir), "-o", str(precious)), "refusing to replace")
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_output_path_problems(tmp_path, single_model_dir):
    folder = tmp_path / "out"
    folder.mkdir()
    one_line_error(run_cli("translate", str(single_model_dir), "-o", str(folder), stdin="hello\n"), "is a folder")
    full = run_cli("translate", str(single_model_dir), "-b", "1", "-o", "/dev/full", stdin="hello\n")
    one_line_error(full, "/dev/full", "No space left")


def test_translate_into_a_closed_pipe_exits_quietly(single_model_dir):
    import subprocess
    import sys

    text = "".join(f"line {i} of many\n" for i in range(3000))
    process = subprocess.Popen([sys.executable, "-m", "translate_cli", "translate", str(single_model_dir), "-b", "1",
                                "--max-len-b", "2", "--max-len-a", "0"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdin.write(text.encode())
    process.stdin.close()
    process.stdout.readline()
    process.stdout.close()  # like `| head -1`
    assert process.wait(timeout=300) == 0
    assert b"Traceback" not in process.stderr.read()
