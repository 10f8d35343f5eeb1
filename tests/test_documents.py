"""Markdown and HTML documents, the inline placement and the glossary: structure kept (compared as parse
trees), every prose segment translated, what must stay untouched left byte for byte, markup nested validly
whatever order the translation puts the words in, and no parser path crashing on odd input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translate_cli.core.alignment import NO_SPAN, Alignment, word_spans
from translate_cli.core.documents import html, markdown
from translate_cli.core.documents.glossary import Glossary, term_accuracy
from translate_cli.core.documents.inline import place
from translate_cli.core.documents.segments import Segment, Span
from translate_cli.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures" / "documents"


def fake_aligned(segment: Segment, reverse: bool, joiner: str = " ") -> tuple[str, Alignment]:
    """A stand-in translation: the words upper-cased and one letter longer (in reverse order if asked: a
    translation moves and resizes words), each word a target token attending only to the source word it came
    from."""
    words = word_spans(segment.text)
    order = list(reversed(range(len(words)))) if reverse else list(range(len(words)))
    text, target_spans = "", []
    for index in order:
        start = len(text) + (len(joiner) if text else 0)
        text += (joiner if text else "") + segment.text[slice(*words[index])].upper() + "Q"
        target_spans.append((start, len(text)))
    weights = np.zeros((len(order), len(words) + 1), dtype=np.float32)
    for row, index in enumerate(order):
        weights[row, index] = 1.0
    return text, Alignment(words + [NO_SPAN], target_spans, weights)


def translate(document, reverse: bool = False, joiner: str = " ") -> str:
    placed = [place(segment, *fake_aligned(segment, reverse, joiner), spaced=joiner == " ")
              for segment in document.segments]
    return document.render(placed)


@pytest.mark.parametrize("reverse, joiner", [(False, " "), (True, " "), (True, "")])
def test_markdown_keeps_its_structure_and_everything_that_is_not_prose(reverse, joiner):
    source = (FIXTURES / "guide.md").read_text(encoding="utf-8")
    document = markdown.MarkdownDocument(source, spaced=joiner == " ")
    output = translate(document, reverse, joiner)
    assert markdown.structure(output) == markdown.structure(source)
    for kept in re.findall(r"```.*?```|`[^`\n]+`|\]\([^)]*\)|^---\n.*?\n---$|<https?://[^>]+>|^\[faq\]:.*$", source,
                           flags=re.S | re.M):
        assert output.count(kept) == source.count(kept), kept
    translated = markdown.MarkdownDocument(output, spaced=joiner == " ")
    assert len(translated.segments) == len(document.segments)  # every prose segment is still prose ...
    for before, after in zip(document.segments, translated.segments):  # ... and was translated
        assert after.text != before.text or not re.search(r"[a-z]", before.text)


def test_markdown_segments_are_exactly_the_prose():
    source = "---\ntitle: Keep me\n---\n# A title\n\n```\ncode stays\n```\n\n| Name | `x` | 3 |\n|---|---|---|\n| a cell | `y` | 4 |\n"
    texts = [segment.text for segment in markdown.MarkdownDocument(source).segments]
    assert texts == ["A title", "Name", "a cell"]  # front matter, code, numbers and code-only cells stay


@pytest.mark.parametrize("reverse, joiner", [(False, " "), (True, "")])
def test_html_keeps_its_structure_and_never_touches_scripts_pre_code_or_translate_no(reverse, joiner):
    source = (FIXTURES / "page.html").read_text(encoding="utf-8")
    document = html.HtmlDocument(source)
    output = translate(document, reverse, joiner)
    assert html.structure(output) == html.structure(source)
    for kept in re.findall(r"<script.*?</script>|<style.*?</style>|<pre.*?</pre>|<code>.*?</code>|"
                           r"<[^>]*translate=\"no\".*?</\w+>|<!--.*?-->", source, flags=re.S):
        assert kept in output, kept
    assert 'alt="AQ ROUNDQ LOAFQ' in output or 'alt="BOARDQ' in output  # attributes are translated
    assert "<h1>Welcome" not in output and re.search("<h1>[A-Z ]+</h1>", output)


def test_inline_elements_stay_around_their_words_when_the_words_move():
    segment = html.HtmlDocument("<p>I like <b>green</b> tea and <a href='x'>cold milk</a>.</p>").segments[0]
    text, alignment = fake_aligned(segment, reverse=True)
    rendered = place(segment, text, alignment, spaced=True).render(html.escape_text)
    assert rendered == "<a href='x'>MILK.Q COLDQ</a> ANDQ TEAQ <b>GREENQ</b> LIKEQ IQ"


def test_malformed_html_is_refused_with_its_line():
    with pytest.raises(DataError, match=r"page.html:3: </div> closes no open element"):
        html.HtmlDocument("<p>one</p>\n<p>two</p>\n</div>\n", "page.html")


SPAN_TREES = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.booleans()), max_size=6)


@settings(max_examples=200, deadline=None)
@given(words=st.integers(1, 10), picks=SPAN_TREES, reverse=st.booleans(), seed=st.integers(0, 1000))
def test_placed_markup_always_nests_and_nothing_is_lost(words, picks, reverse, seed):
    text = " ".join(f"w{i}" for i in range(words))
    bounds = word_spans(text)
    spans: list[Span] = []
    for a, b, fixed in picks:  # keep only spans that nest with those kept so far
        a, b = sorted((min(a, words - 1), min(b, words - 1)))
        start, end = bounds[a][0], bounds[b][1]
        candidate = Span(start, end, f"<{len(spans)}>", f"</{len(spans)}>", "F" if fixed else None)
        if all(s.end <= start or end <= s.start or (s.start <= start and end <= s.end and s.fixed is None)
               or (start <= s.start and s.end <= end and not fixed) for s in spans):
            spans.append(candidate)
    segment = Segment(text, spans)
    translated, alignment = fake_aligned(segment, reverse)
    rng = np.random.default_rng(seed)  # noisy attention: links may be wrong, the markup must stay valid
    alignment = Alignment(alignment.source_spans, alignment.target_spans,
                          alignment.weights + rng.random(alignment.weights.shape).astype(np.float32))
    rendered = place(segment, translated, alignment, spaced=True).render()
    opened = []
    for tag in re.findall(r"</?\d+>|F", rendered):
        if tag.startswith("</"):
            assert opened and opened.pop() == tag[2:-1], rendered
        elif tag != "F":
            opened.append(tag[1:-1])
    assert not opened
    visible = {span.open for span in spans if span.fixed is None or not any(
        o.fixed is not None and o.start <= span.start and span.end <= o.end and o is not span for o in spans)}
    assert all(tag in rendered for tag in visible)


BLOCKS = st.sampled_from([
    "Plain words here.", "A *stressed* word and **strong** ones.", "Use `code` now.", "[a link](http://x.org) in it.",
    "![alt text](p.png)", "# Heading", "- item one\n- item *two*", "1. first\n2. second", "> quoted text",
    "```\nfenced ~~\n```", "    indented code", "<div>\nraw html\n</div>", "| a | b |\n|---|---|\n| c *d* | `e` |",
    "Line one  \nline two", "Escaped \\* star", "Auto <https://a.org> link", "", "   ", "***", "Odd ** markers *",
    "<b>bold</b> in text", "Text with &amp; entity", "[ref link][r]\n\n[r]: http://r.org",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=st.lists(BLOCKS, max_size=12), separator=st.sampled_from(["\n\n", "\n", "\n\n\n"]),
       reverse=st.booleans(), joiner=st.sampled_from([" ", ""]))
def test_markdown_fuzz_never_crashes_and_keeps_the_structure(blocks, separator, reverse, joiner):
    source = separator.join(blocks)
    document = markdown.MarkdownDocument(source, spaced=joiner == " ")
    output = translate(document, reverse, joiner)
    assert markdown.structure(output) == markdown.structure(source)


def test_two_line_breaks_moved_out_of_a_link_do_not_meet():
    """Fuzzing found it: in a reversed translation both hard breaks were moved to the link's end, where
    they made an empty line, so the paragraph split in two."""
    source = "Line one  \nline two\nLine one  \nline two\nPlain words here.\n[ref link][r]\n\n[r]: http://r.org"
    document = markdown.MarkdownDocument(source)
    output = translate(document, reverse=True)
    assert "  \n  \n" not in output
    assert markdown.structure(output) == markdown.structure(source)


HTML_PARTS = st.sampled_from([
    "<p>Some <b>bold</b> text.</p>", "<p>A <a href='u'>link <em>inside</em></a> here</p>", "<br>", "<img alt='Alt words'>",
    "<script>var s = 'English';</script>", "<pre>keep  this</pre>", "<p translate='no'>Brand Name</p>", "<!-- note -->",
    "plain text", "&amp; entity &nbsp; here", "<div><span>nested <i>deep</i></span></div>", "<p></p>", "   ",
    "<p>Use <code>x = 1</code> now</p>", "<ul><li>one</li><li>two</li></ul>", "<b>unclosed bold",
    "<input placeholder='Type here'>", "<table><tr><td>cell</td></tr></table>",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(HTML_PARTS, max_size=12), reverse=st.booleans(), joiner=st.sampled_from([" ", ""]))
def test_html_fuzz_never_crashes_and_keeps_the_structure(parts, reverse, joiner):
    source = "\n".join(parts)
    output = translate(html.HtmlDocument(source), reverse, joiner)
    assert html.structure(output) == html.structure(source)


def test_glossary_matches_case_and_endings_sensibly(tmp_path):
    path = tmp_path / "terms.tsv"
    path.write_text("# comment\ntemple\t寺\nKinkaku-ji temple\t金閣寺\nIT\t情報技術\n\n", encoding="utf-8")
    glossary = Glossary.read(path)
    found = [(term.source, text[a:b]) for text in ["The Temples and the Kinkaku-ji Temple's garden.", "it is IT"]
             for a, b, term in glossary.matches(text)]
    assert found == [("temple", "Temples"), ("Kinkaku-ji temple", "Kinkaku-ji Temple's"), ("IT", "IT")]
    assert term_accuracy(glossary, ["a temple", "two temples, one temple"], ["寺", "寺"]) == (2, 3)
    segment, count = glossary.apply(Segment("see `temple` and the temple", [Span(4, 10, fixed="`temple`")]))
    assert count == 1 and segment.spans[-1] == Span(21, 27, fixed="寺", term=True)  # never inside code
    path.write_text("temple\t寺\nbad line\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"terms.tsv:2: expected 'source term<TAB>target term'"):
        Glossary.read(path)


def test_a_glossary_term_the_model_already_translated_is_left_alone(tmp_path):
    """Replacing words by alignment only where the target is missing: the right words are never moved."""
    path = tmp_path / "terms.tsv"
    path.write_text("station\t駅\ntemple\t寺院\n", encoding="utf-8")
    glossary = Glossary.read(path)
    segment, found = glossary.apply(Segment("the station near the temple"))
    assert found == 2 and all(span.term for span in segment.spans)
    words = word_spans(segment.text)
    translation = "寺 の 近く の 駅"  # the model's words: 駅 right, 寺 (not the glossary's 寺院)
    target = word_spans(translation)
    weights = np.zeros((len(target), len(words) + 1), dtype=np.float32)
    for row, column in enumerate([4, 3, 2, 0, 1]):  # 寺<-temple, の<-the, 近く<-near, の<-the, 駅<-station
        weights[row, column] = 1.0
    placed = place(segment, translation, Alignment(words + [NO_SPAN], target, weights), spaced=True)
    assert placed.render() == "寺院 の 近く の 駅"
    twice, _ = glossary.apply(Segment("station to station"))
    weights = np.eye(3, 4, dtype=np.float32)
    both = Alignment(word_spans(twice.text) + [NO_SPAN], word_spans("駅 から 駅"), weights)
    placed = place(twice, "駅 から 駅", both, spaced=True)
    assert placed.render() == "駅 から 駅" and placed.spans == []
    loose, _ = glossary.apply(Segment("a station"))
    translation = "ある 大きな 古い 建物 です"  # every token linked to "station", "建物" the most
    weights = np.full((5, 3), 0.1, dtype=np.float32)
    weights[:, 1] = 0.5
    weights[3, 1] = 0.9
    placed = place(loose, translation, Alignment(word_spans(loose.text) + [NO_SPAN], word_spans(translation), weights),
                   spaced=True)
    assert placed.render() == "ある 大きな 古い 駅 です"  # the strongest word, not the whole loose run


@pytest.mark.parametrize("name", ["guide.md", "page.html", "talk.srt", "talk.vtt", "app.po"])
def test_translate_a_document_through_the_cli(single_model_dir, tmp_path, name):
    out = tmp_path / name
    result = run_cli("translate", str(single_model_dir), str(FIXTURES / name), "-o", str(out), "-b", "1",
                     "--max-len-a", "0.5", "--max-len-b", "4")
    assert result.exit_code == 0, result.output
    assert "segments of" in result.stderr
    source = (FIXTURES / name).read_text(encoding="utf-8")
    if name.endswith(".md"):
        assert markdown.structure(out.read_text(encoding="utf-8")) == markdown.structure(source)
    elif name.endswith(".html"):
        assert html.structure(out.read_text(encoding="utf-8")) == html.structure(source)


def test_a_glossary_term_appears_in_the_output_and_bad_documents_exit_2(single_model_dir, tmp_path):
    terms = tmp_path / "terms.tsv"
    terms.write_text("station\t駅\n", encoding="utf-8")
    result = run_cli("translate", str(single_model_dir), "--glossary", str(terms), "-b", "1", "--max-len-b", "4",
                     stdin="Where is the station?\nNo term here.\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("\n")
    assert "駅" in lines[0] and len(lines) == 3 and "1 glossary terms" in result.stderr
    broken = tmp_path / "broken.html"
    broken.write_text("<p>fine</p>\n</span>\n", encoding="utf-8")
    refused = run_cli("translate", str(single_model_dir), str(broken), "-o", str(tmp_path / "o.html"))
    assert refused.exit_code == 2 and "broken.html:2:" in refused.stderr and "Traceback" not in refused.output
    mixed = run_cli("translate", str(single_model_dir), str(FIXTURES / "guide.md"), "--tsv-column", "2")
    assert mixed.exit_code == 2 and "--format markdown" in mixed.stderr
