"""Baseline reports: the hypotheses an earlier `tcli evaluate --json` stored, checked before any comparison.

A baseline is only ever compared on the very same reference lines: a different reference, line count or
target language is an error, never a number.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from translate_cli.errors import DataError

FORMAT, VERSION = "tcli-evaluation", 1


def lines_sha256(lines: list[str]) -> str:
    """sha256 of lines as scored (UTF-8, each ended by LF): the same text in another file matches."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


@dataclass
class Baseline:
    """The baseline's hypotheses for one test set, and what they were scored against."""

    name: str
    origin: str  # the report or hypothesis file it came from
    hypotheses: list[str]
    lang: str | None = None
    reference_sha256: str | None = None  # None for a bare hypothesis file (--baseline-hyp)


def read_baseline(path: Path) -> dict[str, Baseline]:
    """The sets of a JSON report written by `tcli evaluate --json`, by name, checked for integrity."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: baseline report not found; write one with tcli evaluate ... --json FILE")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a JSON report ({str(exc)[:80]}); give a file written by "
                        f"tcli evaluate --json") from None
    again = "re-create the baseline with tcli evaluate ... --json FILE"
    if not isinstance(report, dict) or report.get("format") != FORMAT:
        old = " (written by an older tcli, without hypotheses)" if isinstance(report, dict) and "bleu" in report else ""
        raise DataError(f"{path}: not a {FORMAT} report{old}; {again}")
    sections = report["sets"] if "sets" in report else {report.get("name", str(path)): report}
    if not isinstance(sections, dict) or not sections:
        raise DataError(f"{path}: 'sets' holds no test sets; {again}")
    return {str(name): _baseline_section(path, str(name), section) for name, section in sections.items()}


def _baseline_section(path: Path, name: str, section: object) -> Baseline:
    where = f"{path}: set '{name}'"
    fields = {"lang": str, "reference_sha256": str, "hypotheses_sha256": str, "hypotheses": list}
    for key, kind in fields.items():
        if not isinstance(section, dict) or not isinstance(section.get(key), kind):
            raise DataError(f"{where}: '{key}' is missing or not a {kind.__name__}; re-create the baseline with "
                            f"tcli evaluate ... --json FILE")
    hypotheses = section["hypotheses"]
    if not all(isinstance(line, str) for line in hypotheses) or \
            lines_sha256(hypotheses) != section["hypotheses_sha256"]:
        raise DataError(f"{where}: the hypotheses do not match hypotheses_sha256; the report was edited or damaged")
    return Baseline(name=name, origin=str(path), hypotheses=hypotheses, lang=section["lang"],
                    reference_sha256=section["reference_sha256"])


def pick_baseline(baselines: dict[str, Baseline], name: str, sets_evaluated: int) -> Baseline:
    """The baseline of set `name`; a one-set run against a one-set report pairs them whatever their names."""
    if name in baselines:
        return baselines[name]
    if len(baselines) == 1 and sets_evaluated == 1:
        return next(iter(baselines.values()))
    origin = next(iter(baselines.values())).origin
    raise DataError(f"{origin}: has no test set '{name}' (it has: {', '.join(baselines)}); write a new baseline "
                    f"with the same test sets (tcli evaluate ... --json FILE)")


def check_baseline(baseline: Baseline, lang: str, references: list[str], reference: Path) -> None:
    """Refuse to compare against hypotheses of other reference lines: such a number would mean nothing."""
    where = f"{baseline.origin}" + (f": set '{baseline.name}'" if baseline.reference_sha256 else "")
    advice = "compare only against a baseline scored on the same reference"
    if len(baseline.hypotheses) != len(references):
        raise DataError(f"{where}: has {len(baseline.hypotheses)} hypothesis lines but {reference} has "
                        f"{len(references)}; {advice}")
    if baseline.lang is not None and baseline.lang != lang:
        raise DataError(f"{where}: was scored as target '{baseline.lang}', this set as '{lang}'; {advice}")
    actual = lines_sha256(references)
    if baseline.reference_sha256 is not None and baseline.reference_sha256 != actual:
        raise DataError(f"{where}: was scored against a different reference than {reference} (sha256 "
                        f"{baseline.reference_sha256[:12]}… vs {actual[:12]}…); {advice}")
