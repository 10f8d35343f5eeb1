"""Streaming: a pipe is read in batches of what has arrived, a stalled pipe still gets its lines out, and the
first translation of `tcli translate` reaches the reader while the writer is still silent."""

import os
import queue
import subprocess
import sys
import threading

import pytest

from translate_cli.core.documents.stream import batched, line_batches
from translate_cli.errors import DataError

WAIT = 900  # seconds before a test gives up on an output it expects (start-up on a loaded machine can take minutes)


def pipe_reader():
    read_end, write_end = os.pipe()
    return (lambda size: os.read(read_end, size)), write_end


def next_in_thread(iterator):
    """next(iterator), run in a thread so that a reader that blocks fails the test instead of hanging it."""
    box: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: box.put(next(iterator, None)), daemon=True).start()
    return box.get(timeout=WAIT)


def test_lines_that_have_arrived_are_batched_together():
    read, write_end = pipe_reader()
    os.write(write_end, "".join(f"line {i}\n" for i in range(500)).encode())
    os.close(write_end)
    sizes = [len(batch) for batch in line_batches(read, "<pipe>", 200)]
    assert sizes == [200, 200, 100]


def test_a_stalled_pipe_hands_out_what_has_arrived():
    read, write_end = pipe_reader()
    batches = line_batches(read, "<pipe>", 2000)
    os.write(write_end, b"first\nsecond\n")
    assert next_in_thread(batches) == ["first", "second"]  # the writer is still open and silent
    os.write(write_end, b"third\r\nno final newline")
    os.close(write_end)
    assert next_in_thread(batches) == ["third", "no final newline"]
    assert next_in_thread(batches) is None


def test_decoding_errors_name_the_line_and_reader_errors_reach_the_consumer():
    read, write_end = pipe_reader()
    os.write(write_end, b"\xef\xbb\xbfok\nfine\nbro\xffken\n")
    os.close(write_end)
    with pytest.raises(DataError, match="<pipe>:3: invalid UTF-8"):
        list(line_batches(read, "<pipe>", 10))

    def failing_read(size):
        raise OSError(5, "Input/output error")
    with pytest.raises(OSError, match="Input/output"):
        list(line_batches(failing_read, "<pipe>", 10))
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]


def test_first_translation_arrives_before_the_second_line_is_written(single_model_dir):
    process = subprocess.Popen([sys.executable, "-m", "translate_cli", "translate", str(single_model_dir), "-b", "1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    try:
        process.stdin.write(b"Where is the station?\n")
        process.stdin.flush()
        first = lines.get(timeout=WAIT)  # `printf 'a\n'; sleep ...`: nothing more is written until it comes
        process.stdin.write(b"He is my friend.\n")
        process.stdin.close()
        assert process.wait(timeout=WAIT) == 0, process.stderr.read().decode()
    finally:
        process.kill()
    reader.join(timeout=WAIT)
    second = lines.get(timeout=WAIT)
    assert first.endswith(b"\n") and second.endswith(b"\n") and lines.empty()
    assert b"translated 2 lines" in process.stderr.read()
