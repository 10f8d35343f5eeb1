"""Where a training update spends its time: torch.profiler over tcli's real Trainer updates (the batches of
scripts/bench_train.py), grouped by operator, and the share of padding in those batches.

    python scripts/profile_train.py --config configs/en-ja.yaml data_root=../shared/data --precision fp32

Prints the top operators by self CPU time (matrix products, attention, layer norm, dropout, the loss...),
the share of matmul-like operators, the padding share, and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

MATMUL = ("addmm", "mm", "bmm", "matmul", "linear", "baddbmm", "_mkldnn", "onednn", "mkldnn")


def padding_share(trainer, updates: int) -> dict:
    """Padded positions over all positions of the source and target tensors of `updates` batches."""
    real = padded = 0
    for _ in range(updates):
        update = trainer.stream.next_update(trainer.settings.accumulate)
        for batch in update.batches:
            source = trainer.stream.source_lengths[batch].astype("int64") + 1
            target = trainer.stream.target_lengths[batch].astype("int64") + 1
            real += int(source.sum() + target.sum())
            padded += len(batch) * int(source.max() + target.max())
    return {"real_tokens": real, "padded_tokens": padded, "padding_share": round(1 - real / padded, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", default="docs/profile_train.json")
    args = parser.parse_args()
    import torch
    from rich.console import Console
    from rich.table import Table
    from torch.profiler import ProfilerActivity, profile

    from translate_cli import config as config_module
    from translate_cli.core.train.distributed import Dist
    from translate_cli.core.train.prepared import load_meta
    from translate_cli.core.train.trainer import Trainer

    torch.set_num_threads(args.threads)
    config = config_module.load(args.config, [*args.overrides, f"train.precision={args.precision}",
                                              f"train.threads={args.threads}"])
    trainer = Trainer(config.train_job(load_meta(config.data_spec())), Dist())
    trainer.model.train()
    for _ in range(3):
        trainer.train_update()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.updates):
            trainer.train_update()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)
    matmul = sum(e.self_cpu_time_total for e in rows if any(m in e.key for m in MATMUL))
    report = {"config": args.config, "precision": args.precision, "updates": args.updates,
              "total_ms": round(total / 1000, 1), "matmul_share": round(matmul / total, 3),
              "ops": [{"op": e.key, "calls": e.count, "self_ms": round(e.self_cpu_time_total / 1000, 1),
                       "share": round(e.self_cpu_time_total / total, 3)} for e in rows[:args.top]],
              "padding": padding_share(trainer, 200)}
    table = Table(title=f"{args.updates} updates, {args.precision}: {report['total_ms']:,} ms of operator time, "
                        f"matmul-like {report['matmul_share']:.1%}, padding {report['padding']['padding_share']:.1%}")
    for column in ("operator", "calls", "self ms", "share"):
        table.add_column(column, justify="left" if column == "operator" else "right")
    for op in report["ops"]:
        table.add_row(op["op"], f"{op['calls']:,}", f"{op['self_ms']:,}", f"{op['share']:.1%}")
    Console().print(table)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
