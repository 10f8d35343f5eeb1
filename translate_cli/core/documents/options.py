"""How `tcli translate` reads and writes text besides decoding: n-best rows, bad input, row layouts. Kept
free of heavy imports: the command line reads its choices and defaults from here at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional

from annotated_types import Ge

from translate_cli.core.files import OnBadUtf8

NbestFormat = Literal["tsv", "jsonl"]  # with nbest > 1: tsv (line, rank, score, text) or jsonl
BadRowChoice = Literal["error", "skip-copy"]  # a bad row stops with an error, or is copied untranslated
# auto: by the file's extension (EXTENSIONS), text for stdin and other files
DocumentFormat = Literal["auto", "text", "markdown", "html", "srt", "vtt", "po"]
EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".srt": "srt",
              ".vtt": "vtt", ".po": "po", ".pot": "po"}


@dataclass(frozen=True)
class LineOptions:
    """How `tcli translate` reads and writes text (everything but decoding)."""

    nbest: Annotated[int, Ge(1)] = 1  # write the N best hypotheses with scores
    nbest_format: NbestFormat = "tsv"
    on_bad_utf8: OnBadUtf8 = "error"
    tsv_column: Optional[Annotated[int, Ge(1)]] = None  # translate this column (1 = first) of tab-separated rows
    jsonl_field: Optional[str] = None  # translate this string field of each JSON-object line
    on_bad_row: BadRowChoice = "error"  # with a row layout
    format: DocumentFormat = "auto"
    glossary: Optional[Path] = None  # a TSV file of source term TAB target term (core/documents/glossary.py)
    retranslate: bool = False  # po: translate entries that already have a translation too


def resolve_format(format: DocumentFormat, path: Path | None) -> str:
    """The format of an input: as given, or by the file's extension (auto); stdin is text unless given."""
    if format != "auto":
        return format
    return EXTENSIONS.get(path.suffix.lower(), "text") if path is not None else "text"
