"""How `tcli translate` reads and writes text besides decoding: n-best rows, bad input, row layouts. Kept
free of heavy imports: the command line reads its choices and defaults from here at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional

from annotated_types import Ge

from translate_cli.core.files import OnBadUtf8

NbestFormat = Literal["tsv", "jsonl"]  # with nbest > 1: tsv (line, rank, score, text) or jsonl
BadRowChoice = Literal["error", "skip-copy"]  # a bad row stops with an error, or is copied untranslated


@dataclass(frozen=True)
class LineOptions:
    """How `tcli translate` reads and writes lines (everything but decoding)."""

    nbest: Annotated[int, Ge(1)] = 1  # write the N best hypotheses with scores
    nbest_format: NbestFormat = "tsv"
    on_bad_utf8: OnBadUtf8 = "error"
    tsv_column: Optional[Annotated[int, Ge(1)]] = None  # translate this column (1 = first) of tab-separated rows
    jsonl_field: Optional[str] = None  # translate this string field of each JSON-object line
    on_bad_row: BadRowChoice = "error"  # with a row layout
