"""tcli translate: a file or stdin in, a file or stdout out, exactly one output line per input line."""

from __future__ import annotations

import functools
import io
import json
import os
import sys
from pathlib import Path
from typing import Iterable, Iterator, TextIO

from translate_cli import console
from translate_cli.core import columns, stream, textio
from translate_cli.core.ct2_backend import choose_backend
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.translator import Translation, TranslationStats, Translator, load_for_translation
from translate_cli.errors import TcliError

CHUNK_LINES = 2000  # lines read, sorted and translated together; bounds memory on endless input


def run(model_dir: Path, *, input_path: Path | None = None, output_path: Path | None = None, lang: str | None = None,
        decode: dict | None = None, nbest: int = 1, nbest_format: str = "tsv", on_bad_utf8: str = "error",
        backend: str = "auto", quantize: str = "none", threads: int | None = None, tsv_column: int | None = None,
        jsonl_field: str | None = None, on_bad_row: str = "error") -> TranslationStats:
    """`decode` holds command-line decoding settings (None = the model's default)."""
    layout = _layout(tsv_column, jsonl_field, nbest)
    if output_path is not None:
        textio.check_output_path(output_path)
    if layout is not None and input_path is not None and on_bad_row == "error":  # fail before loading the model
        columns.check_rows(textio.iter_file(input_path, on_bad_utf8, allow_empty=True, allow_nul=True), layout,
                           str(input_path))
    choice = choose_backend(model_dir, backend, quantize)
    if choice.note:
        console.warn(choice.note)
    loaded = load_for_translation(choice.folder, choice.backend, quantize, threads)
    options = loaded.info.decode.updated(nbest=nbest, **(decode or {}))
    translator = Translator(loaded, lang)
    read_stats = textio.ReadStats()
    batches = _input_batches(input_path, on_bad_utf8, read_stats)
    job = Job(translator, options, nbest_format if nbest > 1 else None, layout, on_bad_row,
              str(input_path or "<stdin>"))
    if output_path is None:
        write_stream(job.outputs(batches), sys.stdout)
    else:  # a temporary file renamed into place at the end: no half-written output on failure
        textio.write_lines_atomically(output_path, (line for chunk in job.outputs(batches) for line in chunk))
    _report(job, read_stats, output_path)
    return job.stats


def _layout(tsv_column: int | None, jsonl_field: str | None, nbest: int) -> columns.RowLayout | None:
    if tsv_column is not None and jsonl_field is not None:
        raise TcliError("--tsv-column and --jsonl-field both choose the text to translate; give one of them")
    layout = columns.TsvColumn(tsv_column) if tsv_column is not None else (
        columns.JsonlField(jsonl_field) if jsonl_field is not None else None)
    if layout is not None and nbest > 1:
        raise TcliError(f"--nbest writes its own rows and cannot fill {layout.option}; use one or the other")
    return layout


def _input_batches(input_path: Path | None, on_bad_utf8: str, read_stats: textio.ReadStats) -> Iterator[list[str]]:
    """A file in batches of CHUNK_LINES; a terminal line by line; a pipe in batches of whatever has arrived."""
    if input_path is not None:
        lines = textio.iter_file(input_path, on_bad_utf8, read_stats, allow_empty=True, allow_nul=True)
        return stream.batched(lines, CHUNK_LINES)
    if sys.stdin.isatty():
        return stream.batched(textio.iter_stream(sys.stdin.buffer, "<stdin>", on_bad_utf8, read_stats, allow_nul=True), 1)
    try:  # os.read on the descriptor: a reader thread blocked in it holds no lock of Python's stdin object
        read = functools.partial(os.read, sys.stdin.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # an in-memory stdin (tests)
        read = sys.stdin.buffer.read1
    return stream.line_batches(read, "<stdin>", CHUNK_LINES, on_bad_utf8, read_stats, allow_nul=True)


class Job:
    """One translate run's settings and counts; turns batches of input lines into batches of output lines."""

    def __init__(self, translator: Translator, options: DecodeOptions, nbest_format: str | None = None,
                 layout: columns.RowLayout | None = None, on_bad_row: str = "error", where: str = "<stdin>"):
        self.translator, self.options, self.nbest_format = translator, options, nbest_format
        self.layout, self.on_bad_row, self.where = layout, on_bad_row, where
        self.stats, self.row_stats = TranslationStats(), columns.RowStats()

    def outputs(self, batches: Iterable[list[str]]) -> Iterator[list[str]]:
        number = 0
        for batch in batches:
            if self.layout is not None:
                yield columns.translate_rows(batch, number + 1, self.layout, self._texts, self.on_bad_row,
                                             self.row_stats, self.where)
            else:
                translations = self.translator.translate(batch, self.options, self.stats)
                yield [format_line(t, self.nbest_format, number + i) for i, t in enumerate(translations, 1)]
            number += len(batch)

    def _texts(self, texts: list[str]) -> list[str]:
        return [t.text for t in self.translator.translate(texts, self.options, self.stats)]


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


def translate_stream(translator: Translator, lines: Iterable[str], sink: TextIO, options: DecodeOptions,
                     nbest_format: str | None = None, chunk_lines: int = CHUNK_LINES) -> TranslationStats:
    """Lines in batches of chunk_lines to `sink` (the library form of `tcli translate` on a file)."""
    job = Job(translator, options, nbest_format)
    write_stream(job.outputs(stream.batched(lines, chunk_lines)), sink)
    return job.stats


def _report(job: Job, read_stats: textio.ReadStats, output_path: Path | None) -> None:
    stats, rows, target = job.stats, job.row_stats, output_path or "stdout"
    if job.layout is None:
        message = f"translated {stats.lines:,} lines ({stats.empty:,} empty) to {target}"
    else:
        message = f"translated {job.layout.option} of {rows.rows:,} rows ({rows.empty:,} empty) to {target}"
    if stats.sentence_lines:
        message += (f"; {stats.sentence_lines:,} lines held several sentences ({stats.sentences_in_them:,} in all), "
                    f"translated one by one and joined")
    if stats.cut_lines:
        message += f"; {stats.cut_lines:,} lines longer than the model's limit were cut and joined"
    console.info(message)
    if rows.bad:
        where = ", ".join(map(str, rows.bad_lines)) + (", ..." if rows.bad > len(rows.bad_lines) else "")
        console.warn(f"{rows.bad:,} bad rows copied through untranslated (lines {where}); first: {rows.first_problem}")
    if job.nbest_format and stats.joined_lines:
        console.warn(f"{stats.joined_lines:,} lines were translated in several pieces (sentences or cuts) and have one "
                     f"n-best row each, the pieces' best joined; --split none gives whole-line alternatives")
    if read_stats.nul_lines:
        console.warn(f"{read_stats.nul_lines:,} input lines held NUL bytes, translated as spaces")
    if read_stats.replaced_lines:
        console.warn(f"{read_stats.replaced_lines:,} input lines had invalid UTF-8 bytes replaced by U+FFFD")
