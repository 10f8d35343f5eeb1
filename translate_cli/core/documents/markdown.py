"""Markdown (CommonMark with GFM tables and strikethrough, YAML front matter): prose translated, everything else
kept byte for byte.

markdown-it-py finds the blocks and their lines; every block with inline content (a paragraph, a heading,
a table cell) is one segment. Its inline markup comes from markdown-it-py's own inline parser, run with
each rule's source range recorded, so emphasis, links, images and raw HTML become spans around their words
and code spans, autolinks and hard breaks keep their exact source. Code blocks, HTML blocks, front matter,
reference definitions and the list, quote and table syntax around the prose are never touched. A block's
translation is written on its first line (soft line breaks become spaces; a hard break keeps its line and
the next line's container prefix, such as "> ").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.helpers import parseLinkLabel
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from translate_cli.core.documents.segments import Placed, Segment, Span

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_ENTITY_LIKE = re.compile(r"&(?=#?\w+;)")
_BLOCK_START = re.compile(r"^([#>+=-]|\d+[.)])(\s|$)")
_OPEN_TAG = re.compile(r"^<([A-Za-z][\w-]*)(\s[^>]*)?>$")
_CLOSE_TAG = re.compile(r"^</([A-Za-z][\w-]*)\s*>$")
_LETTER = re.compile(r"[^\W\d_]")
_RECORDED = ("link", "image", "backticks", "autolink", "newline", "escape", "html_inline")


def parser() -> MarkdownIt:
    """The CommonMark parser with tables, strikethrough and front matter, and no merging of escaped
    characters into text (their source must stay visible); each inline rule records its source range."""
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(front_matter_plugin)
    md.disable("text_join")
    for rule in md.inline.ruler.__rules__:
        if rule.name in _RECORDED:
            rule.fn = _recording(rule.name, rule.fn)
    md.inline.ruler.__cache__ = None
    return md


def _recording(name: str, rule):
    def recorded(state, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        found = rule(state, silent)
        if found and not silent:
            end = state.pos
            label = {"link": lambda: parseLinkLabel(state, start), "image": lambda: parseLinkLabel(state, start + 1)}
            label_end = label[name]() if name in label else -1
            for token in state.tokens[count:]:
                if "source" not in token.meta:
                    token.meta["source"] = (start, end, label_end)
        return found
    return recorded


def escape(text: str) -> str:
    """Translated prose made literal in Markdown: markup characters backslash-escaped."""
    return _ENTITY_LIKE.sub(r"\\&", _SPECIAL.sub(r"\\\1", text))


def inline_segment(md: MarkdownIt, raw: str, line: int, next_prefixes: list[str], spaced: bool,
                   env: dict | None = None) -> Segment:
    """The prose of a block's raw inline source, with its markup as spans. `next_prefixes[k]`: what
    precedes the (k+2)-th source line of the block (written after a hard break's newline)."""
    tokens = md.parseInline(raw, env if env is not None else {})[0].children or []
    text: list[str] = []
    spans: list[Span] = []
    stack: list[tuple] = []  # open emphasis and links
    tags: list[tuple] = []  # open inline HTML tags
    newlines = 0

    def position() -> int:
        return sum(map(len, text))

    for token in tokens:
        start, end, label_end = token.meta.get("source", (0, 0, -1))
        source = raw[start:end]
        if token.type in ("text", "text_special"):
            text.append(token.content)
        elif token.type == "softbreak":
            text.append(" ")
            newlines += 1
        elif token.type == "hardbreak":
            while start > 0 and raw[start - 1] == " ":  # the spaces that make it a hard break
                start -= 1
            prefix = next_prefixes[newlines] if newlines < len(next_prefixes) else ""
            spans.append(Span(position(), position(), open=raw[start:end].replace("\n", "\n" + prefix)))
            text.append(" ")  # the break separates words for the model
            newlines += 1
        elif token.type == "code_inline":
            text.append(token.content)
            spans.append(Span(position() - len(token.content), position(), fixed=source))
        elif token.type == "html_inline":
            _html_inline(token.content, position(), spans, tags)
        elif token.type == "image":
            alt = token.content
            text.append(alt)
            spans.append(Span(position() - len(alt), position(), open=source[:2], close=source[label_end - start:]))
        elif token.type == "link_open" and token.markup == "autolink":
            stack.append(("autolink", position(), source))
        elif token.type == "link_close" and stack and stack[-1][0] == "autolink":
            _, begin, literal = stack.pop()
            spans.append(Span(begin, position(), fixed=literal))
        elif token.type.endswith("_open"):
            if token.type == "link_open":  # "[" ... "](destination)" or "][label]"
                stack.append((token.type, position(), source[:1], source[label_end - start:]))
            else:
                stack.append((token.type, position(), _marker(token.markup, spaced), _marker(token.markup, spaced)))
        elif token.type.endswith("_close") and stack:
            _, begin, opener, closer = stack.pop()
            spans.append(Span(begin, position(), open=opener, close=closer))
    for _, at, tag, _ in tags:  # unclosed inline HTML: anchors where they stood
        spans.append(Span(at, at, open=tag))
    return Segment("".join(text), spans, line)


def _marker(markup: str, spaced: bool) -> str:
    """Emphasis markers; `_` cannot close inside a word, so targets without spaces get `*`."""
    return markup if spaced else markup.replace("_", "*")


def _html_inline(tag: str, at: int, spans: list[Span], stack: list) -> None:
    """An opening tag waits for its closing tag (a span); anything else is an anchor."""
    if _OPEN_TAG.match(tag) and not tag.endswith("/>"):
        stack.append(("html", at, tag, _OPEN_TAG.match(tag).group(1)))
        return
    closing = _CLOSE_TAG.match(tag)
    if closing and stack and stack[-1][0] == "html" and stack[-1][3] == closing.group(1):
        _, begin, opener, _ = stack.pop()
        spans.append(Span(begin, at, open=opener, close=tag))
        return
    spans.append(Span(at, at, open=tag))


@dataclass
class _Region:
    """Where a segment's source sits: line `first` from column `start` to line `last`, column `end`."""

    first: int
    start: int
    last: int
    end: int


class MarkdownDocument:
    def __init__(self, text: str, spaced: bool = True):
        self.lines = text.split("\n")
        self.segments: list[Segment] = []
        self.regions: list[_Region] = []
        md = parser()
        env: dict = {}  # the reference definitions, for reference links
        tokens = md.parse(text, env)
        cells = _table_cells(tokens, self.lines)
        for index, token in enumerate(tokens):
            if token.type != "inline" or token.map is None:
                continue
            found = cells.get(index) or _block_region(token, self.lines)
            if found is None:
                continue
            region, raw, prefixes = found
            segment = inline_segment(md, raw, token.map[0] + 1, prefixes, spaced, env)
            if _worth_translating(segment):
                self.segments.append(segment)
                self.regions.append(region)

    def render(self, translations: list[Placed]) -> str:
        lines = list(self.lines)
        # Bottom to top and right to left (cells of a table row share a line): a translation of another
        # length never shifts a region still to be written.
        for region, placed in sorted(zip(self.regions, translations),
                                     key=lambda pair: (-pair[0].first, -pair[0].start)):
            rendered = _flanking(placed).render(escape)
            if _BLOCK_START.match(rendered):
                rendered = "\\" + rendered
            head, tail = lines[region.first][:region.start], lines[region.last][region.end:]
            lines[region.first:region.last + 1] = [head + rendered + tail]
        return "\n".join(lines)


def _flanking(placed: Placed) -> Placed:
    """Emphasis spans without punctuation at their edges: CommonMark does not close `*word!*` before a letter
    (nor open `*「word` after one), which a translation without spaces easily produces."""
    spans = []
    for span in placed.spans:
        start, end = span.start, span.end
        if span.fixed is None and span.open and set(span.open) <= set("*_~"):
            while start < end and unicodedata.category(placed.text[start]).startswith("P"):
                start += 1
            while end > start and unicodedata.category(placed.text[end - 1]).startswith("P"):
                end -= 1
            if start == end:
                start, end = span.start, span.end
        spans.append(Span(start, end, span.open, span.close, span.fixed))
    return Placed(placed.text, spans)


def _worth_translating(segment: Segment) -> bool:
    """Prose with a letter outside its fixed spans (a cell holding a number or only code stays)."""
    covered = set()
    for span in segment.spans:
        if span.fixed is not None:
            covered.update(range(span.start, span.end))
    return any(_LETTER.match(char) for i, char in enumerate(segment.text) if i not in covered)


def _block_region(token: Token, lines: list[str]) -> tuple[_Region, str, list[str]] | None:
    """A paragraph's or heading's content lines located in the source lines (each is the end of its line,
    after the container prefix; the last may be followed by spaces or a heading's closing #s)."""
    content = token.content.split("\n")
    first = token.map[0]
    starts = []
    for offset, part in enumerate(content):
        line = lines[first + offset]
        at = line.rfind(part) if part else len(line.rstrip())
        if at < 0:
            return None
        starts.append(at)
    last = first + len(content) - 1
    region = _Region(first, starts[0], last, starts[-1] + len(content[-1]))
    raw = "\n".join(content)
    prefixes = [lines[first + k][:starts[k]] for k in range(1, len(content))]
    return region, raw, prefixes


def _table_cells(tokens: list[Token], lines: list[str]) -> dict[int, tuple[_Region, str, list[str]]]:
    """Each table cell's inline token index -> its raw text in the row's line (split at unescaped pipes)."""
    found: dict[int, tuple[_Region, str, list[str]]] = {}
    row_cells: list[tuple[int, int]] = []
    cell = 0
    for index, token in enumerate(tokens):
        if token.type == "tr_open":
            row_cells, cell = _cells(lines[token.map[0]]), 0
            row_line = token.map[0]
        elif token.type == "inline" and index > 0 and tokens[index - 1].type in ("th_open", "td_open"):
            if cell < len(row_cells):
                start, end = row_cells[cell]
                raw = lines[row_line][start:end]
                found[index] = (_Region(row_line, start, row_line, end), raw, [])
            cell += 1
    return found


def _cells(line: str) -> list[tuple[int, int]]:
    """Column ranges of a table row's cells, trimmed (pipes escaped with a backslash or inside code spans
    do not split)."""
    bounds, start, ticks, position = [], 0, 0, 0
    while position < len(line):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char == "`":
            ticks ^= 1
        elif char == "|" and not ticks:
            bounds.append((start, position))
            start = position + 1
        position += 1
    bounds.append((start, len(line)))
    if bounds and not line[bounds[0][0]:bounds[0][1]].strip() and line.lstrip().startswith("|"):
        bounds = bounds[1:]
    if bounds and not line[bounds[-1][0]:bounds[-1][1]].strip() and line.rstrip().endswith("|"):
        bounds = bounds[:-1]
    trimmed = []
    for begin, end in bounds:
        while begin < end and line[begin].isspace():
            begin += 1
        while end > begin and line[end - 1].isspace():
            end -= 1
        trimmed.append((begin, end))
    return trimmed


def structure(text: str) -> list[tuple]:
    """The Markdown's structure without its prose: every block token's type, tag, nesting, markup and info,
    the text of code, HTML and front matter, and each inline content's markup (links with their targets,
    emphasis, code spans, images, breaks) as a sorted list, since a translation may reorder words and the
    markup around them. Translating must leave it unchanged."""
    shape: list[tuple] = []
    for token in parser().parse(text, {}):
        keep = token.content if token.type in ("fence", "code_block", "html_block", "front_matter") else ""
        shape.append((token.type, token.tag, token.nesting, token.markup.replace("_", "*"), token.info, keep))
        inline = []
        for child in token.children or []:
            if child.type in ("text", "text_special", "softbreak"):
                continue
            attrs = sorted((k, str(v)) for k, v in (child.attrs or {}).items() if k != "alt")
            inline.append((child.type, child.tag, child.nesting, child.markup.replace("_", "*"), str(attrs),
                           child.content if child.type in ("code_inline", "html_inline") else ""))
        if inline:
            shape.append(tuple(sorted(inline)))
    return shape
