"""Configs: every shipped one loads; mistakes are reported with their key path."""

from pathlib import Path

import pytest

from translate_cli import config
from translate_cli.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted((REPO / "configs").glob("*.yaml"))


def test_there_are_shipped_configs():
    assert {p.name for p in SHIPPED} >= {"en-ja.yaml", "en-hi.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_loads_and_opens_with_its_commands(path):
    loaded = config.load(path)
    assert loaded.name
    header = path.read_text(encoding="utf-8").splitlines()[:5]
    assert header[0].startswith("#")
    assert any("tcli " in line for line in header), "the header comment must give the commands that run it"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = "name: t\ntarget_langs: [ja]\ndata: {train: [{prefix: a/b}]}\n"


def test_unknown_key_is_reported_with_path_and_suggestion(tmp_path):
    with pytest.raises(ConfigError) as error:
        config.load(write(tmp_path, BASE + "train: {max_step: 5}\n"))
    assert "unknown key 'train.max_step'" in str(error.value)
    assert "did you mean 'train.max_steps'" in str(error.value)


def test_unknown_key_inside_a_language_section(tmp_path):
    with pytest.raises(ConfigError) as error:
        config.load(write(tmp_path, BASE + "normalize: {en: {lowercse: true}}\n"))
    assert "normalize.en.lowercse" in str(error.value) and "normalize.en.lowercase" in str(error.value)


def test_wrong_type_and_range_are_all_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as error:
        config.load(write(tmp_path, BASE + "train: {max_steps: many, lr: -1}\nmodel: {dropout: 2}\n"))
    message = str(error.value)
    assert "'train.max_steps'" in message and "'train.lr'" in message and "'model.dropout'" in message


def test_overrides_are_typed_and_nested(tmp_path):
    loaded = config.load(write(tmp_path, BASE), ["train.max_steps=12", "model.dropout=0.3", "data_root=/x"])
    assert loaded.train.max_steps == 12 and loaded.model.dropout == 0.3 and loaded.data_root == "/x"
    with pytest.raises(ConfigError, match="train.max_stepz"):
        config.load(write(tmp_path, BASE), ["train.max_stepz=12"])
    with pytest.raises(ConfigError, match="expected key=value"):
        config.load(write(tmp_path, BASE), ["train.max_steps"])


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="line 2"):
        config.load(write(tmp_path, "name: t\n  bad: [\n"))


def test_language_consistency(tmp_path):
    with pytest.raises(ConfigError, match="needs 'lang'"):
        config.load(write(tmp_path, "name: t\ntarget_langs: [ja, hi]\ndata: {train: [{prefix: a}]}\n"))
    with pytest.raises(ConfigError, match="not one of target_langs"):
        config.load(write(tmp_path, "name: t\ntarget_langs: [ja]\ndata: {train: [{prefix: a, lang: hi}]}\n"))
    with pytest.raises(ConfigError, match="divisible"):
        config.load(write(tmp_path, BASE + "model: {d_model: 30, heads: 4}\n"))


def test_decode_split_defaults_to_sentences_and_lists_its_choices(tmp_path):
    assert config.load(write(tmp_path, BASE)).decode.split == "sentences"
    assert config.load(write(tmp_path, BASE), ["decode.split=none"]).decode.split == "none"
    with pytest.raises(ConfigError) as error:
        config.load(write(tmp_path, BASE + "decode: {split: paragraphs}\n"))
    assert "decode.split" in str(error.value) and "'sentences' or 'none'" in str(error.value)
