"""Translating text that comes as lines (a file or stdin): exactly one output line (or n-best rows) for every
input line, in order; with a row layout (TSV column, JSONL field) only the chosen text of each row.

The input arrives in batches (core/documents/stream.py): a file 2,000 lines at a time, a terminal line by
line, a pipe as its lines arrive. Each batch is translated and handed on before the next one is read.
"""

from __future__ import annotations

import functools
import io
import json
import os
import sys
from pathlib import Path
from typing import Iterable, Iterator, TextIO

from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.documents import columns, stream
from translate_cli.core.documents.glossary import Glossary, translate_lines
from translate_cli.core.documents.options import LineOptions
from translate_cli.core.files import ReadStats, iter_file, iter_stream
from translate_cli.core.translator import Translation, TranslationStats, Translator
from translate_cli.errors import TcliError

CHUNK_LINES = 2000  # lines read, sorted and translated together; bounds memory on endless input


def row_layout(options: LineOptions) -> columns.RowLayout | None:
    """The row layout the options ask for, if any (contradictions are a one-line error)."""
    if options.glossary is not None and options.nbest > 1:
        raise TcliError("--glossary rewrites the best translation only; drop --nbest or --glossary")
    if options.tsv_column is not None and options.jsonl_field is not None:
        raise TcliError("--tsv-column and --jsonl-field both choose the text to translate; give one of them")
    layout = columns.TsvColumn(options.tsv_column) if options.tsv_column is not None else (
        columns.JsonlField(options.jsonl_field) if options.jsonl_field is not None else None)
    if layout is not None and options.nbest > 1:
        raise TcliError(f"--nbest writes its own rows and cannot fill {layout.option}; use one or the other")
    return layout


def input_batches(input_path: Path | None, on_bad_utf8: str, read_stats: ReadStats) -> Iterator[list[str]]:
    """A file in batches of CHUNK_LINES; a terminal line by line; a pipe in batches of whatever has arrived."""
    if input_path is not None:
        lines = iter_file(input_path, on_bad_utf8, read_stats, allow_empty=True, allow_nul=True)
        return stream.batched(lines, CHUNK_LINES)
    if sys.stdin.isatty():
        return stream.batched(iter_stream(sys.stdin.buffer, "<stdin>", on_bad_utf8, read_stats, allow_nul=True), 1)
    try:  # os.read on the descriptor: a reader thread blocked in it holds no lock of Python's stdin object
        read = functools.partial(os.read, sys.stdin.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # an in-memory stdin (tests)
        read = sys.stdin.buffer.read1
    return stream.line_batches(read, "<stdin>", CHUNK_LINES, on_bad_utf8, read_stats, allow_nul=True)


class LineTranslation:
    """One run over lines: its settings and counts; turns batches of input lines into batches of output lines."""

    def __init__(self, translator: Translator, decode: DecodeOptions, options: LineOptions = LineOptions(),
                 where: str = "<stdin>", glossary: Glossary | None = None):
        self.translator, self.decode, self.options, self.where = translator, decode, options, where
        self.glossary, self.terms = glossary, 0
        self.layout = row_layout(options)
        self.nbest_format = options.nbest_format if options.nbest > 1 else None
        self.stats, self.row_stats = TranslationStats(), columns.RowStats()

    def outputs(self, batches: Iterable[list[str]]) -> Iterator[list[str]]:
        number = 0
        for batch in batches:
            if self.layout is not None:
                yield columns.translate_rows(batch, number + 1, self.layout, self._texts, self.options.on_bad_row,
                                             self.row_stats, self.where)
            elif self.glossary is not None:
                yield self._texts(batch)
            else:
                translations = self.translator.translate(batch, self.decode, self.stats)
                yield [format_line(t, self.nbest_format, number + i) for i, t in enumerate(translations, 1)]
            number += len(batch)

    def _texts(self, texts: list[str]) -> list[str]:
        if self.glossary is None:
            return [t.text for t in self.translator.translate(texts, self.decode, self.stats)]
        translations, found = translate_lines(self.translator, texts, self.decode, self.glossary, self.stats)
        self.terms += found
        return translations


def format_line(translation: Translation, nbest_format: str | None, line_number: int) -> str:
    if nbest_format is None:
        return translation.text
    alternatives = translation.alternatives or [(translation.text, translation.score)]
    if nbest_format == "jsonl":
        return json.dumps({"line": line_number, "nbest": [{"text": t, "score": round(s, 4)} for t, s in alternatives]},
                          ensure_ascii=False)
    return "\n".join(f"{line_number}\t{rank}\t{score:.4f}\t{text}" for rank, (text, score) in enumerate(alternatives, 1))


def write_stream(chunks: Iterable[list[str]], sink: TextIO) -> None:
    """Write and flush each batch's lines as soon as they are done (a pipe reader sees them at once)."""
    for chunk in chunks:
        sink.write("".join(line + "\n" for line in chunk))
        sink.flush()
