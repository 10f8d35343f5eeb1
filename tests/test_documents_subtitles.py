"""SRT and WebVTT documents: cue text translated, everything else kept, sentences over cues translated as one
and cut back into the same cues, tags kept, malformed files refused with a line number."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import srt
import webvtt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translate_cli.core.documents.segments import Placed, Segment, Span, plain
from translate_cli.core.documents.subtitles import parse_srt
from translate_cli.core.documents.vtt import parse_vtt
from translate_cli.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures" / "documents"


def fake(segment: Segment, reverse: bool = False, joiner: str = " ") -> Placed:
    """A stand-in translation: the words upper-cased, optionally in reverse order or without spaces (as a
    Japanese translation would be), every span moved with the characters it covered, as placement would."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", segment.text)]
    order = list(reversed(words)) if reverse else words
    text, target = "", {}
    for a, b in order:
        text += joiner if text else ""
        target.update({a + k: len(text) + k for k in range(b - a)})
        text += segment.text[a:b].upper()
    spans = []
    for span in segment.spans:
        covered = [target[c] for c in range(span.start, span.end) if c in target]
        if covered:
            spans.append(Span(min(covered), max(covered) + 1, span.open, span.close, span.fixed))
        else:
            after = [target[c] for c in range(span.start, len(segment.text)) if c in target]
            point = after[0] if after else len(text)
            spans.append(Span(point, point, span.open, span.close, span.fixed))
    return Placed(text, spans)


def srt_cues(text: str) -> list[tuple]:
    return [(s.index, s.start, s.end, s.proprietary) for s in srt.parse(text)]


def vtt_cues(text: str) -> list[tuple]:
    return [(c.start, c.end, c.identifier, str(c.settings)) for c in webvtt.WebVTT.from_string(text).captions]


def words_of(raw: str) -> list[str]:
    return re.sub(r"<[^>]*>", " ", raw).split()


TWO_CUE_SENTENCE = """1
00:00:01,000 --> 00:00:03,000
Last spring I took a night train

2
00:00:03,000 --> 00:00:06,000 X1:10 X2:20 Y1:30 Y2:40
from the north of the country
all the way to the sea.

3
00:00:07,000 --> 00:00:08,000
♪

"""


def test_srt_structure_kept_and_every_cue_translated() -> None:
    document = parse_srt(TWO_CUE_SENTENCE, "talk.srt")
    out = document.render([fake(segment) for segment in document.segments])
    assert srt_cues(out) == srt_cues(TWO_CUE_SENTENCE)
    contents = [sub.content for sub in srt.parse(out)]
    assert contents[0] == "LAST SPRING I TOOK A NIGHT TRAIN"
    expected = "FROM THE NORTH OF THE COUNTRY ALL THE WAY TO THE SEA."
    assert words_of(contents[1]) == expected.split()
    assert len(contents[1].split("\n")) == 2  # a two-line cue stays two lines
    assert contents[2] == "♪"  # nothing to translate: left as it is


def test_sentence_over_cues_is_one_segment_with_an_anchor_per_boundary() -> None:
    document = parse_srt(TWO_CUE_SENTENCE, "talk.srt")
    assert len(document.segments) == 1
    segment = document.segments[0]
    assert segment.text == "Last spring I took a night train from the north of the country all the way to the sea."
    assert segment.spans == [Span(33, 33)]
    assert segment.text[33:].startswith("from")
    assert segment.line == 3


def test_render_cuts_where_the_placement_put_the_anchor() -> None:
    document = parse_srt(TWO_CUE_SENTENCE, "talk.srt")
    translation = "पिछले वसंत मैंने रात की ट्रेन ली देश के उत्तर से समुद्र तक।"
    cut = translation.index("देश")
    out = document.render([Placed(translation, [Span(cut, cut)])])
    first, second, _ = [sub.content for sub in srt.parse(out)]
    assert first == translation[:cut].strip()
    assert " ".join(second.split()) == translation[cut:]
    assert document.resplit == 0


@pytest.mark.parametrize("spans", [[], [Span(5, 5), Span(9, 9)], [Span(0, 0)]])
def test_lost_or_useless_anchors_fall_back_to_proportional_cut(spans: list[Span]) -> None:
    document = parse_srt(TWO_CUE_SENTENCE, "talk.srt")
    translation = "one two three four five six seven eight nine ten"
    out = document.render([Placed(translation, spans)])
    first, second, _ = [sub.content for sub in srt.parse(out)]
    assert first and second
    assert first.split() + second.split() == translation.split()  # no word cut in two, none lost
    assert len(first.split()) < len(second.split())  # cue 2 had more source text
    assert document.resplit == 1


def test_unspaced_translation_is_cut_between_characters() -> None:
    document = parse_srt(TWO_CUE_SENTENCE, "talk.srt")
    translation = "去年の春、私は夜行列車に乗って国の北から海までずっと旅をした。"
    out = document.render([Placed(translation)])
    first, second, _ = [sub.content.replace("\n", "") for sub in srt.parse(out)]
    assert first and second and first + second == translation


def test_anchor_out_of_order_falls_back() -> None:
    text = TWO_CUE_SENTENCE.replace("night train", "night train, and then")
    third_cue = "\n\n3\n00:00:06,500 --> 00:00:07,000\nback."
    text = text.replace("all the way to the sea.", "all the way to the sea and" + third_cue)
    text = text.replace("\n3\n00:00:07,000", "\n4\n00:00:07,000")
    document = parse_srt(text, "talk.srt")
    assert [len([s for s in seg.spans if s.start == s.end]) for seg in document.segments] == [2]
    out = document.render([fake(document.segments[0], reverse=True)])
    assert document.resplit == 1
    contents = [sub.content for sub in srt.parse(out)][:3]
    assert all(contents)
    assert sorted(w for c in contents for w in c.split()) == sorted(document.segments[0].text.upper().split())


def test_empty_translation_leaves_cues_empty_and_counts_them() -> None:
    document = parse_srt(TWO_CUE_SENTENCE, "talk.srt")
    out = document.render([Placed("")])
    assert srt_cues(out) == srt_cues(TWO_CUE_SENTENCE)
    assert document.emptied == 2


def test_tags_become_spans_and_survive() -> None:
    first_text = 'My grandmother said, <i>the journey</i> is <font color="red">part</font> of it.'
    source = (f"1\n00:00:01,000 --> 00:00:02,000\n{first_text}\n\n"
              "2\n00:00:02,000 --> 00:00:03,000\n{\\an8}<b>Stay</b> calm.</u>\n\n")
    document = parse_srt(source, "a.srt")
    first, second = document.segments
    assert first.text == "My grandmother said, the journey is part of it."
    assert [(first.text[s.start:s.end], s.open, s.close) for s in first.spans] == [
        ("the journey", "<i>", "</i>"), ("part", '<font color="red">', "</font>")]
    assert second.text == "Stay calm."
    assert {(s.open, s.close) for s in second.spans} == {("{\\an8}", ""), ("<b>", "</b>"), ("</u>", "")}
    out = document.render([plain(segment) for segment in document.segments])
    # An anchor listed before a span that starts where it stands is written before that span's tag.
    assert [sub.content for sub in srt.parse(out)] == [first_text, "{\\an8}<b>Stay</b> calm.</u>"]


def test_srt_fixture_corpus() -> None:
    path = FIXTURES / "talk.srt"
    if not path.exists():
        pytest.skip("fixture corpus not written yet")
    source = path.read_text(encoding="utf-8")
    document = parse_srt(source, "talk.srt")
    merged = [segment for segment in document.segments if any(s.start == s.end for s in segment.spans)]
    assert any(segment.text.startswith("Last spring") for segment in merged)
    out = document.render([fake(segment) for segment in document.segments])
    assert srt_cues(out) == srt_cues(source)
    before = [words_of(sub.content) for sub in srt.parse(source)]
    after = [words_of(sub.content) for sub in srt.parse(out)]
    assert all(a for a, b in zip(after, before) if b)
    assert [w.upper() for ws in before for w in ws] == [w for ws in after for w in ws]


def test_vtt_keeps_everything_outside_cue_text_byte_for_byte() -> None:
    path = FIXTURES / "talk.vtt"
    source = path.read_text(encoding="utf-8") if path.exists() else VTT_SAMPLE
    document = parse_vtt(source, "talk.vtt")
    out = document.render([fake(segment) for segment in document.segments])
    assert vtt_cues(out) == vtt_cues(source)
    original, translated = webvtt.WebVTT.from_string(source), webvtt.WebVTT.from_string(out)
    assert translated.header_comments == original.header_comments
    assert [c.comments for c in translated.captions] == [c.comments for c in original.captions]

    def skeleton(text: str) -> list[str]:  # every block, cue blocks cut after their timing line
        return [re.sub(r"(-->[^\n]*)\n.*", r"\1", block, flags=re.DOTALL) for block in text.split("\n\n")]

    assert skeleton(out) == skeleton(source)
    assert all(c.text == c.text.upper() for c in translated.captions)


VTT_SAMPLE = """WEBVTT - a sample

STYLE
::cue { color: yellow }

NOTE the first cue has an identifier

intro
00:01.000 --> 00:04.000 align:start position:10%
<v Ann>Delays happen, and there is nothing

00:04.000 --> 00:06.000
<v Ann>you can do about them.</v>

00:06.500 --> 00:08.000 line:85%
Tom &amp; Jerry &lt;3 <c.yellow>trains</c>!
"""


def test_vtt_entities_voices_and_merge() -> None:
    document = parse_vtt(VTT_SAMPLE, "a.vtt")
    merged, last = document.segments
    assert merged.text == "Delays happen, and there is nothing you can do about them."
    assert Span(36, 36) in merged.spans
    assert last.text == "Tom & Jerry <3 trains!"
    out = document.render([fake(segment) for segment in document.segments])
    assert vtt_cues(out) == vtt_cues(VTT_SAMPLE)
    lines = [c.lines for c in webvtt.WebVTT.from_string(out).captions]
    assert lines[0] == ["<v Ann>DELAYS HAPPEN, AND THERE IS NOTHING"]
    assert lines[1] == ["<v Ann>YOU CAN DO ABOUT THEM.</v>"]
    assert lines[2] == ["TOM &amp; JERRY &lt;3 <c.yellow>TRAINS</c>!"]


def test_vtt_crlf_and_no_final_newline_kept() -> None:
    source = "WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nHello there.\r\nGeneral Kenobi."
    document = parse_vtt(source, "a.vtt")
    out = document.render([fake(segment) for segment in document.segments])
    assert out.startswith("WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\n")
    assert out.count("\r\n") == source.count("\r\n") and not out.endswith("\n")


@pytest.mark.parametrize(("parse", "source", "line"), [
    (parse_srt, "1\n00:00:01,000 --> 00:00:02,000\nHi.\n\n2\n00:00:0x,000 --> 00:00:03,000\nYo.\n\n", 5),
    (parse_srt, "\n\nnot subtitles at all\n", 3),
    (parse_vtt, "1\n00:01.000 --> 00:02.000\nHi.\n", 1),
    (parse_vtt, "WEBVTT\n\n00:01.000 --> 00:02.000\nHi.\n\n00:02.000 -> 00:03.000\n", 6),
    (parse_vtt, "WEBVTT\n\nNOTE ok\n\nid\n00:01.000 --> 00:02.0x0\nHi.\n", 6),
    (parse_vtt, "WEBVTT\n\n00:01.000 --> 00:75.000\nHi.\n", 3),
])
def test_malformed_files_name_the_line(parse, source: str, line: int) -> None:
    with pytest.raises(DataError, match=rf"^x\.sub:{line}: .*fix the file"):
        parse(source, "x.sub")


FRAGMENTS = ["Hello", "world.", "Ça", "va?", "日本語の字幕", "नमस्ते", "…", "♪", "don't", "x" * 70, "it's", "end!",
             "<i>", "</i>", "<b>", "</b>", "<u>", "{\\an8}", "</font>", '<font color="#ff0">', " ", "  ", "\t", "\n"]
VTT_FRAGMENTS = [f for f in FRAGMENTS if "font" not in f and "\\" not in f] + [
    "&amp;", "&lt;3", "a>b", "<c.yellow>", "</c>", "<v Bob>", "</v>", "<00:00:01.500>", "<lang ja>", "</lang>"]


def cue_text(fragments: list[str]) -> str:
    lines = [line for line in "".join(fragments).split("\n") if line]  # an empty line would end the cue
    return "\n".join(lines)


def check_nothing_lost(source: str, out: str, after, translated_chars: Counter) -> None:
    """Every character of every translation is in some cue, and every tag is still there (a tag around
    words that a cut splits is written on both sides, so there may be more)."""
    chars = Counter(c for cue in after.cues for c in cue.text if not c.isspace())
    assert chars == translated_chars
    tags = Counter(re.findall(r"<[^<>\n]*>|\{\\[^{}\n]*\}", out))
    assert all(tags[tag] >= count for tag, count in Counter(re.findall(r"<[^<>\n]*>|\{\\[^{}\n]*\}", source)).items())


def translated_chars(document, translations: list[Placed]) -> Counter:
    in_segments = {index for chain in document.chains for index in chain}
    kept = [cue.text for index, cue in enumerate(document.cues) if index not in in_segments]
    return Counter(c for text in kept + [t.text for t in translations] for c in text if not c.isspace())


MODES = st.sampled_from([{}, {"reverse": True}, {"joiner": ""}, {"reverse": True, "joiner": ""}])
CUES = st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=12), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cues=CUES, mode=MODES)
def test_srt_fuzz_round_trip(cues: list[list[str]], mode: dict) -> None:
    subs = [srt.Subtitle(i + 1, timedelta(seconds=i), timedelta(seconds=i + 1), cue_text(fragments))
            for i, fragments in enumerate(cues)]
    source = srt.compose(subs, reindex=False)
    document = parse_srt(source, "fuzz.srt")
    translations = [fake(segment, **mode) for segment in document.segments]
    out = document.render(translations)
    assert srt_cues(out) == srt_cues(source)
    check_nothing_lost(source, out, parse_srt(out, "out.srt"), translated_chars(document, translations))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cues=st.lists(st.tuples(st.lists(st.sampled_from(VTT_FRAGMENTS), max_size=12),
                               st.sampled_from(["", "id-1\n", "intro\n"]),
                               st.sampled_from(["", " align:start line:85%"]), st.booleans()), min_size=1, max_size=8),
       mode=MODES)
def test_vtt_fuzz_round_trip(cues: list[tuple], mode: dict) -> None:
    blocks = ["WEBVTT"]
    for i, (fragments, identifier, cue_settings, note) in enumerate(cues):
        if note:
            blocks.append("NOTE between cues")
        timing = f"00:00:{i:02d}.000 --> 00:00:{i + 1:02d}.500{cue_settings}"
        blocks.append(f"{identifier}{timing}\n{cue_text(fragments)}".rstrip("\n"))
    source = "\n\n".join(blocks) + "\n"
    document = parse_vtt(source, "fuzz.vtt")
    translations = [fake(segment, **mode) for segment in document.segments]
    out = document.render(translations)
    assert vtt_cues(out) == vtt_cues(source)
    assert [c.comments for c in webvtt.WebVTT.from_string(out).captions] == [
        c.comments for c in webvtt.WebVTT.from_string(source).captions]
    check_nothing_lost(source, out, parse_vtt(out, "out.vtt"), translated_chars(document, translations))


def test_cue_boundary_goes_where_the_real_placement_puts_it() -> None:
    """With inline.place and an alignment, the anchor lands between the words from each cue."""
    import numpy as np

    from translate_cli.core.alignment import Alignment, word_spans
    from translate_cli.core.documents.inline import place

    document = parse_srt(TWO_CUE_SENTENCE, "talk.srt")
    segment = document.segments[0]
    translation = "पिछले वसंत मैंने रात की ट्रेन ली देश के उत्तर से पूरे रास्ते समुद्र तक।"
    source_words = segment.text.split()
    links = ["Last", "spring", "I", "night", "a", "train", "took", "country", "of", "north", "from", "all", "way",
             "sea.", "to"]
    target = word_spans(translation)
    weights = np.zeros((len(target), len(source_words)))
    for row, word in enumerate(links):
        weights[row, source_words.index(word)] = 1.0
    placed = place(segment, translation, Alignment(word_spans(segment.text), target, weights), spaced=True)
    out = document.render([placed])
    first, second, _ = [" ".join(sub.content.split()) for sub in srt.parse(out)]
    assert (first, second) == ("पिछले वसंत मैंने रात की ट्रेन ली", "देश के उत्तर से पूरे रास्ते समुद्र तक।")
    assert document.resplit == 0
