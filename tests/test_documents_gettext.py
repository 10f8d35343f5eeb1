"""gettext catalogues: untranslated msgids translated, everything else kept entry for entry, placeholders and
outer newlines kept, plural forms filled for the target language, machine translations marked fuzzy."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import polib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translate_cli.core.documents.gettext import parse_po
from translate_cli.core.documents.segments import Placed, Segment, Span
from translate_cli.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures" / "documents"


def fake(segment: Segment, reverse: bool = False, joiner: str = " ") -> Placed:
    """A stand-in translation: the words upper-cased, optionally reversed or run together (as Japanese),
    every span moved with the characters it covered, as the placement would."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", segment.text)]
    text, target = "", {}
    for a, b in reversed(words) if reverse else words:
        text += joiner if text else ""
        target.update({a + k: len(text) + k for k in range(b - a)})
        text += segment.text[a:b].upper()
    spans = []
    for span in segment.spans:
        covered = [target[c] for c in range(span.start, span.end) if c in target]
        after = [target[c] for c in range(span.start, len(segment.text)) if c in target] or [len(text)]
        start, end = (min(covered), max(covered) + 1) if covered else (after[0], after[0])
        spans.append(Span(start, end, span.open, span.close, span.fixed))
    return Placed(text, spans)


def structure(catalogue: polib.POFile) -> list[tuple]:
    """What must not change: every entry but its msgstr and the fuzzy flag, live entries before obsolete."""
    entries = sorted(catalogue, key=lambda e: bool(e.obsolete))
    return [(e.msgctxt, e.msgid, e.msgid_plural, e.occurrences, e.comment, e.tcomment,
             [f for f in e.flags if f != "fuzzy"], bool(e.obsolete)) for e in entries]


CATALOGUE = r'''# A test catalogue.
msgid ""
msgstr ""
"Project-Id-Version: Lantern 1.4\n"
"Language: \n"
"Content-Type: text/plain; charset=UTF-8\n"

#. Title of the main window.
#: ui/window.py:12
msgid "Rename your photos"
msgstr ""

#: scan.py:41
#, python-format
msgid "Scanning %s for %(count)d pictures (%5.2f%% done)."
msgstr ""

#: rename.c:120
#, c-format
msgid "Renamed %1$s to %2$s."
msgstr ""

#, python-brace-format
msgid "Welcome back, {user}! {0} and {} new photos."
msgstr ""

#, python-format
msgid "One photo was renamed."
msgid_plural "%(count)d photos were renamed."
msgstr[0] ""
msgstr[1] ""

msgid "Open folder"
msgstr "フォルダーを開く"

msgctxt "button"
msgid "Open"
msgstr ""

msgid ""
"\n"
"Usage: lantern [options]\n"
"Renames photos.\n"
msgstr ""

#~ msgid "Rename all pictures now"
#~ msgstr ""
'''


def render(text: str, lang: str, **options) -> tuple[polib.POFile, object]:
    document = parse_po(text, "app.po", lang, **options)
    return polib.pofile(document.render([fake(segment) for segment in document.segments])), document


def test_segments_are_exactly_the_untranslated_msgids() -> None:
    document = parse_po(CATALOGUE, "app.po", "hi")
    assert [segment.text for segment in document.segments] == [
        "Rename your photos", "Scanning %s for %(count)d pictures (%5.2f%% done).", "Renamed %1$s to %2$s.",
        "Welcome back, {user}! {0} and {} new photos.", "One photo was renamed.", "%(count)d photos were renamed.",
        "Open", "Usage: lantern [options] Renames photos."]
    assert document.segments[0].line == 10
    japanese = parse_po(CATALOGUE, "app.po", "ja")  # one plural form: msgstr[0] comes from msgid_plural
    assert "One photo was renamed." not in [segment.text for segment in japanese.segments]
    again = parse_po(CATALOGUE, "app.po", "ja", retranslate=True)
    assert "Open folder" in [segment.text for segment in again.segments]


def test_structure_kept_translations_filled_and_marked_fuzzy() -> None:
    source = polib.pofile(CATALOGUE)
    out, _ = render(CATALOGUE, "hi")
    assert structure(out) == structure(source)
    for before, after in zip(source, out):
        if before.obsolete or before.msgid == "Open folder":
            assert (after.msgstr, after.flags) == (before.msgstr, before.flags)  # left alone
            continue
        assert "fuzzy" in after.flags
        assert after.msgstr or all(after.msgstr_plural.values())
    assert out.find("Rename your photos").msgstr == "RENAME YOUR PHOTOS"
    assert out.metadata["Language"] == "hi" and out.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"


def test_placeholders_are_fixed_spans_and_survive_reordering() -> None:
    document = parse_po(CATALOGUE, "app.po", "ja")
    scanning = document.segments[1]
    assert [(scanning.text[s.start:s.end], s.fixed) for s in scanning.spans] == [
        ("%s", "%s"), ("%(count)d", "%(count)d"), ("%5.2f", "%5.2f"), ("%%", "%%")]
    out = polib.pofile(document.render([fake(segment, reverse=True, joiner="") for segment in document.segments]))
    for entry in out:
        for source, target in [(entry.msgid, entry.msgstr)] if not entry.msgid_plural else [
                (entry.msgid_plural, entry.msgstr_plural[0])]:
            literals = re.findall(r"%\(\w+\)d|%\d\$s|%5\.2f|%%|%[sd]|\{\w*\}", source)
            assert Counter(re.findall(r"%\(\w+\)d|%\d\$s|%5\.2f|%%|%[sd]|\{\w*\}", target)) == Counter(literals)
    assert document.repaired_placeholders == 0


def test_lost_and_doubled_placeholders_are_repaired_and_counted() -> None:
    document = parse_po(CATALOGUE, "app.po", "hi")
    translations = [Placed(segment.text) for segment in document.segments]
    translations[2] = Placed("नाम बदला %1$s %1$s")  # %2$s lost, %1$s twice
    out = polib.pofile(document.render(translations))
    assert out.find("Renamed %1$s to %2$s.").msgstr == "नाम बदला %1$s %2$s"
    assert document.repaired_placeholders == 2


def test_outer_and_inner_newlines_kept() -> None:
    out, document = render(CATALOGUE, "hi")
    usage = document.segments[-1]
    assert [span.open for span in usage.spans] == ["\n"]
    usage_msgstr = out.find("\nUsage: lantern [options]\nRenames photos.\n").msgstr
    assert usage_msgstr == "\nUSAGE: LANTERN [OPTIONS]\nRENAMES PHOTOS.\n"


def test_newline_next_to_a_placeholder_is_not_lost() -> None:
    text = 'msgid "Found %s\\n%d files"\nmsgstr ""\n'
    document = parse_po(text, "a.po", "hi")
    out = polib.pofile(document.render([fake(segment) for segment in document.segments]))
    assert out[0].msgstr == "FOUND %s\n%d FILES"


@pytest.mark.parametrize(("lang", "forms"), [
    ("ja", {0: "%(count)d PHOTOS WERE RENAMED."}),
    ("hi", {0: "ONE PHOTO WAS RENAMED.", 1: "%(count)d PHOTOS WERE RENAMED."}),
])
def test_plural_forms_follow_the_target_language(lang: str, forms: dict) -> None:
    out, _ = render(CATALOGUE, lang)
    assert out.find("One photo was renamed.").msgstr_plural == forms
    assert out.metadata["Plural-Forms"].startswith(f"nplurals={len(forms)};")
    assert out.metadata["Language"] == lang


def test_declared_plural_forms_are_used() -> None:
    header = '"Language: hi\\n"\n"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n==2 ? 1 : 2);\\n"'
    text = CATALOGUE.replace('"Language: \\n"', header)
    out, _ = render(text, "hi")
    forms = out.find("One photo was renamed.").msgstr_plural
    plural = "%(count)d PHOTOS WERE RENAMED."
    assert forms == {0: "ONE PHOTO WAS RENAMED.", 1: plural, 2: plural}
    assert out.metadata["Plural-Forms"].startswith("nplurals=3;")


def test_catalogue_for_another_language_is_refused() -> None:
    with pytest.raises(DataError, match=r"^app\.po:5: .*'fr'"):
        parse_po(CATALOGUE.replace('"Language: \\n"', '"Language: fr\\n"'), "app.po", "ja")


@pytest.mark.parametrize(("text", "line"), [
    ('msgid "a"\nmsgstr "b"\n\nmsgid "c"\nmsgstr[0] ""\n', 4),
    ('msgid "a"\nmsgstr "b"\nfoo\n', 3),
    ('msgid "a" "b"\nmsgstr ""\n', 1),
    ('msgid "a"\n\nmsgid "b"\nmsgstr ""\n', 3),
    ('msgid "ok"\nmsgstr ""\n\nmsgid "unterminated\nmsgstr ""\n', 4),
])
def test_malformed_catalogues_name_the_line(text: str, line: int) -> None:
    with pytest.raises(DataError, match=rf"^bad\.po:{line}: .*fix the file"):
        parse_po(text, "bad.po", "ja")


def test_fixture_catalogue() -> None:
    path = FIXTURES / "app.po"
    if not path.exists():
        pytest.skip("fixture corpus not written yet")
    text = path.read_text(encoding="utf-8")
    for lang in ("ja", "hi"):
        out, document = render(text, lang)
        assert structure(out) == structure(polib.pofile(text))
        kept = [e for e in out if e.msgstr == "フォルダーを開く"]
        assert len(kept) == 1 and "fuzzy" not in kept[0].flags
        live = [e for e in out if not e.obsolete and e is not kept[0]]
        assert all("fuzzy" in e.flags and (e.msgstr or e.msgstr_plural) for e in live)
        assert document.repaired_placeholders == 0


PLACEHOLDERS = ["%s", "%d", "%5.2f", "%%", "%(name)s", "%1$s", "{name}", "{0}", "{}"]
WORDS = ["Hello", "world.", "Ça", "va?", "日本語", "नमस्ते", '"quoted"', "back\\slash", "tab\there", "x" * 90]
SPACES = [" ", "  ", "\n", "\n\n", " \n"]
LITERALS = re.compile("|".join(re.escape(p) for p in sorted(PLACEHOLDERS, key=len, reverse=True)))
MSGIDS = st.lists(st.sampled_from(PLACEHOLDERS + WORDS + SPACES), max_size=14).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(st.tuples(MSGIDS, st.one_of(st.none(), MSGIDS), st.booleans()), min_size=1, max_size=6),
       lang=st.sampled_from(["ja", "hi"]), mode=st.sampled_from([{}, {"reverse": True}, {"joiner": ""}]),
       retranslate=st.booleans())
def test_fuzz_round_trip(entries: list[tuple], lang: str, mode: dict, retranslate: bool) -> None:
    catalogue = polib.POFile()
    catalogue.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    for index, (msgid, plural, done) in enumerate(entries):
        entry = polib.POEntry(msgctxt=f"c{index}", msgid=msgid, msgstr="ok" if done and not plural else "",
                              occurrences=[("app.py", str(index))], tcomment=f"note {index}")
        if plural:
            entry.msgid_plural, entry.msgstr_plural = plural, {0: "ok" if done else "", 1: "ok" if done else ""}
        catalogue.append(entry)
    source = str(catalogue)
    document = parse_po(source, "fuzz.po", lang, retranslate=retranslate)
    out = polib.pofile(document.render([fake(segment, **mode) for segment in document.segments]))
    assert structure(out) == structure(polib.pofile(source))
    nplurals = 1 if lang == "ja" else 2
    for before, after in zip(polib.pofile(source), out):
        if before.msgid_plural:
            sources = [before.msgid_plural] if nplurals == 1 else [before.msgid, before.msgid_plural]
            targets = [after.msgstr_plural[k] for k in range(nplurals)]
        else:
            sources, targets = [before.msgid], [after.msgstr]
        for msgid, msgstr in zip(sources, targets):
            if not msgid.strip() or (before.translated() and not retranslate):
                continue
            assert "fuzzy" in after.flags
            assert Counter(LITERALS.findall(msgstr)) == Counter(LITERALS.findall(msgid))
            assert msgstr.startswith(msgid[:len(msgid) - len(msgid.lstrip())])
            assert msgstr.endswith(msgid[len(msgid.rstrip()):])
            assert msgstr.strip()


def test_placeholders_reordered_by_the_real_placement() -> None:
    """With inline.place and an alignment, each placeholder goes to the words it was aligned with."""
    import numpy as np

    from translate_cli.core.alignment import Alignment, word_spans
    from translate_cli.core.documents.inline import place

    document = parse_po('#, c-format\nmsgid "Renamed %1$s to %2$s."\nmsgstr ""\n', "a.po", "hi")
    segment = document.segments[0]
    translation = "%2$s में %1$s का नाम बदला गया।"
    links = ["%2$s.", "to", "%1$s", "to", "Renamed", "Renamed", "Renamed"]
    source_words = segment.text.split()
    target = word_spans(translation)
    weights = np.zeros((len(target), len(source_words)))
    for row, word in enumerate(links):
        weights[row, source_words.index(word)] = 1.0
    placed = place(segment, translation, Alignment(word_spans(segment.text), target, weights), spaced=True)
    out = polib.pofile(document.render([placed]))
    assert out[0].msgstr == translation and document.repaired_placeholders == 0
