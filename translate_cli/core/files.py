"""Reading line-aligned text files strictly: lines end at LF only, every problem names file and line.

A UTF-8 byte-order mark and CRLF line ends are accepted and removed. Invalid UTF-8 is an error (or,
with on_bad_utf8="replace", replaced by U+FFFD and counted); NUL bytes and empty files are errors.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Literal, Optional, TypeVar

from translate_cli.errors import DataError

OnBadUtf8 = Literal["error", "replace"]  # stop at invalid UTF-8, or replace it with U+FFFD and count it


@dataclass
class ReadStats:
    lines: int = 0
    replaced_lines: int = 0  # lines whose invalid UTF-8 bytes were replaced
    nul_lines: int = 0  # lines with NUL bytes (accepted only where allow_nul)


def decode_line(raw: bytes, where: str, number: int, on_bad_utf8: str, stats: ReadStats,
                allow_nul: bool = False) -> str:
    raw = raw.removesuffix(b"\n").removesuffix(b"\r")
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        stats.nul_lines += 1
        if allow_nul:  # translate: a NUL is one more control character, normalised to a space
            raw = raw.replace(b"\x00", b" ")
        else:
            raise DataError(f"{where}:{number}: contains a NUL byte; this looks like a binary file, "
                            f"not UTF-8 text with one sentence per line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if on_bad_utf8 == "replace":
            stats.replaced_lines += 1
            return raw.decode("utf-8", errors="replace")
        raise DataError(f"{where}:{number}: invalid UTF-8 at byte {exc.start + 1} of the line; fix the file "
                        f"or pass --on-bad-utf8 replace to replace bad bytes") from None


def iter_stream(stream: BinaryIO, where: str, on_bad_utf8: str = "error",
                stats: ReadStats | None = None, allow_nul: bool = False) -> Iterator[str]:
    """Decoded lines of a binary stream (a file or stdin)."""
    stats = stats if stats is not None else ReadStats()
    for number, raw in enumerate(stream, start=1):
        stats.lines = number
        yield decode_line(raw, where, number, on_bad_utf8, stats, allow_nul)


def iter_file(path: Path, on_bad_utf8: str = "error", stats: ReadStats | None = None,
              allow_empty: bool = False, allow_nul: bool = False) -> Iterator[str]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path (and data_root in the config)")
    if not allow_empty and path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; a corpus needs at least one line")
    with open(path, "rb") as handle:
        yield from iter_stream(handle, str(path), on_bad_utf8, stats, allow_nul)


def iter_pairs(source: Path, target: Path, on_bad_utf8: str = "error",
               stats: tuple[ReadStats, ReadStats] | None = None) -> Iterator[tuple[str, str]]:
    """Aligned (source, target) lines; different line counts stop with an error naming both files."""
    stats = stats or (ReadStats(), ReadStats())
    missing = object()
    pairs = zip_longest(iter_file(source, on_bad_utf8, stats[0]), iter_file(target, on_bad_utf8, stats[1]),
                        fillvalue=missing)
    for number, (source_line, target_line) in enumerate(pairs, start=1):
        if source_line is missing or target_line is missing:
            short, long_ = (source, target) if source_line is missing else (target, source)
            total = number + sum(1 for _ in pairs)
            raise DataError(f"{short}: has {number - 1} lines but {long_} has {total}; the two sides of a "
                            f"corpus must be line-aligned (line {number} has no partner)")
        yield source_line, target_line


Item = TypeVar("Item")


def line_span(lines: Optional[str]) -> tuple[int, Optional[int]]:
    """A `lines` range ("FIRST-LAST" or "FIRST-", counted from 1) as (first, last); last None: to the end."""
    if not lines:
        return 1, None
    first, last = lines.split("-")
    return int(first), int(last) if last else None


def in_range(items: Iterable[Item], lines: Optional[str], path: Path) -> Iterator[Item]:
    """The items of a file's lines FIRST to LAST; all are read, so a problem after the range still shows."""
    first, last = line_span(lines)
    number = 0
    for number, item in enumerate(items, start=1):
        if first <= number and (last is None or number <= last):
            yield item
    if number < (last or first):
        raise DataError(f"{path}: has {number} lines, fewer than the range `lines: {lines}` asks for; fix the range")


def read_lines(path: Path, on_bad_utf8: str = "error") -> list[str]:
    return list(iter_file(path, on_bad_utf8))


def check_output_path(path: Path) -> None:
    """Fail before any work if `path` cannot be an output file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a file name for the output")
    if path.parent.exists() and not path.parent.is_dir():
        raise DataError(f"{path.parent}: is a file, not a folder")


def write_lines_atomically(path: Path, lines: Iterable[str]) -> None:
    """Write one line per item (LF), via a temporary file that replaces `path` only when complete."""
    write_text_atomically(path, (line + "\n" for line in lines))


def write_text_atomically(path: Path, chunks: Iterable[str]) -> None:
    """Write the chunks as they are (UTF-8), via a temporary file that replaces `path` only when complete.

    A path that exists but is not a regular file (a pipe, /dev/stdout) is written to directly.
    """
    path = Path(path)
    check_output_path(path)

    def fill(target: Path) -> None:
        with open(target, "w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
    try:
        if path.exists() and not path.is_file():
            fill(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file_atomically(path, fill)
    except OSError as exc:
        raise DataError(f"{path}: cannot write it ({exc.strerror or exc}); check the folder, its permissions "
                        f"and free space") from None


def write_file_atomically(path: Path, fill: Callable[[Path], None]) -> None:
    """Call fill(temporary path) beside `path`, fsync, then rename it over `path`: a crash leaves the old
    file or the new one, never half of one."""
    path = Path(path).absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        fill(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are ordinary files
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
