"""tcli translate: a file or stdin in, a file or stdout out, exactly one output line per input line."""

from __future__ import annotations

import json
import sys
from itertools import islice
from pathlib import Path
from typing import Iterator, TextIO

from translate_cli import console
from translate_cli.core import textio
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.translator import Translation, TranslationStats, Translator, load_for_translation

CHUNK_LINES = 2000  # lines read, sorted and translated together; bounds memory on endless input


def run(model_dir: Path, *, input_path: Path | None = None, output_path: Path | None = None, lang: str | None = None,
        decode: dict | None = None, nbest: int = 1, nbest_format: str = "tsv", on_bad_utf8: str = "error",
        backend: str = "native", quantize: str = "none", threads: int | None = None) -> TranslationStats:
    """`decode` holds command-line decoding settings (None = the model's default)."""
    if output_path is not None:
        textio.check_output_path(output_path)
    loaded = load_for_translation(model_dir, backend, quantize, threads)
    options = loaded.info.decode.updated(nbest=nbest, **(decode or {}))
    translator = Translator(loaded, lang)
    read_stats = textio.ReadStats()
    if input_path is None:
        lines = textio.iter_stream(sys.stdin.buffer, "<stdin>", on_bad_utf8, read_stats, allow_nul=True)
        chunk = 1 if sys.stdin.isatty() else CHUNK_LINES
    else:
        lines = textio.iter_file(input_path, on_bad_utf8, read_stats, allow_empty=True, allow_nul=True)
        chunk = CHUNK_LINES
    shape = nbest_format if nbest > 1 else None
    if output_path is None:
        stats = translate_stream(translator, lines, sys.stdout, options, shape, chunk)
    else:
        stats = _translate_to_file(translator, lines, output_path, options, shape)
    _report(stats, read_stats, output_path)
    return stats


def format_line(translation: Translation, nbest_format: str | None, line_number: int) -> str:
    if nbest_format is None:
        return translation.text
    alternatives = translation.alternatives or [(translation.text, translation.score)]
    if nbest_format == "jsonl":
        return json.dumps({"line": line_number, "nbest": [{"text": t, "score": round(s, 4)} for t, s in alternatives]},
                          ensure_ascii=False)
    return "\n".join(f"{line_number}\t{rank}\t{score:.4f}\t{text}" for rank, (text, score) in enumerate(alternatives, 1))


def translate_stream(translator: Translator, lines: Iterator[str], sink: TextIO, options: DecodeOptions,
                     nbest_format: str | None = None, chunk_lines: int = CHUNK_LINES) -> TranslationStats:
    """Translate chunk by chunk, writing and flushing each chunk's lines as soon as they are done."""
    stats = TranslationStats()
    for chunk in _output_chunks(translator, lines, options, nbest_format, chunk_lines, stats):
        sink.write("".join(line + "\n" for line in chunk))
        sink.flush()
    return stats


def _output_chunks(translator: Translator, lines: Iterator[str], options: DecodeOptions, nbest_format: str | None,
                   chunk_lines: int, stats: TranslationStats) -> Iterator[list[str]]:
    number = 0
    while chunk := list(islice(lines, chunk_lines)):
        output = []
        for translation in translator.translate(chunk, options, stats):
            number += 1
            output.append(format_line(translation, nbest_format, number))
        yield output


def _translate_to_file(translator: Translator, lines: Iterator[str], output_path: Path, options: DecodeOptions,
                       nbest_format: str | None) -> TranslationStats:
    """Written to a temporary file renamed into place at the end: no half-written output on failure."""
    stats = TranslationStats()
    chunks = _output_chunks(translator, lines, options, nbest_format, CHUNK_LINES, stats)
    textio.write_lines_atomically(output_path, (line for chunk in chunks for line in chunk))
    return stats


def _report(stats: TranslationStats, read_stats: textio.ReadStats, output_path: Path | None) -> None:
    target = output_path or "stdout"
    message = f"translated {stats.lines:,} lines ({stats.empty:,} empty) to {target}"
    if stats.split_lines:
        message += f"; {stats.split_lines:,} lines longer than the model's limit were split and joined"
    console.info(message)
    if read_stats.nul_lines:
        console.warn(f"{read_stats.nul_lines:,} input lines held NUL bytes, translated as spaces")
    if read_stats.replaced_lines:
        console.warn(f"{read_stats.replaced_lines:,} input lines had invalid UTF-8 bytes replaced by U+FFFD")
