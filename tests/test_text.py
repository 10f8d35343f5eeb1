"""Normalisation and cleaning rules, and strict line reading."""

import pytest

from translate_cli.core import textio
from translate_cli.core.text import Cleaner, CleanRules, Normalization, normalize
from translate_cli.errors import DataError


def test_normalize_unicode_whitespace_and_controls():
    rules = Normalization()
    assert normalize("  Ｈｅｌｌｏ\u3000 world\t!\x07 ", rules) == "Hello world !"
    assert normalize("ﬁne", rules) == "fine"  # NFKC ligature
    assert normalize("ﬁne", Normalization(unicode_form="NFC")) == "ﬁne"


def test_normalize_optional_rules():
    assert normalize("I met Tom.", Normalization(lowercase=True)) == "i met tom."
    japanese = Normalization(unicode_form="NFC", remove_cjk_spaces=True)
    assert normalize("私 は テニス 部員 です 。", japanese) == "私はテニス部員です。"
    assert normalize("テニス と tennis ball", japanese) == "テニスと tennis ball"  # spaces near Latin stay


def test_cleaner_counts_every_rule():
    cleaner = Cleaner(CleanRules(max_chars=20, max_length_ratio=3.0, ratio_min_chars=5))
    pairs = [("a b", "x y"), ("", "x"), ("a" * 21, "x"), ("abcdefghijk", "xy"), ("a b", "x y"), ("a b", "z")]
    kept = [pair for pair in pairs if cleaner.keep(*pair)]
    assert kept == [("a b", "x y"), ("a b", "z")]
    assert cleaner.removed == {"empty": 1, "too_long": 1, "length_ratio": 1, "duplicate": 1}
    assert cleaner.kept + sum(cleaner.removed.values()) == len(pairs)


def test_dedup_is_per_target_language():
    cleaner = Cleaner(CleanRules())
    assert cleaner.keep("hello", "नमस्ते", key="hi")
    assert cleaner.keep("hello", "नमस्ते", key="ja")
    assert not cleaner.keep("hello", "नमस्ते", key="hi")


def test_reading_handles_bom_crlf_and_unicode_line_separators(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\xe2\x80\xa8still two\r\n\nfour")
    assert textio.read_lines(path) == ["one", "two\u2028still two", "", "four"]


def test_reading_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(DataError, match=r"bad.txt:2: invalid UTF-8"):
        textio.read_lines(bad)
    stats = textio.ReadStats()
    assert list(textio.iter_file(bad, "replace", stats)) == ["ok", "bad \ufffd byte"]
    assert stats.replaced_lines == 1
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"a\nb\x00c\n")
    with pytest.raises(DataError, match=r"nul.txt:2: contains a NUL byte"):
        textio.read_lines(nul)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        textio.read_lines(empty)


def test_pairs_with_different_line_counts_stop_with_both_counts(tmp_path):
    source, target = tmp_path / "c.en", tmp_path / "c.ja"
    source.write_text("a\nb\nc\n", encoding="utf-8")
    target.write_text("x\ny\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"c.ja: has 2 lines but .*c.en has 3"):
        list(textio.iter_pairs(source, target))


def test_sentencepiece_keeps_text_exactly_as_normalised(tmp_path):
    from translate_cli.core.tokenizer import SentencePieceTokenizer, VocabSettings, train_sentencepiece

    sentences = ["駅はどこですか？", "１２時に会いましょう。", "Ｔｏｍ said ﬁne.", "नमस्ते दुनिया"] * 50
    train_sentencepiece(sentences, tmp_path / "s.model", VocabSettings(size=400, character_coverage=1.0,
                                                                        max_sentences=1000), [])
    tokenizer = SentencePieceTokenizer(tmp_path / "s.model")
    for raw in set(sentences) | {"未知の文字も🎉", "tab\tand  two spaces"}:
        text = normalize(raw, Normalization(unicode_form="NFC"))  # what prepare and translate feed it
        assert tokenizer.decode(tokenizer.encode(text)) == text
