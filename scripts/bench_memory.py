"""Training memory does not grow with the corpus: 2 million pairs against 50 thousand, same run.

    python scripts/bench_memory.py --shared ../shared/data

Builds a synthetic corpus of --pairs pairs (tanaka50k sentences, each made unique by a numbered
suffix so cleaning keeps them) in --work, prepares it with `tcli prepare` (which streams it: its
throughput in lines/s and its peak RSS are reported), then trains the same model for --steps updates
on it and on tanaka50k itself, each in its own process, and compares the peak RSS of both steps.
SentencePiece keeps its training sample (vocab.max_sentences) in memory, a bound the config sets, not the
corpus: --vocab-sentences (default 100,000, all of tanaka50k's sentences) is the same for both corpora, so
the comparison shows what grows with the corpus itself.
Prints a table and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CONFIG = """\
# memory benchmark: python scripts/bench_memory.py (tcli prepare/train on {name})
name: {name}
target_langs: [ja]
data_root: {root}
work_dir: {work}/runs/{name}
data_dir: {work}/runs/{name}/data
data:
  train: [{{prefix: {train}}}]
  dev: [{{prefix: {dev}}}]
normalize:
  en: {{lowercase: true}}
  ja: {{unicode_form: NFC}}
clean: {{max_length_ratio: 6.0}}
vocab: {{size: 8000, max_sentences: {vocab_sentences}}}
model: {{d_model: 256, heads: 4, encoder_layers: 3, decoder_layers: 3, ff_dim: 1024}}
train: {{max_steps: {steps}, batch_tokens: 2048, eval_every: 100000, eval_sentences: 0, log_every: 10, threads: 2}}
"""


def synthesize(shared: Path, folder: Path, pairs: int) -> None:
    """Write `pairs` unique pairs, streaming (the corpus never sits in memory)."""
    source = (shared / "en-ja/tanaka50k/train.en").read_text(encoding="utf-8").splitlines()
    target = (shared / "en-ja/tanaka50k/train.ja").read_text(encoding="utf-8").splitlines()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "train.en", "w", encoding="utf-8") as en, open(folder / "train.ja", "w", encoding="utf-8") as ja:
        for i in range(pairs):
            en.write(f"{source[i % len(source)]} ({i})\n")
            ja.write(f"{target[i % len(target)]}（{i}）\n")


def measured(command: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child process, from its own rusage."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def line_count(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("--work", default="/tmp/tcli-bench-memory")
    parser.add_argument("--pairs", type=int, default=2_000_000)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--vocab-sentences", type=int, default=100_000)
    parser.add_argument("--json", default="docs/bench_memory.json")
    args = parser.parse_args()
    shared, work = Path(args.shared).resolve(), Path(args.work).resolve()
    synthetic = work / "synthetic"
    if not (synthetic / "train.en").is_file() or line_count(synthetic / "train.en") != args.pairs:
        synthesize(shared, synthetic, args.pairs)
    corpora = {"tanaka50k": (shared, "en-ja/tanaka50k/train", "en-ja/tanaka50k/dev"),
               f"synthetic{args.pairs // 1000}k": (work, "synthetic/train", "dev/dev")}
    (work / "dev").mkdir(exist_ok=True)
    for lang in ("en", "ja"):
        (work / "dev" / f"dev.{lang}").write_bytes((shared / f"en-ja/tanaka50k/dev.{lang}").read_bytes())
    rows = []
    for name, (root, train, dev) in corpora.items():
        config = work / f"{name}.yaml"
        config.write_text(CONFIG.format(name=name, root=root, work=work, train=train, dev=dev, steps=args.steps,
                                              vocab_sentences=args.vocab_sentences))
        tcli = [sys.executable, "-m", "translate_cli"]
        prepare_s, prepare_rss = measured([*tcli, "prepare", str(config), "--force"], work)
        meta = json.loads((work / "runs" / name / "data" / "meta.json").read_text())
        read = sum(c["read"] for c in meta["corpora"])
        train_s, train_rss = measured([*tcli, "train", str(config), "--overwrite"], work)
        rows.append({"corpus": name, "pairs_read": read, "pairs_kept": meta["pairs"]["train"],
                     "prepare_seconds": round(prepare_s, 1), "prepare_lines_per_s": round(2 * read / prepare_s),
                     "prepare_peak_rss_mb": round(prepare_rss), "train_steps": args.steps,
                     "train_seconds": round(train_s, 1), "train_peak_rss_mb": round(train_rss)})
    report(rows, args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    small, large = rows
    growth = round(large["train_peak_rss_mb"] / small["train_peak_rss_mb"] - 1, 4)
    prepare_growth = round(large["prepare_peak_rss_mb"] / small["prepare_peak_rss_mb"] - 1, 4)
    table = Table(title="peak resident memory: training does not grow with the corpus")
    for column in ("corpus", "pairs", "prepare lines/s", "prepare peak RSS MB", "train peak RSS MB"):
        table.add_column(column, justify="left" if column == "corpus" else "right")
    for row in rows:
        table.add_row(row["corpus"], f"{row['pairs_read']:,}", f"{row['prepare_lines_per_s']:,}",
                      f"{row['prepare_peak_rss_mb']:,}", f"{row['train_peak_rss_mb']:,}")
    Console().print(table)
    Console().print(f"prepare peak RSS on {large['corpus']} vs {small['corpus']}: {prepare_growth:+.1%} "
                    f"(target: within 25%; vocab.max_sentences={args.vocab_sentences:,} for both)")
    Console().print(f"training peak RSS on {large['corpus']} vs {small['corpus']}: {growth:+.1%} (target: within 10%)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows,
                                           "train_rss_growth": growth,
                                           "prepare_rss_growth": prepare_growth}, indent=2))


if __name__ == "__main__":
    main()
