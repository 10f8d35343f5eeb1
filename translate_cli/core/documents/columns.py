"""Translating one column of TSV rows or one string field of JSON lines, passing everything else through.

Every row gives exactly one row, in order. A TSV row keeps its other cells byte for byte; a JSON row keeps
its other fields and its key order (it is re-serialised, so spacing and escapes may change). An empty row
is copied as an empty row. A bad row (too few cells, not a JSON object, no such field, a field that is not
a string) stops with an error naming its line, or with on_bad_row="skip-copy" is copied through
untranslated and counted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from translate_cli.errors import DataError

_SURROGATE = re.compile("[\ud800-\udfff]")


class BadRow(ValueError):
    """A row that has no text to translate where the layout says it should."""


class RowLayout(Protocol):
    option: str  # the command-line option that chose it, for messages

    def parse(self, row: str) -> tuple[str, object]:
        """(the text to translate, what render needs to rebuild the row); raises BadRow."""

    def render(self, parsed: object, translation: str) -> str:
        """The row with its text replaced by the translation."""


@dataclass
class TsvColumn:
    column: int  # 1-based, as in `cut -f`

    @property
    def option(self) -> str:
        return f"--tsv-column {self.column}"

    def parse(self, row: str) -> tuple[str, object]:
        cells = row.split("\t")
        if len(cells) < self.column:
            raise BadRow(f"has {len(cells)} tab-separated column{'s' if len(cells) != 1 else ''}, "
                         f"{self.option} needs at least {self.column}")
        return cells[self.column - 1], cells

    def render(self, parsed: object, translation: str) -> str:
        cells = list(parsed)  # type: ignore[call-overload]
        cells[self.column - 1] = translation.replace("\t", " ")  # a tab inside would shift the columns
        return "\t".join(cells)


@dataclass
class JsonlField:
    key: str

    @property
    def option(self) -> str:
        return f"--jsonl-field {self.key}"

    def parse(self, row: str) -> tuple[str, object]:
        try:
            record = json.loads(row, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise BadRow(f"is not valid JSON ({exc.msg} at column {exc.colno})") from None
        except _DuplicateKey as exc:  # json would keep the last value and silently drop the others
            raise BadRow(f"has the key {exc} twice in one object") from None
        except RecursionError:
            raise BadRow("is JSON nested too deeply to read") from None
        if not isinstance(record, dict):
            raise BadRow(f"is a JSON {_json_type(record)}, not an object")
        if self.key not in record:
            raise BadRow(f"has no field {json.dumps(self.key, ensure_ascii=False)}")
        value = record[self.key]
        if not isinstance(value, str):
            raise BadRow(f"field {json.dumps(self.key, ensure_ascii=False)} is a JSON {_json_type(value)}, not a string")
        if _SURROGATE.search(value):
            raise BadRow(f"field {json.dumps(self.key, ensure_ascii=False)} holds an unpaired surrogate escape, "
                         f"which is not text")
        return value, record

    def render(self, parsed: object, translation: str) -> str:
        record = dict(parsed)  # type: ignore[call-overload]  # a copy keeps the key order
        record[self.key] = translation
        text = json.dumps(record, ensure_ascii=False)
        # Another field may hold an unpaired surrogate escape, which UTF-8 cannot write raw: keep it escaped.
        return json.dumps(record) if _SURROGATE.search(text) else text


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    record: dict = {}
    for key, value in pairs:
        if key in record:
            raise _DuplicateKey(json.dumps(key, ensure_ascii=False))
        record[key] = value
    return record


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


@dataclass
class RowStats:
    rows: int = 0
    empty: int = 0  # empty rows, copied as they are
    bad: int = 0  # bad rows copied through untranslated (on_bad_row="skip-copy")
    bad_lines: list[int] = field(default_factory=list)  # the first few of them, for the summary
    first_problem: str = ""


def translate_rows(rows: list[str], first_number: int, layout: RowLayout, translate: Callable[[list[str]], list[str]],
                   on_bad_row: str, stats: RowStats, where: str) -> list[str]:
    """Rows (numbered from first_number) with their text translated by `translate` (texts in, same count out).
    Every row is parsed before anything is translated, so a bad row fails before the model's work."""
    parsed: list[tuple[str, object] | None] = []
    for number, row in enumerate(rows, first_number):
        if not row:
            parsed.append(None)
            stats.empty += 1
            continue
        try:
            parsed.append(layout.parse(row))
        except BadRow as exc:
            if on_bad_row != "skip-copy":
                raise _error(where, number, exc) from None
            parsed.append(None)
            stats.bad += 1
            if len(stats.bad_lines) < 5:
                stats.bad_lines.append(number)
            stats.first_problem = stats.first_problem or f"line {number}: the row {exc}"
    stats.rows += len(rows)
    translations = iter(translate([item[0] for item in parsed if item is not None]))
    return [row if item is None else layout.render(item[1], next(translations)) for row, item in zip(rows, parsed)]


def check_rows(rows: Iterable[str], layout: RowLayout, where: str) -> None:
    """Raise the error translate_rows would raise for the first bad row (used to fail before any work)."""
    for number, row in enumerate(rows, 1):
        if row:
            try:
                layout.parse(row)
            except BadRow as exc:
                raise _error(where, number, exc) from None


def _error(where: str, number: int, problem: BadRow) -> DataError:
    return DataError(f"{where}:{number}: the row {problem}; fix it, or pass --on-bad-row skip-copy to copy bad rows "
                     f"through untranslated")
