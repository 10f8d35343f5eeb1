"""WebVTT subtitles as documents (the cue logic shared with SRT is core/documents/subtitles.py).

WebVTT is split into blocks here, because webvtt-py rewrites what it does not model (blank lines, NOTE
placement, short timestamps); only the payload lines of translated cues change, and webvtt-py checks that
the input and the output read as the same cues.
"""

from __future__ import annotations

import re

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from translate_cli.core.documents.segments import Placed
from translate_cli.core.documents.subtitles import _Cue, _cue, _Subtitles
from translate_cli.errors import DataError

_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_TIMESTAMP = r"(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}"
_TIMINGS = re.compile(rf"\s*({_TIMESTAMP})\s*-->\s*({_TIMESTAMP})(?=\s|$)")


class VttDocument(_Subtitles):
    def __init__(self, lines: list[str], blocks: list[tuple[int, int]], cues: list[_Cue], where: str) -> None:
        super().__init__(cues, where, entities=True)
        self.lines, self.blocks = lines, blocks  # file lines as written; per cue: its timing line, its end
        self.captions = _read_vtt("".join(lines), where)

    def render(self, translations: list[Placed]) -> str:
        out = list(self.lines)
        for (timing, stop), body in reversed(list(zip(self.blocks, self._bodies(translations)))):
            if body is None:
                continue
            ends = [line[len(line.rstrip("\r\n")):] for line in out[timing + 1:stop]]
            eol = next((end for end in ends if end), "\n")
            out[timing + 1:stop] = [line + (eol if k < len(body) - 1 else ends[-1]) for k, line in enumerate(body)]
        text = "".join(out)
        if [_cue_key(c) for c in _read_vtt(text, self.where)] != [_cue_key(c) for c in self.captions]:
            raise DataError(f"{self.where}: the translated subtitles do not read back as the same cues; report this")
        return text


def _cue_key(caption: webvtt.Caption) -> tuple:
    return caption.start, caption.end, caption.identifier, str(caption.settings)


def _read_vtt(text: str, where: str) -> list[webvtt.Caption]:
    try:
        return webvtt.WebVTT.from_string(text).captions
    except (MalformedFileError, MalformedCaptionError) as error:
        raise DataError(f"{where}:1: not WebVTT ({error}): the first line must start with WEBVTT; "
                        "fix the file") from None


def _blocks(bare: list[str]) -> list[tuple[int, int]]:
    """Line ranges of the blocks, by WebVTT's rules: an empty line ends one; a line with "-->" that cannot
    be the timing line of the current block starts the next."""
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(bare):
        if not line or (start is not None and "-->" in line and (not blocks or i - start > 1 or "-->" in bare[start])):
            if start is not None:
                blocks.append((start, i))
            start = None
        if line and start is None:
            start = i
    return blocks + ([(start, len(bare))] if start is not None else [])


def _timing_row(block: list[str]) -> int | None:
    """Which line of a block is its cue timing line (0, or 1 after an identifier), as webvtt-py decides."""
    if _TIMINGS.match(block[0]) and (len(block) < 2 or "-->" not in block[1]):
        return 0
    if len(block) > 1 and "-->" not in block[0] and _TIMINGS.match(block[1]):
        return 1 if len(block) < 3 or "-->" not in block[2] else None
    return None


def parse_vtt(text: str, where: str) -> VttDocument:
    """A WebVTT file as a document; every byte outside translated cue text is written back unchanged."""
    lines = _LINES.findall(text)
    bare = [line.rstrip("\r\n") for line in lines]
    if not bare or not bare[0].removeprefix("\ufeff").startswith("WEBVTT"):
        raise DataError(f"{where}:1: not a WebVTT file: the first line must start with WEBVTT; fix the file")
    blocks, cues, captions = [], [], []
    for start, stop in _blocks(bare)[1:]:
        row = _timing_row(bare[start:stop])
        if row is None:
            if bare[start].startswith(("NOTE", "STYLE", "REGION")) and "-->" not in "".join(bare[start:stop]):
                continue
            bad = next((i for i in range(start, stop) if "-->" in bare[i] or "->" in bare[i]), start)
            raise DataError(f"{where}:{bad + 1}: neither a cue nor a NOTE, STYLE or REGION block ({bare[bad][:50]!r}); "
                            "a cue starts with a line like 00:00:01.000 --> 00:00:02.500; fix the file")
        timing = start + row
        found = _TIMINGS.match(bare[timing])
        rest = bare[timing][found.end():]
        try:
            captions.append(webvtt.Caption(found.group(1), found.group(2), bare[timing + 1:stop],
                                           bare[start] if row else None, rest))
        except MalformedCaptionError as error:
            raise DataError(f"{where}:{timing + 1}: bad cue timing ({error}); fix the file") from None
        blocks.append((timing, stop))
        cues.append(_cue("\n".join(bare[timing + 1:stop]), timing + 2, entities=True))
    document = VttDocument(lines, blocks, cues, where)
    differ = [k for k, (mine, theirs) in enumerate(zip(captions, document.captions)) if mine != theirs]
    if differ or len(document.captions) != len(captions):
        at = f":{blocks[differ[0]][0] + 1}" if differ else ""
        raise DataError(f"{where}{at}: webvtt-py reads the cues differently ({len(document.captions)} cues, not "
                        f"{len(captions)}); check the blank lines around cues and fix the file")
    return document
