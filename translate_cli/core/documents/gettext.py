"""gettext catalogues (.po) as documents: the msgid (and msgid_plural) of every untranslated entry is a
segment; render fills msgstr (or msgstr[0..nplurals-1]), marks the entry fuzzy for a human to review,
and writes the catalogue with polib, which may re-wrap lines but keeps every entry, comment and flag.

Placeholders (%s, %5.2f, %%, %(name)s, %1$s, {name}, {0}, {}) are fixed spans: the model reads them in the
sentence, and they come back as written. Whitespace at the ends of a msgid is put back around the msgstr
(gettext checks a leading or trailing newline), and a newline inside a msgid is an anchor span, so it
lands between the translated words it was between.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import polib

from translate_cli.core.documents.segments import Placed, Segment, Span
from translate_cli.errors import DataError

# printf: %[(name)][position$][flags][width][.precision][length]conversion (no space flag: "100% free")
_PRINTF = (r"%(?:\([^()\s]*\))?(?:\d+\$)?[-+#0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|L|q|j|z|t)?"
           r"[diouxXeEfFgGaAcsprn%]")
_BRACE = r"\{\{|\}\}|\{[\w.\[\]]*(?:![rsa])?(?::[^{}\n]*)?\}"
_BRACE_FLAGS = {"python-brace-format", "csharp-format"}
_PLURAL_FORMS = {"ja": "nplurals=1; plural=0;", "zh": "nplurals=1; plural=0;", "ko": "nplurals=1; plural=0;",
                 "hi": "nplurals=2; plural=(n != 1);"}
_DEFAULT_PLURAL_FORMS = "nplurals=2; plural=(n != 1);"
_STRING_LINE = re.compile(r"\s*(?:#~\s*)?(?:#\|\s*)?(?:(?:msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+)?(\".*)$")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"\s*')


def _placeholders(flags: list[str]) -> re.Pattern[str]:
    """The placeholder syntaxes an entry's format flags allow: brace style for python-brace-format (and
    csharp-format), printf for any other format flag, both when it has none (keeping a literal is safe)."""
    formats = {flag for flag in flags if flag.endswith("-format") and not flag.startswith("no-")}
    kinds = [_PRINTF] * bool(not formats or formats - _BRACE_FLAGS)
    kinds += [_BRACE] * (not formats or bool(formats & _BRACE_FLAGS))
    return re.compile("|".join(kinds) or r"(?!)")


@dataclass
class _Job:
    """One segment's place in the catalogue: which entry and which msgstr (None: msgstr, else plural forms)."""

    entry: int
    forms: tuple[int, ...] | None
    prefix: str  # whitespace around the msgid, put back around the msgstr
    suffix: str
    source: str  # the msgid (or msgid_plural) it translates
    pattern: re.Pattern[str]
    keyword: str  # msgid or msgid_plural, to find its line


def _segment(msgid: str, pattern: re.Pattern[str], line: int) -> Segment:
    """The msgid without its outer whitespace, as one line: placeholders fixed spans, newlines anchors. An
    anchor must not touch a placeholder (it would nest in it and be dropped), so between two placeholders
    it gets a second space of its own."""
    body = msgid.strip()
    found = list(re.finditer(f"(?P<space>\\s+)|{pattern.pattern}", body))
    text, spans, position = "", [], 0
    for index, match in enumerate(found):
        text += body[position:match.start()]
        position = match.end()
        if not match.group("space"):
            spans.append(Span(len(text), len(text) + len(match.group(0)), fixed=match.group(0)))
            text += match.group(0)
            continue
        newline = Span(0, 0, open="".join(char for char in match.group(0) if char in "\r\n"))
        following = found[index + 1] if index + 1 < len(found) else None
        after_fixed = following is not None and following.start() == position and not following.group("space")
        before_fixed = bool(spans) and spans[-1].end == len(text) and spans[-1].fixed is not None
        if not newline.open:
            text += " "
        elif not after_fixed:  # before the next word
            text += " "
            spans.append(replace(newline, start=len(text), end=len(text)))
        elif not before_fixed:  # after the previous word
            spans.append(replace(newline, start=len(text), end=len(text)))
            text += " "
        else:
            text += " "
            spans.append(replace(newline, start=len(text), end=len(text)))
            text += " "
    text += body[position:]
    return Segment(text, sorted(spans, key=lambda s: (s.start, -s.end)), line)


def _repair(source: str, target: str, pattern: re.Pattern[str]) -> tuple[str, int]:
    """The target with every placeholder of the source exactly as often: extras dropped from the end,
    missing ones appended. Returns the text and how many were dropped or added."""
    want = Counter(match.group(0) for match in pattern.finditer(source))
    found = list(pattern.finditer(target))
    have = Counter(match.group(0) for match in found)
    drop, repairs = set(), 0
    for literal, count in have.items():
        extra = count - want[literal]
        if extra > 0:
            drop |= {id(m) for m in [m for m in found if m.group(0) == literal][-extra:]}
            repairs += extra
    out, position = "", 0
    for match in found:
        if id(match) in drop:
            out += target[position:match.start()]
            out = out.removesuffix(" ")  # the space that went with it
            position = match.end()
    out += target[position:]
    joiner = " " if " " in out.strip() or not out else ""
    for literal, count in want.items():
        for _ in range(count - have[literal]):
            out += joiner + literal if out else literal
            repairs += 1
    return out, repairs


def _render(placed: Placed) -> str:
    """The translation with its placeholders and newlines. Not Placed.render: that writes an anchor after a
    span starting at the same point, which would put a newline after the placeholder that should follow it."""
    out, position = [], 0
    for span in sorted(placed.spans, key=lambda s: (s.start, s.end != s.start)):
        start = max(span.start, position)
        out.append(placed.text[position:start])
        out.append(span.open + (span.fixed if span.fixed is not None else placed.text[start:span.end]) + span.close)
        position = max(start, span.end)
    return "".join(out) + placed.text[position:]


class PoDocument:
    """A catalogue, its segments, and the catalogue again with their translations filled in."""

    def __init__(self, text: str, where: str, target_lang: str, jobs: list[_Job], segments: list[Segment],
                 plural_forms: str, nplurals: int) -> None:
        self.text, self.where, self.target_lang = text, where, target_lang
        self.jobs, self.segments = jobs, segments
        self.plural_forms, self.nplurals = plural_forms, nplurals
        self.repaired_placeholders = 0  # placeholders render had to add or remove (the placement lost them)

    def _msgstr(self, job: _Job, placed: Placed) -> str:
        rendered = re.sub(r"[ \t]*(\r?\n+)[ \t]*", r"\1", _render(placed)).strip(" \t")
        body, repairs = _repair(job.source, rendered.strip(), job.pattern)
        self.repaired_placeholders += repairs
        return job.prefix + body + job.suffix

    def render(self, translations: list[Placed]) -> str:
        assert len(translations) == len(self.segments), (len(translations), len(self.segments))
        catalogue = _read(self.text, self.where)
        entries = list(catalogue)
        self.repaired_placeholders = 0
        for job, placed in zip(self.jobs, translations):
            entry = entries[job.entry]
            msgstr = self._msgstr(job, placed)
            if job.forms is None:
                entry.msgstr = msgstr
            else:
                entry.msgstr_plural.update({form: msgstr for form in job.forms})
                forms = {form: entry.msgstr_plural.get(form, "") for form in range(self.nplurals)}
                entry.msgstr_plural = forms | {k: v for k, v in entry.msgstr_plural.items() if v and k not in forms}
            if "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
        _update_header(catalogue, self.target_lang, self.plural_forms)
        return str(catalogue)


def _update_header(catalogue: polib.POFile, target_lang: str, plural_forms: str) -> None:
    """Language and Plural-Forms for the target when missing, and UTF-8 (Hindi and Japanese need it)."""
    if not catalogue.metadata.get("Language", "").strip():
        catalogue.metadata["Language"] = target_lang
    catalogue.metadata["Plural-Forms"] = plural_forms
    content_type = catalogue.metadata.get("Content-Type", "")
    if "charset=utf-8" not in content_type.lower().replace(" ", ""):
        catalogue.metadata["Content-Type"] = "text/plain; charset=UTF-8"


def _check_strings(text: str, where: str) -> None:
    """Catch what polib skips without a word (an unterminated string drops its entry)."""
    for number, line in enumerate(text.splitlines(), 1):
        found = _STRING_LINE.match(line)
        if found and not _QUOTED.fullmatch(found.group(1)):
            raise DataError(f"{where}:{number}: unterminated or broken string {line.strip()[:60]!r}; fix the file")


def _read(text: str, where: str) -> polib.POFile:
    _check_strings(text, where)
    try:  # polib reads a string that names an existing file as that file: a newline rules it out
        return polib.pofile(text if "\n" in text else text + "\n")
    except (OSError, ValueError, UnicodeError, KeyError) as error:
        found = re.search(r"\(line (\d+)\)(?::\s*(.*))?", str(error))
        detail = (found.group(2) if found and found.group(2) else "syntax error")
        line = f":{found.group(1)}" if found else ""
        raise DataError(f"{where}{line}: not a valid gettext catalogue ({detail}); fix the file") from None


def _plural_forms(catalogue: polib.POFile, target_lang: str) -> tuple[str, int]:
    """The catalogue's Plural-Forms when it has a usable one, else the target language's."""
    declared = catalogue.metadata.get("Plural-Forms", "")
    found = re.search(r"nplurals\s*=\s*(\d+)", declared)
    if found and int(found.group(1)) > 0:
        return declared, int(found.group(1))
    chosen = _PLURAL_FORMS.get(_primary(target_lang), _DEFAULT_PLURAL_FORMS)
    return chosen, int(re.search(r"nplurals=(\d+)", chosen).group(1))


def _primary(language: str) -> str:
    return re.split(r"[-_@.]", language.strip())[0].lower()


def _language_line(text: str) -> int:
    found = re.search(r'^"Language:', text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def parse_po(text: str, where: str, target_lang: str, retranslate: bool = False) -> PoDocument:
    """A catalogue as a document. Segments: the msgid of each live entry without a msgstr (every entry with
    `retranslate`), the msgid_plural too for plural entries; the header and obsolete entries are kept as
    they are. With one plural form (Japanese) msgstr[0] translates msgid_plural, so msgid is not asked for."""
    catalogue = _read(text, where)
    language = catalogue.metadata.get("Language", "").strip()
    if language and _primary(language) != _primary(target_lang):
        raise DataError(f"{where}:{_language_line(text)}: the catalogue is for '{language}', not '{target_lang}'; "
                        f"translate a catalogue for {target_lang} or its .pot template")
    plural_forms, nplurals = _plural_forms(catalogue, target_lang)
    jobs: list[_Job] = []
    for index, entry in enumerate(catalogue):
        if entry.obsolete:
            continue
        pattern = _placeholders(entry.flags)
        if entry.msgstr_plural and not entry.msgid_plural:
            raise DataError(f"{where}:{_keyword_line(text.splitlines(), entry.linenum or 1, 'msgid')}: msgstr[0] "
                            "without a msgid_plural; fix the file")
        if not entry.msgid_plural:
            if entry.msgid.strip() and (retranslate or not entry.msgstr):
                jobs.append(_job(index, None, entry.msgid, pattern, "msgid"))
            continue
        todo = [form for form in range(nplurals) if retranslate or not entry.msgstr_plural.get(form)]
        singular = tuple(form for form in todo if form == 0 and nplurals > 1)
        plural = tuple(form for form in todo if form not in singular)
        if singular and entry.msgid.strip():
            jobs.append(_job(index, singular, entry.msgid, pattern, "msgid"))
        if plural and entry.msgid_plural.strip():
            jobs.append(_job(index, plural, entry.msgid_plural, pattern, "msgid_plural"))
    starts = [entry.linenum or 1 for entry in catalogue]
    file_lines = text.splitlines()
    segments = [_segment(job.source, job.pattern, _keyword_line(file_lines, starts[job.entry], job.keyword))
                for job in jobs]
    return PoDocument(text, where, target_lang, jobs, segments, plural_forms, nplurals)


def _job(index: int, forms: tuple[int, ...] | None, source: str, pattern: re.Pattern[str], keyword: str) -> _Job:
    return _Job(index, forms, source[:len(source) - len(source.lstrip())], source[len(source.rstrip()):], source,
                pattern, keyword)


def _keyword_line(lines: list[str], start: int, keyword: str) -> int:
    """The line (from 1) of the entry's msgid or msgid_plural keyword, searched from where the entry starts."""
    for number in range(max(start, 1), len(lines) + 1):
        if re.match(rf"\s*(?:#~\s*)?{keyword}\s", lines[number - 1]):
            return number
    return start
