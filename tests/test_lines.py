"""Translation never loses, adds or reorders a line, whatever the input holds."""

import functools
import io
import random

import pytest
from conftest import run_cli, translate_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translate_cli.core.checkpoint import load_model
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.native import NativeSearcher
from translate_cli.core.translator import Translator

# Any character but the line feed (the only line end) and surrogates (not encodable in UTF-8).
LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=60)


@functools.lru_cache(maxsize=2)
def translator_of(model_dir) -> Translator:
    return Translator(load_model(model_dir))


# Lines of several sentences, with the punctuation, quotes and numbers that splitters look at.
WORDS = st.sampled_from(["Dr.", "U.S.", "3.14", "1.", '"Stop."', "(yes.)", "etc.", "...", "Hello", "world", "?!", "。",
                         "é", "\t", " ", "i.e.", "she", "said", "Then", "…"])
SENTENCES = st.lists(WORDS, max_size=30).map(" ".join)


@pytest.mark.parametrize("split", ["sentences", "none"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE | SENTENCES, max_size=12), chunk=st.integers(1, 5))
def test_random_unicode_lines_keep_count_and_order(single_model_dir, split, lines, chunk):
    translator = translator_of(single_model_dir)
    sink = io.StringIO()
    options = DecodeOptions(beam_size=1, max_len_b=3, max_len_a=0.2, split=split)
    stats = translate_stream(translator, iter(lines), sink, options, chunk_lines=chunk)
    outputs = sink.getvalue().split("\n")
    assert outputs[-1] == "" and len(outputs) - 1 == len(lines) == stats.lines
    for line, output in zip(lines, outputs):
        if not line.strip():
            assert output == ""  # empty and whitespace-only lines give empty lines


@pytest.mark.parametrize("split", ["sentences", "none"])
def test_hard_inputs_through_the_cli(single_model_dir, tmp_path, split):
    rng = random.Random(0)
    words = ["data", "model", "train", "the", "station", "is", "where", "time"]
    long_line = " ".join(rng.choice(words) for _ in range(20000))[:100_000]
    lines = ["", "   ", "\t", "Hello 👋🏽 world 🎉", "مرحبا بالعالم", "שלום עולם", "bell\x07 and\x1b[31m escape",
             "carriage\rreturn", "line\u2028separator", "nul\x00byte", "\u200f\u202eRTL override", long_line,
             "Where is the station?"]
    source = tmp_path / "in.txt"
    source.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    result = run_cli("translate", str(single_model_dir), str(source), "-o", str(tmp_path / "out.txt"), "-b", "2",
                     "--split", split)
    assert result.exit_code == 0, result.output
    outputs = (tmp_path / "out.txt").read_bytes().decode("utf-8").split("\n")
    assert len(outputs) - 1 == len(lines)
    assert outputs[:3] == ["", "", ""]
    assert "1 lines longer than the model's limit were cut" in result.stderr
    assert "NUL" in result.stderr


def test_stdin_without_final_newline_and_crlf(single_model_dir):
    result = run_cli("translate", str(single_model_dir), "-b", "1", stdin="one\r\ntwo\r\nthree")
    assert result.exit_code == 0
    assert len(result.stdout.split("\n")) - 1 == 3


def test_invalid_utf8_input_is_an_error_or_replaced(single_model_dir, tmp_path):
    source = tmp_path / "bad.txt"
    source.write_bytes(b"fine\nbro\xffken\n")
    result = run_cli("translate", str(single_model_dir), str(source))
    assert result.exit_code == 2 and "bad.txt:2: invalid UTF-8" in result.stderr
    replaced = run_cli("translate", str(single_model_dir), str(source), "--on-bad-utf8", "replace", "-b", "1")
    assert replaced.exit_code == 0 and len(replaced.stdout.split("\n")) - 1 == 2
    assert "replaced" in replaced.stderr


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=12), chunk=st.integers(1, 7), beam=st.sampled_from([1, 2]))
def test_several_search_workers_keep_lines_order_and_translations(single_model_dir, lines, chunk, beam):
    """Batches searched side by side give the translations of the same batches searched one by one."""
    loaded = load_model(single_model_dir)
    options = DecodeOptions(beam_size=beam, max_len_b=3, max_len_a=0.2, batch_tokens=16)  # small batches
    texts = []
    for workers in (3, 1):
        loaded.searcher = NativeSearcher(loaded.model, workers)
        sink = io.StringIO()
        stats = translate_stream(Translator(loaded), iter(lines), sink, options, chunk_lines=chunk)
        texts.append(sink.getvalue())
        assert len(texts[-1].split("\n")) - 1 == len(lines) == stats.lines
    assert texts[0] == texts[1]
