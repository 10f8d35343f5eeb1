"""Where native decoding spends its time: torch.profiler over tcli's search and over Hugging Face generate()
on the same batches (the peer of scripts/bench_decode.py), at equal work, grouped by operator.

    python scripts/profile_decode.py --model runs/en-ja/best --src ../shared/data/en-ja/tanaka50k/test.en

Prints, for each system, the share of CPU time in the top operators and the total, and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_decode  # noqa: E402  (the same batches, runners and HF peer)


def profile(args: argparse.Namespace, system: str, beam: int, top: int) -> dict:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    run_args = argparse.Namespace(**{**vars(args), "system": system, "mode": "equal", "hf_folder": None, "to": None})
    batches = bench_decode.source_batches(run_args, beam)
    run = bench_decode.make_runner(run_args, beam)
    run(batches[:1])  # warm-up
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        run(batches)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {"system": system, "beam": beam, "total_ms": round(total / 1000, 1),
            "ops": [{"op": e.key, "calls": e.count, "self_ms": round(e.self_cpu_time_total / 1000, 1),
                     "share": round(e.self_cpu_time_total / total, 3)} for e in rows]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--batch-tokens", type=int, default=6000)
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--json", default="docs/profile_decode.json")
    args = parser.parse_args()
    import torch
    from rich.console import Console
    from rich.table import Table

    torch.set_num_threads(args.threads)
    results = [profile(args, system, beam, args.top) for beam in (1, 5) for system in ("tcli", "hf")]
    for result in results:
        table = Table(title=f"{result['system']}, beam {result['beam']}: {result['total_ms']:,} ms of operator time")
        for column in ("operator", "calls", "self ms", "share"):
            table.add_column(column, justify="left" if column == "operator" else "right")
        for op in result["ops"]:
            table.add_row(op["op"], f"{op['calls']:,}", f"{op['self_ms']:,}", f"{op['share']:.1%}")
        Console().print(table)
    Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=2))


if __name__ == "__main__":
    main()
