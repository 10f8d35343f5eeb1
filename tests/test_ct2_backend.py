"""The CTranslate2 backend with several translators at work keeps every line, in order, and the same
translations as one translator given the same batches; its thread rule uses every thread given."""

import io

import pytest
from conftest import translate_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translate_cli.core.checkpoint import load_model
from translate_cli.core.ct2.export import export
from translate_cli.core.ct2.runtime import CT2Threads, batch_size, load_ct2, threads_for
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.translator import Translator

LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=60)
WORDS = st.lists(st.sampled_from(["Where", "is", "the", "station", "?", "I", "like", "tennis", "very", "much", "."]),
                 max_size=14).map(" ".join)


@pytest.fixture(scope="module")
def translators(single_model_dir, tmp_path_factory):
    """(several translators, one translator) over the same export, with the same batches."""
    folder = export(load_model(single_model_dir), tmp_path_factory.mktemp("ct2") / "ct2")
    many, one = load_ct2(folder, threads=3), load_ct2(folder, threads=1)
    assert (many.searcher.threads.inter_threads, one.searcher.threads.inter_threads) == (3, 1)
    many.searcher.max_batch_size = one.searcher.max_batch_size = 2
    return Translator(many), Translator(one)


def _translate(translator, lines, options, chunk):
    sink = io.StringIO()
    stats = translate_stream(translator, iter(lines), sink, options, chunk_lines=chunk)
    return sink.getvalue(), stats


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(LINE, WORDS), max_size=16), chunk=st.integers(1, 9), beam=st.sampled_from([1, 2]))
def test_several_translators_keep_lines_order_and_translations(translators, lines, chunk, beam):
    many, one = translators
    options = DecodeOptions(beam_size=beam, max_len_a=0.5, max_len_b=4)
    text, stats = _translate(many, lines, options, chunk)
    outputs = text.split("\n")
    assert outputs[-1] == "" and len(outputs) - 1 == len(lines) == stats.lines
    for line, output in zip(lines, outputs):
        if not line.strip():
            assert output == ""
    assert text == _translate(one, lines, options, chunk)[0]


def test_the_thread_rule_uses_every_thread_and_feeds_every_translator():
    assert threads_for(4) == CT2Threads(inter_threads=4, intra_threads=1)
    assert threads_for(None).inter_threads >= 1
    assert batch_size(1, 2) == 1 and batch_size(10, 2) == 5 and batch_size(10_000, 2) == 64
