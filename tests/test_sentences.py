"""Sentences inside a line: found by the splitter, translated one by one, joined by the target's convention;
a line over the model's limit is cut at sentence ends before word starts."""

import json
from pathlib import Path

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from translate_cli.core.checkpoint import load_model
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.sentences import joiner, split_sentences
from translate_cli.core.translator import Translator

CASES = [json.loads(line) for line in
         (Path(__file__).parent / "fixtures" / "sentences.jsonl").read_text(encoding="utf-8").splitlines()]
GREEDY = DecodeOptions(beam_size=1, max_len_a=0.5, max_len_b=4)


@pytest.mark.parametrize("case", CASES, ids=[f"{c['category']}-{i}" for i, c in enumerate(CASES)])
def test_handmade_paragraphs_split_into_their_sentences(case):
    assert split_sentences(case["text"]) == case["sentences"]


def test_blank_lines_have_no_sentences_and_letterless_pieces_are_glued():
    assert split_sentences("") == [] and split_sentences(" \t ") == []
    assert split_sentences("...") == ["..."]
    assert split_sentences('He said: "Go." ') == ['He said: "Go."']


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_splitting_loses_reorders_and_adds_no_character(text):
    sentences = split_sentences(text)
    assert "".join("".join(s.split()) for s in sentences) == "".join(text.split())
    assert all(s == s.strip() and s for s in sentences)


def test_joining_follows_the_target_language():
    assert joiner("ja").join(["駅はどこですか。", "遠いです。"]) == "駅はどこですか。遠いです。"
    assert joiner("hi").join(["स्टेशन कहाँ है?", "दूर है।"]) == "स्टेशन कहाँ है? दूर है।"


@pytest.mark.parametrize("lang, joiner", [("ja", ""), ("hi", " ")])
def test_each_sentence_is_translated_on_its_own_and_joined(multi_model_dir, lang, joiner):
    translator = Translator(load_model(multi_model_dir), lang)
    sentences = ["Where is the station?", "I like green tea.", "He reads every night."]
    alone = [t.text for t in translator.translate(sentences, GREEDY)]
    paragraph = translator.translate([" ".join(sentences)], GREEDY)[0].text
    assert paragraph == joiner.join(text for text in alone if text)
    whole = translator.translate([" ".join(sentences)], DecodeOptions(beam_size=1, max_len_a=0.5, max_len_b=4,
                                                                      split="none"))
    assert len(translator.encode(" ".join(sentences), "none")) == 1 and whole[0].text  # one piece, translated


def test_a_line_over_the_limit_is_cut_at_sentence_ends_first(single_model_dir):
    translator = Translator(load_model(single_model_dir))
    sentence = "The train to the old station leaves at seven every morning."
    assert 10 < len(translator.encode(sentence)[0]) < translator.piece_limit // 3
    line = " ".join([sentence] * 9)
    whole = translator.encode_line(line, "none")
    assert whole.cut and len(whole.pieces) > 1
    decoded = [translator.tokenizer.decode(piece) for piece in whole.pieces]
    assert all(text.endswith("morning.") for text in decoded)  # no piece ends inside a sentence
    assert all(len(piece) <= translator.piece_limit for piece in whole.pieces)
    by_sentence = translator.encode_line(line, "sentences")
    assert len(by_sentence.pieces) == by_sentence.sentences == 9 and not by_sentence.cut


def test_a_sentence_over_the_limit_is_cut_at_word_starts(single_model_dir):
    translator = Translator(load_model(single_model_dir))
    long_sentence = " ".join(["station"] * 150) + "."
    encoded = translator.encode_line(f"Hello there. {long_sentence} Goodbye.", "sentences")
    assert encoded.sentences == 3 and encoded.cut and len(encoded.pieces) > 3
    pieces = [translator.tokenizer.pieces(piece) for piece in encoded.pieces]
    assert all(p[0].startswith("▁") for p in pieces)
    assert translator.tokenizer.decode(encoded.pieces[0]) == "Hello there."


def test_nbest_of_a_multi_sentence_line_is_one_row(multi_model_dir):
    args = ["translate", str(multi_model_dir), "--to", "ja", "-b", "3", "--nbest", "3"]
    result = run_cli(*args, stdin="One sentence. Another one.\nJust one\n")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.split("\n")[:-1]]
    assert [(r[0], r[1]) for r in rows] == [("1", "1"), ("2", "1"), ("2", "2"), ("2", "3")]
    assert "1 lines were translated in several pieces" in result.stderr
    whole = run_cli(*args, "--split", "none", stdin="One sentence. Another one.\n")
    assert [line.split("\t")[1] for line in whole.stdout.split("\n")[:-1]] == ["1", "2", "3"]


def test_evaluate_takes_split_too(single_model_dir, tmp_path):
    (tmp_path / "src.en").write_text("Where is it? I like tea.\nWhere is it?\nI like tea.\n", encoding="utf-8")
    (tmp_path / "ref.ja").write_text("a\nb\nc\n", encoding="utf-8")
    for split in ("sentences", "none"):
        result = run_cli("evaluate", str(single_model_dir), "--src", str(tmp_path / "src.en"), "--ref",
                         str(tmp_path / "ref.ja"), "-b", "1", "--split", split, "-o", str(tmp_path / f"{split}.ja"))
        assert result.exit_code == 0, result.output
    first, *alone = (tmp_path / "sentences.ja").read_text(encoding="utf-8").split("\n")[:3]
    assert first == "".join(alone)
