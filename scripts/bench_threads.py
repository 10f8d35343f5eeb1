"""How to spend the CPU threads: batches side by side, or threads inside each batch? Same run, same input.

    python scripts/bench_threads.py --model runs/en-ja/best --src ../shared/data/en-ja/tanaka50k/test.en

Every configuration translates the same lines through tcli's own Translator (normalise, encode, search,
decode; real outputs, tcli's length limits), each in its own process, the rounds interleaved across
configurations because the machines are shared and noisy; the best of --repeat passes counts.

  ct2 INTERxINTRA/B   CTranslate2 export (fp32 and int8): INTER translators side by side, INTRA threads
                      each, B sentences per CTranslate2 batch ("rule": tcli's default, ct2_backend.batch_size)
  native WxT          the PyTorch backend: W worker threads each searching its own batches with T torch
                      threads (1xT: tcli before issue 15; Tx1: tcli's rule since)

--lines N translates only the first N lines (1 = the start-up case's search, without the start-up).
Prints a table and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEARCHES = {"greedy": 1, "beam5": 5}


def ct2_configs(threads: int) -> list[str]:
    layouts = [f"{threads}x1", f"1x{threads}"] + ([f"{threads // 2}x2"] if threads >= 4 else [])
    return [f"ct2-{kind}:{layout}/{size}" for kind in ("fp32", "int8") for layout in layouts
            for size in ("rule", "16", "64", "256")]


def native_configs(threads: int) -> list[str]:
    return [f"native:1x{threads}", f"native:{threads}x1"]


def run_worker(args: argparse.Namespace) -> dict:
    from translate_cli.core.decoding import DecodeOptions

    system, layout = args.config.split(":")
    lines = Path(args.src).read_text(encoding="utf-8").splitlines()[:args.lines or None]
    translator = make_translator(args, system, layout)
    options = DecodeOptions(beam_size=SEARCHES[args.search], nbest=1)
    translator.translate(lines[:8], options)  # warm-up
    seconds = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        outputs = translator.translate(lines, options)
        seconds = min(seconds, time.perf_counter() - started)
    return {"config": args.config, "search": args.search, "lines": len(lines), "seconds": round(seconds, 4),
            "lines_per_s": round(len(lines) / seconds, 1),
            "output_chars": sum(len(o.text) for o in outputs)}


def make_translator(args: argparse.Namespace, system: str, layout: str):
    from translate_cli.core.translator import Translator

    if system.startswith("ct2"):
        from translate_cli.core.ct2.runtime import CT2Searcher, CT2Threads, load_ct2

        threads, size = layout.split("/")
        inter, intra = (int(n) for n in threads.split("x"))
        folder = args.ct2_int8 if system == "ct2-int8" else args.ct2_fp32
        loaded = load_ct2(folder)
        loaded.searcher = CT2Searcher(Path(folder), loaded.searcher.pieces, loaded.info.model,
                                      layout=CT2Threads(inter, intra))
        loaded.searcher.max_batch_size = None if size == "rule" else int(size)
        return Translator(loaded)
    import torch

    from translate_cli.core.checkpoint import load_model
    from translate_cli.core.native import NativeSearcher

    workers, per_worker = (int(n) for n in layout.split("x"))
    torch.set_num_threads(per_worker)
    loaded = load_model(args.model)
    loaded.searcher = NativeSearcher(loaded.model, workers)
    return Translator(loaded)


def spawn(args: argparse.Namespace, config: str, search: str) -> dict:
    command = [sys.executable, __file__, "--worker", "--config", config, "--search", search, "--model", args.model,
               "--src", args.src, "--repeat", str(args.repeat), "--lines", str(args.lines),
               "--ct2-fp32", args.ct2_fp32, "--ct2-int8", args.ct2_int8]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{config}/{search} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lines", type=int, default=0, help="first N lines only (0: all)")
    parser.add_argument("--configs", default="", help="comma-separated; default: every ct2 and native layout")
    parser.add_argument("--searches", default="greedy,beam5")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default="docs/bench_threads.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--search", help=argparse.SUPPRESS)
    parser.add_argument("--ct2-fp32", default="", help=argparse.SUPPRESS)
    parser.add_argument("--ct2-int8", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args)))
        return
    configs = args.configs.split(",") if args.configs else ct2_configs(args.threads) + native_configs(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        if not args.ct2_fp32:
            for kind, option in (("fp32", "none"), ("int8", "int8")):
                folder = str(Path(scratch) / kind)
                subprocess.run([sys.executable, "-m", "translate_cli", "export", args.model, "-o", folder,
                                "--quantization", option], check=True, capture_output=True)
                setattr(args, f"ct2_{kind}", folder)
        plan = [(config, search) for search in args.searches.split(",") for config in configs]
        best: dict[tuple, dict] = {}
        for _ in range(args.rounds):
            for key in plan:
                row = spawn(args, *key)
                if key not in best or row["seconds"] < best[key]["seconds"]:
                    best[key] = row
    report([best[key] for key in plan], args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{rows[0]['lines']} lines, {args.threads} threads (ratio: vs the first row of its "
                        f"search and engine)")
    for column in ("search", "config", "lines/s", "ratio"):
        table.add_column(column, justify="left" if column in ("search", "config") else "right")
    first: dict[tuple, float] = {}
    for row in rows:
        engine = row["config"].split(":")[0]
        base = first.setdefault((row["search"], engine), row["lines_per_s"])
        row["ratio"] = round(row["lines_per_s"] / base, 2)
        table.add_row(row["search"], row["config"], f"{row['lines_per_s']:.1f}", f"{row['ratio']:.2f}")
    Console().print(table)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "threads": args.threads, "rows": rows},
                                          indent=2))


if __name__ == "__main__":
    main()
