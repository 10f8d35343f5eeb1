"""Normalisation and cleaning rules, and strict line reading."""

import numpy as np
import pytest

from translate_cli.core.files import ReadStats, iter_file, iter_pairs, read_lines
from translate_cli.core.text import (
    Cleaner,
    CleanRules,
    Normalization,
    check_script_rules,
    first_occurrences,
    normalize,
    pair_digest,
)
from translate_cli.errors import ConfigError, DataError


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
    pairs = [("a b", "x y"), ("", "x"), ("a" * 21, "x"), ("abcdefghijk", "xy"), ("a b", "z")]
    kept = [pair for pair in pairs if cleaner.keep(*pair)]
    assert kept == [("a b", "x y"), ("a b", "z")]
    assert cleaner.removed == {"empty": 1, "too_long": 1, "length_ratio": 1, "script": 0, "title": 0, "duplicate": 0}
    assert cleaner.kept + sum(cleaner.removed.values()) == len(pairs)


def test_script_rule_drops_targets_in_the_wrong_script():
    cleaner = Cleaner(CleanRules(script=True))
    keep = {("He said yes.", "उसने हाँ कहा।", "hi"), ("1748", "१७४८", "hi"), ("Java is fun.", "Java मज़ेदार है।", "hi"),
            ("Temple", "寺", "ja"), ("A cat.", "ネコ。", "ja")}
    drop = {("Name", "Name", "hi"), ("Anonymous", '""', "hi"), ("Open the file", "à¤ à¥ à¤£", "hi"),
            ("Kyoto", "Kyoto", "ja"), ("He ran.", "He ran.", "ja")}
    assert {pair for pair in keep | drop if cleaner.keep(*pair)} == keep
    assert cleaner.removed["script"] == len(drop)
    with pytest.raises(ConfigError, match="no script rule for fr"):
        check_script_rules(CleanRules(script=True), ["ja", "fr"])


def test_title_rule_keeps_short_sentences():
    cleaner = Cleaner(CleanRules(title_max_words=3, max_length_ratio=8.0))
    assert cleaner.verdict("History", "歴史", "ja") == "title"
    assert cleaner.verdict("Temples in Kyoto", "京都の寺院", "ja") == "title"
    assert cleaner.verdict("Go!", "行け！", "ja") is None
    assert cleaner.verdict("This is a long heading", "長い見出し", "ja") is None


def test_duplicates_keep_the_first_occurrence_per_target_language():
    pairs = [("hello", "नमस्ते", "hi"), ("hello", "नमस्ते", "ja"), ("bye", "x", "hi"), ("hello", "नमस्ते", "hi")]
    digests = np.array([pair_digest(*pair) for pair in pairs], dtype=np.uint64)
    assert first_occurrences(digests).tolist() == [True, True, True, False]
    assert first_occurrences(np.zeros(0, dtype=np.uint64)).tolist() == []


def test_indic_normalizer_keeps_colons_and_is_idempotent():
    rules = Normalization(indic="hi")
    text = "उसने कहा: “ज़रूर” क‍ष | ठीक"
    once = normalize(text, rules)
    assert ":" in once and "ः" not in once  # a real colon is not turned into a visarga
    assert "‍" not in once and "।" in once and "“" not in once
    assert normalize(once, rules) == once
    with pytest.raises(ConfigError, match="indic"):
        normalize("x", Normalization(indic="xx"))


def test_reading_handles_bom_crlf_and_unicode_line_separators(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\xe2\x80\xa8still two\r\n\nfour")
    assert read_lines(path) == ["one", "two\u2028still two", "", "four"]


def test_reading_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(DataError, match=r"bad.txt:2: invalid UTF-8"):
        read_lines(bad)
    stats = ReadStats()
    assert list(iter_file(bad, "replace", stats)) == ["ok", "bad \ufffd byte"]
    assert stats.replaced_lines == 1
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"a\nb\x00c\n")
    with pytest.raises(DataError, match=r"nul.txt:2: contains a NUL byte"):
        read_lines(nul)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_lines(empty)


def test_pairs_with_different_line_counts_stop_with_both_counts(tmp_path):
    source, target = tmp_path / "c.en", tmp_path / "c.ja"
    source.write_text("a\nb\nc\n", encoding="utf-8")
    target.write_text("x\ny\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"c.ja: has 2 lines but .*c.en has 3"):
        list(iter_pairs(source, target))


def test_sentencepiece_keeps_text_exactly_as_normalised(tmp_path):
    from translate_cli.core.tokenizer import SentencePieceTokenizer, VocabSettings, train_sentencepiece

    sentences = ["駅はどこですか？", "１２時に会いましょう。", "Ｔｏｍ said ﬁne.", "नमस्ते दुनिया"] * 50
    train_sentencepiece(sentences, tmp_path / "s.model", VocabSettings(size=400, character_coverage=1.0,
                                                                        max_sentences=1000), [])
    tokenizer = SentencePieceTokenizer(tmp_path / "s.model")
    for raw in set(sentences) | {"未知の文字も🎉", "tab\tand  two spaces"}:
        text = normalize(raw, Normalization(unicode_form="NFC"))  # what prepare and translate feed it
        assert tokenizer.decode(tokenizer.encode(text)) == text
