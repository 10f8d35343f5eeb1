"""The rich consoles, progress bars and tables. Only cli.py and steps/ print.

Status, progress and reports go to stderr (`console`) so stdout stays clean for translations when
tcli is used as a Unix filter; result tables that are a command's answer go to stdout (`out`).
"""

from __future__ import annotations

import sys
from typing import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

# Not a terminal (a log file, a pipe, CI): wide enough that tables are never folded into 80 columns.
console = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def info(message: str, prefix: str = "") -> None:
    """A status line on stderr; `prefix` may hold rich markup, the message is printed literally."""
    console.print(prefix + escape(message))


def warn(message: str) -> None:
    console.print("[yellow]warning:[/yellow] " + escape(message))


def error_line(message: str) -> None:
    console.print("[bold red]error:[/bold red] " + escape(message), soft_wrap=True)


def result_line(message: str) -> None:
    """A line of a command's answer on stdout, printed literally."""
    out.print(escape(message), soft_wrap=True)  # long signatures stay on one line


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], numeric_from: int = 1) -> Table:
    """A table whose title and cells are shown literally (a file name with [brackets] is no markup)."""
    result = Table(title=escape(title), title_justify="left")
    for index, name in enumerate(columns):
        result.add_column(escape(name), justify="right" if index >= numeric_from else "left", overflow="fold")
    for row in rows:
        result.add_row(*(f"{v:,}" if isinstance(v, int) else escape(str(v)) for v in row))
    return result


def training_progress() -> Progress:
    """Step bar with loss, learning rate, tokens/s and time left (fields filled by the train step)."""
    return Progress(
        TextColumn("[bold]train[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[tps]} tok/s"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def silent_progress() -> Progress:
    """A progress object that draws nothing (ranks other than 0 under torchrun)."""
    return Progress(console=Console(quiet=True))


def distill_progress() -> Progress:
    """Lines translated by a teacher, with sentences per second and time left."""
    return Progress(
        TextColumn("[bold]distil[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} sent/s"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
