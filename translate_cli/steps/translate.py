"""tcli translate: a file or stdin in, a file or stdout out, exactly one output line per input line."""

from __future__ import annotations

import sys
from pathlib import Path

from translate_cli import console
from translate_cli.core.ct2.backend import choose_backend, load_for_translation
from translate_cli.core.decoding import DecodeOverrides
from translate_cli.core.documents.columns import check_rows
from translate_cli.core.documents.lines import LineTranslation, input_batches, row_layout, write_stream
from translate_cli.core.documents.options import LineOptions
from translate_cli.core.files import ReadStats, check_output_path, iter_file, write_lines_atomically
from translate_cli.core.translator import TranslationStats, Translator


def run(model_dir: Path, *, input_path: Path | None = None, output_path: Path | None = None, lang: str | None = None,
        decode: DecodeOverrides = DecodeOverrides(), lines: LineOptions = LineOptions(), backend: str = "auto",
        quantize: str = "none", threads: int | None = None) -> TranslationStats:
    """`decode` holds command-line decoding settings (None = the model's default)."""
    layout = row_layout(lines)
    if output_path is not None:
        check_output_path(output_path)
    if layout is not None and input_path is not None and lines.on_bad_row == "error":  # fail before loading the model
        check_rows(iter_file(input_path, lines.on_bad_utf8, allow_empty=True, allow_nul=True), layout, str(input_path))
    choice = choose_backend(model_dir, backend, quantize)
    if choice.note:
        console.warn(choice.note)
    loaded = load_for_translation(choice, quantize, threads)
    options = loaded.info.decode.updated(decode, nbest=lines.nbest)
    read_stats = ReadStats()
    job = LineTranslation(Translator(loaded, lang), options, lines, str(input_path or "<stdin>"))
    outputs = job.outputs(input_batches(input_path, lines.on_bad_utf8, read_stats))
    if output_path is None:
        write_stream(outputs, sys.stdout)
    else:  # a temporary file renamed into place at the end: no half-written output on failure
        write_lines_atomically(output_path, (line for chunk in outputs for line in chunk))
    _report(job, read_stats, output_path)
    return job.stats


def _report(job: LineTranslation, read_stats: ReadStats, output_path: Path | None) -> None:
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
