"""`lines: FIRST-LAST` on a corpus: one file split into training and held-out pairs, honoured by prepare
(train, dev and test) and by `evaluate --config`, with overlaps between training and scoring refused."""

import json
from pathlib import Path

import pytest
from conftest import REPO, one_line_error, run_cli

from translate_cli import config
from translate_cli.errors import ConfigError

SAMPLE = REPO / "data" / "sample"
CONFIG = """\
name: t
target_langs: [ja]
data_root: {root}
data_dir: {folder}
data: {data}
normalize: {{ja: {{unicode_form: NFC}}}}
clean: {{max_length_ratio: 6.0}}
vocab: {{size: 1600, character_coverage: 0.999}}
"""


def write(tmp_path: Path, data: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format(root=SAMPLE, folder=tmp_path / "data", data=data), encoding="utf-8")
    return path


@pytest.mark.parametrize("lines, fragment", [("0-5", "is not FIRST-LAST"), ("5", "is not FIRST-LAST"),
                                             ("a-b", "is not FIRST-LAST"), ("9-3", "ends before it starts")])
def test_malformed_ranges_name_their_key(tmp_path, lines, fragment):
    with pytest.raises(ConfigError) as error:
        config.load(write(tmp_path, f"{{dev: [{{prefix: dev}}], train: [{{prefix: train, lines: '{lines}'}}]}}"))
    assert "data.train.0" in str(error.value) and fragment in str(error.value)


@pytest.mark.parametrize("train, held_out, overlap", [
    ("", "", True),  # the same whole file for training and scoring
    (", lines: 101-", ", lines: 1-100", False),
    (", lines: 100-", ", lines: 1-100", True),  # line 100 in both
    (", lines: 1-100", ", lines: 50-", True),
    (", lines: 1-100", ", lines: 101-", False),
])
def test_training_and_scoring_on_the_same_pairs_is_refused(tmp_path, train, held_out, overlap):
    for split in ("dev", "test"):
        path = write(tmp_path, f"{{train: [{{prefix: train{train}}}], {split}: [{{prefix: train{held_out}}}]}}")
        if overlap:
            with pytest.raises(ConfigError, match=f"data.{split} corpus 'train' shares lines with a data.train"):
                config.load(path)
        else:
            config.load(path)


def test_prepare_splits_one_file_into_train_dev_and_test(tmp_path):
    path = write(tmp_path, "{train: [{prefix: train, lines: 41-}], dev: [{prefix: train, lines: 1-25}], "
                           "test: [{prefix: train, lines: 26-40}]}")
    result = run_cli("prepare", str(path))
    assert result.exit_code == 0, result.output
    assert "train lines 41-" in result.stdout and "train lines 1-25" in result.stdout  # the cleaning table
    folder = tmp_path / "data"
    english = (SAMPLE / "train.en").read_text(encoding="utf-8").splitlines()
    japanese = (SAMPLE / "train.ja").read_text(encoding="utf-8").splitlines()
    assert (folder / "dev.ja.src.txt").read_text(encoding="utf-8").splitlines() == english[:25]
    assert (folder / "dev.ja.ref.txt").read_text(encoding="utf-8").splitlines() == japanese[:25]
    assert (folder / "test.ja.src.txt").read_text(encoding="utf-8").splitlines() == english[25:40]
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["pairs"]["dev"] == 25 and meta["pairs"]["test"] == 15
    train_report = meta["corpora"][0]
    assert train_report["read"] == len(english) - 40
    assert train_report["kept"] + sum(train_report["removed"].values()) == len(english) - 40

    again = run_cli("prepare", str(path))  # the same ranges: up to date; another range: prepared anew
    assert "up to date" in again.output
    moved = write(tmp_path, "{train: [{prefix: train, lines: 31-}], dev: [{prefix: train, lines: 1-30}]}")
    assert "up to date" not in run_cli("prepare", str(moved)).output


def test_a_range_past_the_end_of_the_file_is_one_line(tmp_path):
    path = write(tmp_path, "{train: [{prefix: train, lines: 1-1000}], dev: [{prefix: dev, lines: 101-200}]}")
    one_line_error(run_cli("prepare", str(path)), "dev.en", "has 170 lines", "lines: 101-200")


def test_evaluate_config_scores_only_the_range(single_model_dir, tmp_path):
    path = write(tmp_path, "{train: [{prefix: train}], test: [{prefix: test, lines: 11-40}]}")
    report = tmp_path / "r.json"
    result = run_cli("evaluate", str(single_model_dir), "--config", str(path), "--json", str(report), "-b", "1")
    assert result.exit_code == 0, result.output
    sets = json.loads(report.read_text(encoding="utf-8"))["sets"]
    assert list(sets) == ["test.ja lines 11-40"] and sets["test.ja lines 11-40"]["sentences"] == 30
