"""tcli translate: a file or stdin in, a file or stdout out, exactly one output line per input line."""

from __future__ import annotations

import json
import sys
from itertools import islice
from pathlib import Path
from typing import Iterator, TextIO

from translate_cli import console
from translate_cli.core import textio
from translate_cli.core.checkpoint import LoadedModel, load_model
from translate_cli.core.quantize import quantize_int8
from translate_cli.core.translator import DecodeOptions, Translation, TranslationStats, Translator
from translate_cli.errors import TcliError

CHUNK_LINES = 2000  # lines read, sorted and translated together; bounds memory on endless input


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(lines, size)):
        yield chunk


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
    stats = TranslationStats()
    number = 0
    for chunk in _chunks(lines, chunk_lines):
        for translation in translator.translate(chunk, options, stats):
            number += 1
            sink.write(format_line(translation, nbest_format, number) + "\n")
        sink.flush()
    return stats


def load_for_translation(model_dir: Path, backend: str = "native", quantize: str = "none",
                         threads: int | None = None) -> LoadedModel:
    if backend == "ctranslate2":
        from translate_cli.core.export_ct2 import load_ct2

        if quantize != "none":
            raise TcliError("--quantize applies to the native backend; quantize a CTranslate2 model when "
                            "exporting it (tcli export ... --quantization int8)")
        return load_ct2(model_dir, threads)
    loaded = load_model(model_dir)
    if quantize == "int8":
        loaded.model = quantize_int8(loaded.model)
    return loaded


def run(model_dir: Path, input_path: Path | None, output_path: Path | None, lang: str | None,
        options: DecodeOptions, on_bad_utf8: str = "error", nbest_format: str | None = None, backend: str = "native",
        quantize: str = "none", threads: int | None = None) -> TranslationStats:
    if output_path is not None:
        textio.check_output_path(output_path)
    translator = Translator(load_for_translation(model_dir, backend, quantize, threads), lang)
    read_stats = textio.ReadStats()
    if input_path is None:
        lines = textio.iter_stream(sys.stdin.buffer, "<stdin>", on_bad_utf8, read_stats, allow_nul=True)
        chunk = 1 if sys.stdin.isatty() else CHUNK_LINES
    else:
        lines = textio.iter_file(input_path, on_bad_utf8, read_stats, allow_empty=True, allow_nul=True)
        chunk = CHUNK_LINES
    if output_path is None:
        stats = translate_stream(translator, lines, sys.stdout, options, nbest_format, chunk)
    else:
        stats = _translate_to_file(translator, lines, output_path, options, nbest_format)
    _report(stats, read_stats, output_path)
    return stats


def _translate_to_file(translator: Translator, lines: Iterator[str], output_path: Path, options: DecodeOptions,
                       nbest_format: str | None) -> TranslationStats:
    """Written to a temporary file renamed into place at the end: no half-written output on failure."""
    holder: dict[str, TranslationStats] = {}

    def produce() -> Iterator[str]:
        stats = TranslationStats()
        number = 0
        for chunk in _chunks(lines, CHUNK_LINES):
            for translation in translator.translate(chunk, options, stats):
                number += 1
                yield format_line(translation, nbest_format, number)
        holder["stats"] = stats

    textio.write_lines_atomically(output_path, produce())
    return holder["stats"]


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
