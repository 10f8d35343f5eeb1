"""The bundled sample corpus: aligned, clean, in the right scripts, and test kept out of train."""

import re
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
SPLITS = {"train": 1000, "dev": 150, "test": 150}  # minimum lines
DEVANAGARI = re.compile(r"[\u0900-\u097f]")
KANA_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]")


def lines(split: str, lang: str) -> list[str]:
    raw = (SAMPLE / f"{split}.{lang}").read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    return raw.decode("utf-8").split("\n")[:-1]


@pytest.mark.parametrize("split", SPLITS)
def test_split_is_aligned_nonempty_and_unique(split):
    counts = {lang: len(lines(split, lang)) for lang in ("en", "hi", "ja")}
    assert len(set(counts.values())) == 1, counts
    assert counts["en"] >= SPLITS[split]
    for lang in ("en", "hi", "ja"):
        text = lines(split, lang)
        assert all(line.strip() == line and line for line in text), f"{split}.{lang}: empty or padded line"
        assert len(set(text)) == len(text), f"{split}.{lang}: duplicated line"


@pytest.mark.parametrize("split", SPLITS)
def test_scripts(split):
    for line in lines(split, "hi"):
        assert DEVANAGARI.search(line) and not LATIN.search(line), line
    for line in lines(split, "ja"):
        assert KANA_KANJI.search(line) and not LATIN.search(line), line
    for line in lines(split, "en"):
        assert not DEVANAGARI.search(line) and not KANA_KANJI.search(line), line
        assert 3 <= len(line.split()) <= 18, line


def test_total_size_and_no_test_or_dev_sentence_in_train():
    total = sum(len(lines(split, "en")) for split in SPLITS)
    assert total >= 1500
    train = set(lines("train", "en"))
    for split in ("dev", "test"):
        assert not train & set(lines(split, "en"))
    for lang in ("hi", "ja"):
        assert not set(lines("train", lang)) & set(lines("test", lang))
