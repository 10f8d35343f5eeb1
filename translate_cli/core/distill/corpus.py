"""Distilled corpora: the config's `distill:` section, and writing one corpus's teacher translations.

For every training corpus `{prefix}.{source}`/`{prefix}.{lang}` (its `lines` range only), the folder gets
`{name}.{source}` (the source lines as read) and `{name}.{lang}` (the teacher's translation of each line, one
per line, in order) and `{name}.json` (what made them). The translation is written in chunks to
`{name}.{lang}.partial`, flushed and fsynced after each chunk, so a job killed at any point continues
after the last complete line: nothing translated twice, nothing lost. The finished files are renamed into
place last; a later run with the same key (teacher weights, decoding, the data's bytes) reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Callable, Optional

from annotated_types import Ge

from translate_cli.core.files import in_range, iter_file, write_lines_atomically
from translate_cli.errors import DataError

FORMAT = "tcli-distilled"


@dataclass
class DistillSettings:
    """The config's `distill:` section: which teacher, how it decodes, and what the student trains on."""

    __pydantic_config__ = {"extra": "forbid"}
    teacher: Optional[str] = None  # a model directory (tcli's own or imported) or a CTranslate2 export
    folder: str = ""  # where the distilled corpora go; default runs/{name}/distilled
    mixed: bool = False  # the student trains on the original pairs too, not only on the teacher's
    beam_size: Annotated[int, Ge(1)] = 5
    length_penalty: Optional[Annotated[float, Ge(0)]] = None  # default: the teacher's own
    # With nbest > 1 the teacher's n-best hypothesis closest to the original target (sentence chrF) is kept:
    # Kim & Rush's sequence-level interpolation, which filters out teacher translations that drift.
    nbest: Annotated[int, Ge(1)] = 1
    chunk_lines: Annotated[int, Ge(1)] = 2000  # lines translated between two saves of the progress


@dataclass(frozen=True)
class CorpusJob:
    """One corpus to distil: its files, and where its distilled copy goes."""

    source: Path
    target: Path  # the original target (for mixed training and n-best selection)
    lines: Optional[str]
    folder: Path
    name: str  # file stem in the folder
    source_lang: str
    lang: str

    @property
    def out_source(self) -> Path:
        return self.folder / f"{self.name}.{self.source_lang}"

    @property
    def out_target(self) -> Path:
        return self.folder / f"{self.name}.{self.lang}"

    @property
    def partial(self) -> Path:
        return self.folder / f"{self.name}.{self.lang}.partial"

    @property
    def record(self) -> Path:
        return self.folder / f"{self.name}.json"


def corpus_name(index: int, prefix: str, lines: str | None) -> str:
    """A file stem for the distilled copy of training corpus `index`: readable, unique in the folder."""
    stem = re.sub(r"[^\w.-]+", "_", prefix.strip("/"))[-60:]
    return f"{index}-{stem}" + (f"-lines{lines}" if lines else "")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(job: CorpusJob, teacher: dict, settings: DistillSettings) -> str:
    """What the distilled corpus depends on: the teacher's weights and decoding, and the data's bytes."""
    decoding = {k: v for k, v in asdict(settings).items() if k in ("beam_size", "length_penalty", "nbest")}
    parts = {"teacher": teacher, "decoding": decoding, "source": file_sha256(job.source),
             "target": file_sha256(job.target) if settings.nbest > 1 else None, "lines": job.lines,
             "lang": job.lang, "format": FORMAT}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def is_done(job: CorpusJob, key: str) -> bool:
    try:
        record = json.loads(job.record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return record.get("key") == key and job.out_source.is_file() and job.out_target.is_file()


def read_sources(job: CorpusJob) -> list[str]:
    """The corpus's source lines (its `lines` range), as prepare will read them."""
    return list(in_range(iter_file(job.source, allow_empty=True), job.lines, job.source))


def resume_point(job: CorpusJob, key: str, chunk_lines: int) -> int:
    """Lines already translated for this key (0: start over). A run is resumed at its last complete chunk: a
    chunk cut by a kill is dropped from the file and translated again whole, so the lines are batched as in
    an uninterrupted run and come out the same."""
    marker = job.folder / f"{job.name}.{job.lang}.key"
    stamp = f"{key} {chunk_lines}"
    if not job.partial.is_file() or not marker.is_file() or marker.read_text(encoding="utf-8") != stamp:
        job.folder.mkdir(parents=True, exist_ok=True)
        job.partial.write_bytes(b"")
        marker.write_text(stamp, encoding="utf-8")
        return 0
    data = job.partial.read_bytes()
    lines = data.count(b"\n")
    done = lines - lines % chunk_lines
    keep = 0
    for _ in range(done):
        keep = data.index(b"\n", keep) + 1
    if keep != len(data):
        with open(job.partial, "r+b") as handle:
            handle.truncate(keep)
    return done


def distil_corpus(job: CorpusJob, key: str, translate: Callable[[list[str], list[str]], list[str]],
                  chunk_lines: int, progress: Callable[[int, int], None] = lambda done, total: None) -> int:
    """Translate the corpus from where a previous run stopped; returns the lines translated now."""
    sources = read_sources(job)
    targets = read_targets(job, len(sources))
    done = resume_point(job, key, chunk_lines)
    if done > len(sources):
        raise DataError(f"{job.partial}: has more lines ({done}) than {job.source} ({len(sources)}); delete it")
    progress(done, len(sources))
    with open(job.partial, "a", encoding="utf-8", newline="\n") as out:
        for start in range(done, len(sources), chunk_lines):
            chunk = sources[start:start + chunk_lines]
            translations = translate(chunk, targets[start:start + chunk_lines])
            assert len(translations) == len(chunk), "one translation per line"
            out.write("".join(" ".join(line.split()) + "\n" for line in translations))
            out.flush()
            os.fsync(out.fileno())
            progress(start + len(chunk), len(sources))
    write_lines_atomically(job.out_source, sources)
    os.replace(job.partial, job.out_target)
    (job.folder / f"{job.name}.{job.lang}.key").unlink(missing_ok=True)
    job.record.write_text(json.dumps({"format": FORMAT, "key": key, "source": str(job.source), "lines": job.lines,
                                      "pairs": len(sources)}, indent=2), encoding="utf-8")
    return len(sources) - done


def read_targets(job: CorpusJob, count: int) -> list[str]:
    """The original targets (for n-best selection), aligned with the sources."""
    targets = list(in_range(iter_file(job.target, allow_empty=True), job.lines, job.target))
    if len(targets) != count:
        raise DataError(f"{job.target} has {len(targets):,} lines but {job.source} has {count:,}; the two sides of "
                        f"a corpus must be line-aligned")
    return targets


def corpus_jobs(data_root: Path, train: list, folder: Path, source_lang: str) -> list[CorpusJob]:
    """A job per training corpus (the config's data.train entries: prefix, lang, lines)."""
    return [CorpusJob(data_root / f"{corpus.prefix}.{source_lang}", data_root / f"{corpus.prefix}.{corpus.lang}",
                      corpus.lines, folder, corpus_name(index, corpus.prefix, corpus.lines), source_lang, corpus.lang)
            for index, corpus in enumerate(train)]
