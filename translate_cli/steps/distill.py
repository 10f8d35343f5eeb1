"""tcli distill: translate the source side of a config's training corpora with its distill.teacher, into the
corpora that `tcli prepare` then uses for a student (core/distill/)."""

from __future__ import annotations

import time
from pathlib import Path

from translate_cli import console
from translate_cli.config import Config
from translate_cli.core.distill.corpus import cache_key, distil_corpus, is_done
from translate_cli.core.distill.teacher import identity, open_teacher, translate_function
from translate_cli.errors import ConfigError


def run(config: Config, *, threads: int | None = None) -> Path:
    """Distil every training corpus not already distilled with the same teacher and data; returns the folder."""
    settings = config.distill
    if settings is None or not settings.teacher:
        raise ConfigError("tcli distill needs a teacher: add a `distill:` section with `teacher: MODEL_DIR` to the "
                          "config (configs/student-en-ja.yaml has one), or pass distill.teacher=MODEL_DIR")
    jobs = config.distill_jobs()
    choice, translator_for = open_teacher(Path(settings.teacher), config.source_lang,
                                          sorted({job.lang for job in jobs}), threads)
    if choice.note:
        console.warn(choice.note)
    teacher = identity(choice)
    console.info(f"teacher {choice.folder} ({choice.backend}), beam {settings.beam_size}"
                 + (f", n-best {settings.nbest} closest to the original" if settings.nbest > 1 else ""))
    with console.distill_progress() as progress:
        for job in jobs:
            key = cache_key(job, teacher, settings)
            if is_done(job, key):
                console.info(f"{job.out_target}: already distilled by this teacher from the same data; reusing it",
                             "[green]up to date:[/green] ")
                continue
            task = progress.add_task(job.name, total=None, rate="-")
            started, first = time.perf_counter(), None

            def report(done: int, total: int, task=task) -> None:
                nonlocal first
                first = done if first is None else first
                seconds = time.perf_counter() - started
                rate = f"{(done - first) / seconds:,.1f}" if seconds > 0 and done > first else "-"
                progress.update(task, completed=done, total=total, rate=rate)

            translated = distil_corpus(job, key, translate_function(translator_for(job.lang), settings),
                                       settings.chunk_lines, report)
            console.info(f"{job.out_target}: {translated:,} lines translated now")
    folder = Path(settings.folder)
    console.info(f"distilled corpora in {folder}; `tcli prepare` with this config now trains on them"
                 + (" and on the originals (distill.mixed)" if settings.mixed else ""), "[green]done:[/green] ")
    return folder
