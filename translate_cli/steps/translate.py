"""tcli translate: a file or stdin in, a file or stdout out, exactly one output line per input line."""

from __future__ import annotations

import sys
from pathlib import Path

from translate_cli import console
from translate_cli.core.checkpoint import read_info
from translate_cli.core.ct2.backend import choose_backend, load_for_translation
from translate_cli.core.decoding import DecodeOverrides
from translate_cli.core.documents.columns import check_rows
from translate_cli.core.documents.formats import notes, parse, read_document, translate_document
from translate_cli.core.documents.glossary import Glossary
from translate_cli.core.documents.lines import LineTranslation, input_batches, row_layout, write_stream
from translate_cli.core.documents.options import LineOptions, resolve_format
from translate_cli.core.files import (
    ReadStats,
    check_output_path,
    iter_file,
    write_lines_atomically,
    write_text_atomically,
)
from translate_cli.core.sentences import joiner
from translate_cli.core.translator import TranslationStats, Translator, resolve_lang
from translate_cli.errors import TcliError


def run(model_dir: Path, *, input_path: Path | None = None, output_path: Path | None = None, lang: str | None = None,
        decode: DecodeOverrides = DecodeOverrides(), lines: LineOptions = LineOptions(), backend: str = "auto",
        quantize: str = "none", threads: int | None = None) -> TranslationStats:
    """`decode` holds command-line decoding settings (None = the model's default)."""
    layout = row_layout(lines)
    if output_path is not None:
        check_output_path(output_path)
    glossary = Glossary.read(lines.glossary) if lines.glossary is not None else None
    format = resolve_format(lines.format, input_path)
    if format != "text":
        return _translate_document(model_dir, format, input_path, output_path, lang, decode, lines, backend,
                                   quantize, threads, glossary)
    if layout is not None and input_path is not None and lines.on_bad_row == "error":  # fail before loading the model
        check_rows(iter_file(input_path, lines.on_bad_utf8, allow_empty=True, allow_nul=True), layout, str(input_path))
    choice = choose_backend(model_dir, backend, quantize)
    if choice.note:
        console.warn(choice.note)
    loaded = load_for_translation(choice, quantize, threads)
    options = loaded.info.decode.updated(decode, nbest=lines.nbest)
    read_stats = ReadStats()
    job = LineTranslation(Translator(loaded, lang), options, lines, str(input_path or "<stdin>"), glossary)
    outputs = job.outputs(input_batches(input_path, lines.on_bad_utf8, read_stats))
    if output_path is None:
        write_stream(outputs, sys.stdout)
    else:  # a temporary file renamed into place at the end: no half-written output on failure
        write_lines_atomically(output_path, (line for chunk in outputs for line in chunk))
    _report(job, read_stats, output_path)
    return job.stats


def _translate_document(model_dir: Path, format: str, input_path: Path | None, output_path: Path | None,
                        lang: str | None, decode: DecodeOverrides, lines: LineOptions, backend: str, quantize: str,
                        threads: int | None, glossary: Glossary | None) -> TranslationStats:
    """A whole Markdown, HTML, subtitle or PO file: parsed (and refused if malformed) before the model loads."""
    if lines.tsv_column is not None or lines.jsonl_field is not None or lines.nbest > 1:
        raise TcliError(f"--format {format} translates a whole document; --tsv-column, --jsonl-field and --nbest "
                        f"apply to --format text")
    where = str(input_path or "<stdin>")
    text, crlf = read_document(input_path, None if input_path is not None else sys.stdin.buffer.read())
    choice = choose_backend(model_dir, backend, quantize)
    target = resolve_lang(read_info(choice.folder), lang, choice.folder)
    document = parse(text, format, where, target, joiner(target) == " ", lines.retranslate)
    if choice.note:
        console.warn(choice.note)
    loaded = load_for_translation(choice, quantize, threads)
    translator = Translator(loaded, target)
    output, stats = translate_document(document, format, translator, loaded.info.decode.updated(decode), glossary)
    output = output.replace("\n", "\r\n") if crlf else output
    if output_path is None:
        sys.stdout.write(output)
        sys.stdout.flush()
    else:
        write_text_atomically(output_path, [output])
    message = (f"translated {stats.segments:,} {format} segments of {where} ({stats.spans:,} inline spans) to "
               f"{output_path or 'stdout'}")
    console.info(message + (f"; {stats.terms:,} glossary terms" if glossary is not None else ""))
    for note in notes(document):
        console.warn(note)
    return stats.translation


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
    if job.glossary is not None:
        message += f"; {job.terms:,} glossary terms"
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
