"""Input lines in batches: fixed-size batches of a file, or batches of a pipe as its lines arrive.

A pipe (`tail -f log | tcli translate ...`) may pause for any time. Translating in batches of 2,000 lines
would then hold finished lines back until 2,000 more arrive; one line at a time would give up batching on a
fast pipe. So a reader thread takes lines as they come, and a batch is everything that has arrived,
handed out when it is full, at the end of input, when no line has come for `stall_s` (about 50 ms), or
when its first line has waited `max_wait_s`. While one batch is being translated the next one fills up.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from itertools import islice
from typing import Callable, Iterable, Iterator, TypeVar

from translate_cli.core.files import ReadStats, decode_line

STALL_SECONDS = 0.05  # a pause this long hands out what has arrived
MAX_WAIT_SECONDS = 0.5  # a slow but steady trickle still gets its lines out this often
READ_BYTES = 1 << 16
QUEUE_READS = 64  # reads buffered ahead of the translator (at most 64 x 64 KiB plus one long line)

T = TypeVar("T")
_END = object()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def line_batches(read: Callable[[int], bytes], where: str, max_lines: int, on_bad_utf8: str = "error",
                 stats: ReadStats | None = None, allow_nul: bool = False, stall_s: float = STALL_SECONDS,
                 max_wait_s: float = MAX_WAIT_SECONDS) -> Iterator[list[str]]:
    """Decoded lines of a byte source (`read(n)` returns b"" at the end, like os.read), batched as they arrive."""
    stats = stats if stats is not None else ReadStats()
    number = 0
    for raw_batch in _raw_batches(read, max_lines, stall_s, max_wait_s):
        decoded = []
        for raw in raw_batch:
            number += 1
            stats.lines = number
            decoded.append(decode_line(raw, where, number, on_bad_utf8, stats, allow_nul))
        yield decoded


def _raw_batches(read: Callable[[int], bytes], max_lines: int, stall_s: float,
                 max_wait_s: float) -> Iterator[list[bytes]]:
    arrived: queue.Queue = queue.Queue(maxsize=QUEUE_READS)
    stop = threading.Event()
    threading.Thread(target=_read_lines, args=(read, arrived, stop), daemon=True, name="tcli-stdin").start()
    waiting: deque[bytes] = deque()  # lines received but not yet handed out
    ended = False
    try:
        while waiting or not ended:
            if not waiting:
                ended = _take(arrived.get(), waiting)  # block for as long as the input is silent
            started = time.monotonic()
            while len(waiting) < max_lines and not ended:
                left = min(stall_s, started + max_wait_s - time.monotonic())
                try:
                    ended = _take(arrived.get(timeout=max(left, 0.0)), waiting)
                except queue.Empty:
                    break
            if waiting:
                yield [waiting.popleft() for _ in range(min(max_lines, len(waiting)))]
    finally:
        stop.set()


def _take(item: object, waiting: deque[bytes]) -> bool:
    """Add a reader item to `waiting`; True at the end of input (errors of the reader are raised here)."""
    if item is _END:
        return True
    if isinstance(item, BaseException):
        raise item
    waiting.extend(item)  # type: ignore[arg-type]
    return False


def _read_lines(read: Callable[[int], bytes], arrived: queue.Queue, stop: threading.Event) -> None:
    """The reader thread: whole lines (without LF) of each read, then _END (or the exception that ended it)."""
    partial: list[bytes] = []  # the start of a line not yet ended
    try:
        while not stop.is_set() and (data := read(READ_BYTES)):
            if b"\n" not in data:
                partial.append(data)
                continue
            lines = data.split(b"\n")
            lines[0] = b"".join(partial) + lines[0]
            tail = lines.pop()  # what follows the last LF: the start of the next line, or b""
            partial = [tail] if tail else []
            _put(arrived, lines, stop)
        if partial:
            _put(arrived, [b"".join(partial)], stop)
        _put(arrived, _END, stop)
    except Exception as exc:  # handed to the consumer, which raises it in the main thread
        _put(arrived, exc, stop)


def _put(arrived: queue.Queue, item: object, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            arrived.put(item, timeout=0.1)
            return
        except queue.Full:
            continue
