"""tcli prepare: normalise and clean the corpora, train SentencePiece, binarise (core/train/prepared.py), and
show what cleaning removed."""

from __future__ import annotations

from pathlib import Path

from translate_cli import console
from translate_cli.config import Config
from translate_cli.core.text import RULES, CleanRules
from translate_cli.core.train.prepared import CorpusReport, prepare


def run(config: Config, *, on_bad_utf8: str = "error", force: bool = False) -> Path:
    """Prepare the data directory for `config`; returns its path."""
    spec = config.data_spec()
    folder = spec.folder
    reports = prepare(spec, on_bad_utf8=on_bad_utf8, force=force, stage=console.info)
    if reports is None:
        console.info(f"{folder} was prepared from the same inputs and settings; reusing it", "[green]up to date:[/green] ")
    else:
        _print_report(reports, folder, spec.clean)
    return folder


HEADERS = {"empty": "empty", "too_long": "too long", "length_ratio": "ratio", "script": "script", "title": "title",
           "duplicate": "dup"}


def _print_report(reports: list[CorpusReport], folder: Path, clean: CleanRules) -> None:
    """Pairs read, removed by each rule in use, and kept, per corpus."""
    off = {"script": not clean.script, "title": not clean.title_max_words, "duplicate": not clean.dedup}
    rules = [rule for rule in RULES if not off.get(rule)]
    rows = [[*r.label.split(":", 1), r.lang, r.read, *(r.removed.get(rule, 0) for rule in rules), r.kept]
            for r in reports]
    total = ["total", "", "", sum(r.read for r in reports),
             *(sum(r.removed.get(rule, 0) for r in reports) for rule in rules), sum(r.kept for r in reports)]
    headers = ["split", "corpus", "lang", "read", *(HEADERS[rule] for rule in rules), "kept"]
    console.out.print(console.table(f"prepared {folder}: pairs removed by each rule", headers, rows + [total],
                                    numeric_from=3))
    replaced = sum(r.replaced_utf8_lines for r in reports)
    if replaced:
        console.warn(f"{replaced} lines had invalid UTF-8 bytes replaced by U+FFFD")
