"""`tcli translate` reading a pipe against reading the file path, side by side in one run; and a stalled pipe.

    python scripts/bench_pipe.py --model runs/en-ja/best --src ../shared/data/en-ja/tanaka50k/train.en --lines 10000

throughput  the first --lines lines of --src, translated by a whole `tcli translate` process reading the file
            path (`tcli translate MODEL FILE`) and reading a pipe fed by cat (`cat FILE | tcli translate MODEL`),
            stdout read by this script. The two alternate for --rounds rounds; the best of each counts. A
            one-line run measures start-up (loading torch and the model), and "net" leaves it out. Wall time
            and CPU time (of the whole pipeline, cat included) are both reported: on a machine shared with
            other work the CPU time is the steadier measure. The outputs of the two are compared line by line.
stall       like `(printf 'A\\n'; sleep S; printf 'B\\n') | tcli translate MODEL`: when did each translation
            come out, measured from the moment the first line was written? The first must come out before
            the second line is written (S = --stall seconds; it must exceed the start-up time), and the
            second comes out a translation's time after its line.
Prints a table and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def tcli_command(args: argparse.Namespace, *extra: str) -> list[str]:
    return [sys.executable, "-m", "translate_cli", "translate", args.model, "-b", str(args.beam_size),
            "--threads", str(args.threads), *extra]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(args: argparse.Namespace, source: Path, via: str) -> tuple[float, float, list[bytes]]:
    """Wall and CPU seconds (cat included) of one whole process translating `source` (via "file" or "pipe"),
    and its output lines. CPU time is the fairer measure on a machine shared with other work."""
    started, cpu = time.perf_counter(), children_cpu()
    if via == "file":
        process = subprocess.Popen(tcli_command(args, str(source)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        feeder = None
    else:
        feeder = subprocess.Popen(["cat", str(source)], stdout=subprocess.PIPE)
        process = subprocess.Popen(tcli_command(args), stdin=feeder.stdout, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        feeder.stdout.close()  # the pipe now belongs to cat and tcli only
    output, errors = process.communicate()
    if process.returncode != 0 or (feeder is not None and feeder.wait() != 0):
        raise SystemExit(f"tcli translate ({via}) failed:\n{errors.decode()[-2000:]}")
    return time.perf_counter() - started, children_cpu() - cpu, output.splitlines()


def stall_check(args: argparse.Namespace, first: str, second: str) -> dict:
    process = subprocess.Popen(tcli_command(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    written = time.perf_counter()
    process.stdin.write(first.encode() + b"\n")
    process.stdin.flush()
    times: list[float] = []

    def read() -> None:
        for _ in process.stdout:
            times.append(round(time.perf_counter() - written, 2))
    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(args.stall)
    second_written = round(time.perf_counter() - written, 2)
    process.stdin.write(second.encode() + b"\n")
    process.stdin.close()
    process.wait()
    reader.join()
    return {"stall_s": args.stall, "outputs_at_s": times, "second_line_written_at_s": second_written,
            "first_output_before_second_line": bool(times) and times[0] < second_written,
            "second_output_after_its_line_s": round(times[1] - second_written, 2) if len(times) > 1 else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--src", required=True, help="text to translate (its first --lines lines)")
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stall", type=float, default=5.0)
    parser.add_argument("--json", default="docs/bench_pipe.json")
    args = parser.parse_args()
    lines = Path(args.src).read_text(encoding="utf-8").splitlines()[:args.lines]
    with tempfile.TemporaryDirectory() as scratch:
        source, one = Path(scratch) / "input.txt", Path(scratch) / "one.txt"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        one.write_text(lines[0] + "\n", encoding="utf-8")
        best: dict[str, float] = {}
        best_cpu: dict[str, float] = {}
        outputs: dict[str, list[bytes]] = {}
        for _ in range(args.rounds):  # alternated, so a slow spell of the shared machine hits both alike
            for via, path in (("start-up", one), ("file", source), ("pipe", source)):
                seconds, cpu, outputs[via] = timed_run(args, path, "file" if via == "start-up" else via)
                best[via] = min(seconds, best.get(via, seconds))
                best_cpu[via] = min(cpu, best_cpu.get(via, cpu))
                print(f"{via}: {seconds:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr, flush=True)
    for via in ("file", "pipe"):
        assert len(outputs[via]) == len(lines), f"{via}: {len(outputs[via])} lines out for {len(lines)} in"
    agreement = sum(a == b for a, b in zip(outputs["file"], outputs["pipe"])) / len(lines)
    stall = stall_check(args, lines[0], lines[1])
    report(args, len(lines), best, best_cpu, agreement, stall)


def report(args: argparse.Namespace, count: int, best: dict[str, float], best_cpu: dict[str, float], agreement: float,
           stall: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = []
    for via in ("file", "pipe"):
        net = best[via] - best["start-up"]
        rows.append({"input": via, "seconds": round(best[via], 2), "lines_per_s": round(count / best[via], 1),
                     "lines_per_s_net": round(count / net, 1) if net > 0 else None,
                     "cpu_seconds": round(best_cpu[via], 2),
                     "lines_per_cpu_s_net": round(count / (best_cpu[via] - best_cpu["start-up"]), 1)})
    for row in rows:
        row["vs_file"] = round(row["lines_per_s"] / rows[0]["lines_per_s"], 3)
        row["net_vs_file"] = (round(row["lines_per_s_net"] / rows[0]["lines_per_s_net"], 3)
                              if row["lines_per_s_net"] and rows[0]["lines_per_s_net"] else None)
        row["cpu_net_vs_file"] = round(row["lines_per_cpu_s_net"] / rows[0]["lines_per_cpu_s_net"], 3)
    table = Table(title=f"{count} lines of {args.src}, beam {args.beam_size}, {args.threads} threads, best of "
                        f"{args.rounds}; start-up {best['start-up']:.1f} s wall, {best_cpu['start-up']:.1f} s CPU; "
                        f"outputs identical: {agreement:.2%}")
    for column in ("input", "wall s", "lines/s", "÷ file", "lines/s net", "net ÷ file", "CPU s",
                   "lines/CPU s net", "CPU net ÷ file"):
        table.add_column(column, justify="left" if column == "input" else "right")
    for row in rows:
        table.add_row(row["input"], f"{row['seconds']:.2f}", f"{row['lines_per_s']:.1f}", f"{row['vs_file']:.3f}",
                      str(row["lines_per_s_net"]), str(row["net_vs_file"]), f"{row['cpu_seconds']:.2f}",
                      str(row["lines_per_cpu_s_net"]), str(row["cpu_net_vs_file"]))
    Console().print(table)
    Console().print(f"stalled pipe: outputs at {stall['outputs_at_s']} s (the first includes start-up); second "
                    f"line written at {stall['second_line_written_at_s']} s, its translation out "
                    f"{stall['second_output_after_its_line_s']} s later; first output before the second line: "
                    f"{stall['first_output_before_second_line']}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "lines": count, "start_up_s": best["start-up"],
                                           "start_up_cpu_s": best_cpu["start-up"], "agreement": agreement,
                                           "rows": rows, "stall": stall}, indent=2))


if __name__ == "__main__":
    main()
