"""Training throughput of tcli against Hugging Face MarianMTModel on identical batches, same run.

    python scripts/bench_train.py --config configs/en-ja.yaml data_root=../shared/data

Both models have the dimensions of the config's model section and the vocabulary of its prepared data
(run `tcli prepare` first); both train on the same token-budget batches from the training corpus with
AdamW, the same learning rate, dropout, label smoothing and gradient clipping, at the same thread
count, each in its own process (so peak RSS is its own). tcli trains through its real Trainer. Reports
target tokens/s, peak RSS, the ratio, and tcli's model-FLOPs utilisation against a matmul ceiling
measured on the spot (in the precision it trains in). Each system runs --rounds times, interleaved with
the others (the machines are shared and noisy); the fastest run of each counts. Prints a table and writes
JSON (--json). The tcli row trains in fp32 (a config's `precision: auto` is overridden); `--systems
hf,tcli,hf-bf16,tcli-bf16` adds both under bf16 autocast, and tcli-bf16 is compared with hf-bf16 (equal
precision). The tcli rows also report the share of padding in their batches (source and target positions).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def load(args: argparse.Namespace):
    from translate_cli import config as config_module
    from translate_cli.core.train.prepared import load_meta

    overrides = [f"train.threads={args.threads}", f"train.batch_tokens={args.batch_tokens}", *args.overrides]
    config = config_module.load(args.config, overrides)
    return config, load_meta(config.data_spec())


def marian(config, vocab_size: int):
    import torch
    from transformers import MarianConfig, MarianMTModel

    section = config.model
    hf_config = MarianConfig(vocab_size=vocab_size, decoder_vocab_size=vocab_size, d_model=section.d_model,
                             encoder_layers=section.encoder_layers, decoder_layers=section.decoder_layers,
                             encoder_attention_heads=section.heads, decoder_attention_heads=section.heads,
                             encoder_ffn_dim=section.ff_dim, decoder_ffn_dim=section.ff_dim, activation_function="relu",
                             dropout=section.dropout, attention_dropout=section.dropout, activation_dropout=0.0,
                             max_position_embeddings=1024, pad_token_id=0, eos_token_id=3, decoder_start_token_id=2,
                             scale_embedding=True, share_encoder_decoder_embeddings=True, tie_word_embeddings=True)
    torch.manual_seed(config.train.seed)
    return MarianMTModel(hf_config)


def hf_updates(config, meta, updates: int, warmup: int, bf16: bool = False) -> tuple[float, int]:
    """HF's standard recipe: model(...) logits over every position, CE with ignore_index for padding (under
    bf16 autocast with `bf16`, as tcli's precision: bf16 trains)."""
    import contextlib

    import numpy as np
    import torch
    import torch.nn.functional as F

    from translate_cli.core.data import BatchStream, ParallelCorpus, collate_update

    corpus = ParallelCorpus.open(Path(config.data_dir), "train", np.dtype(meta.dtype))
    stream = BatchStream([corpus], config.train.batch_tokens, config.train.seed)
    model = marian(config, meta.vocab_size).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr, betas=config.train.adam_betas)
    tokens, started = 0, 0.0
    for step in range(warmup + updates):
        if step == warmup:
            started = time.perf_counter()
        update = stream.next_update(config.train.accumulate)
        for batch in collate_update([corpus], update, torch.device("cpu")):
            labels = batch.target_out.masked_fill(batch.target_out == 0, -100)
            autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            with autocast:  # the loss inside it too, as Hugging Face's Trainer computes it (in fp32 there)
                logits = model(input_ids=batch.source, attention_mask=batch.source != 0,
                               decoder_input_ids=batch.target_in, decoder_attention_mask=batch.target_in != 0).logits
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100,
                                       label_smoothing=config.train.label_smoothing, reduction="sum")
            (loss / update.total_target_tokens).backward()
            tokens += batch.target_tokens if step >= warmup else 0
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.clip_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - started, tokens


def tcli_updates(config, meta, updates: int, warmup: int) -> tuple[float, int, dict]:
    from translate_cli.core.train.distributed import Dist
    from translate_cli.core.train.trainer import Trainer

    trainer = Trainer(config.train_job(meta), Dist())
    trainer.model.train()
    tokens, started = 0, 0.0
    counts = {"source": 0, "target": 0, "source_sq": 0, "target_sq": 0, "cross": 0, "padded": 0}
    for step in range(warmup + updates):
        if step == warmup:
            started = time.perf_counter()
        _, mine, _ = trainer.train_update()
        if step >= warmup:
            tokens += mine
            for batch in trainer.last_update.batches:  # real token counts, for the FLOP count
                source = trainer.stream.source_lengths[batch].astype("int64") + 1
                target = trainer.stream.target_lengths[batch].astype("int64") + 1
                counts["source"] += int(source.sum())
                counts["target"] += int(target.sum())
                counts["source_sq"] += int((source * source).sum())
                counts["target_sq"] += int((target * target).sum())
                counts["cross"] += int((source * target).sum())
                counts["padded"] += len(batch) * int(source.max() + target.max())
    return time.perf_counter() - started, tokens, counts


def model_flops(config, vocab_size: int, counts: dict) -> float:
    """Training FLOPs (forward + backward = 3x forward) of the real tokens: matmuls and attention."""
    d, ff = config.model.d_model, config.model.ff_dim
    encoder = config.model.encoder_layers * (4 * d * d + 2 * d * ff)
    decoder = config.model.decoder_layers * (8 * d * d + 2 * d * ff)
    forward = 2 * (encoder * counts["source"] + decoder * counts["target"] + d * vocab_size * counts["target"])
    # Attention scores and weighted sums: 4 * d per query-key pair (causal self-attention: half).
    forward += 4 * d * (config.model.encoder_layers * counts["source_sq"]
                        + config.model.decoder_layers * (counts["target_sq"] / 2 + counts["cross"]))
    return 3.0 * forward


def matmul_ceiling(threads: int, dtype_name: str = "fp32") -> float:
    """Best GFLOP/s of large matrix products on this machine, now, in fp32 or bf16."""
    import torch

    torch.set_num_threads(threads)
    dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float32
    best = 0.0
    for n in (512, 1024):
        a, b = torch.randn(2048, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        started = time.perf_counter()
        for _ in range(10):
            a @ b
        best = max(best, 10 * 2 * 2048 * n * n / (time.perf_counter() - started) / 1e9)
    return best


def worker(args: argparse.Namespace) -> dict:
    import torch

    if args.system.startswith("tcli"):  # each tcli row trains in the precision its name says, whatever the config says
        args.overrides = [*args.overrides, f"train.precision={'bf16' if args.system == 'tcli-bf16' else 'fp32'}"]
    config, meta = load(args)
    torch.set_num_threads(args.threads)
    if args.system.startswith("hf"):
        seconds, tokens = hf_updates(config, meta, args.updates, args.warmup, bf16=args.system == "hf-bf16")
        extra = {}
    else:
        seconds, tokens, counts = tcli_updates(config, meta, args.updates, args.warmup)
        flops = model_flops(config, meta.vocab_size, counts)
        ceiling = matmul_ceiling(args.threads, config.train.precision)
        extra = {"model_gflops_per_s": round(flops / seconds / 1e9, 1), "matmul_ceiling_gflops_per_s": round(ceiling, 1),
                 "mfu": round(flops / seconds / 1e9 / ceiling, 3),
                 "padding_share": round(1 - (counts["source"] + counts["target"]) / counts["padded"], 4)}
    return {"system": args.system, "updates": args.updates, "target_tokens": tokens, "seconds": round(seconds, 2),
            "target_tokens_per_s": round(tokens / seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. data_root=../shared/data")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--updates", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-tokens", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each system, interleaved; the fastest counts")
    parser.add_argument("--systems", default="hf,tcli", help="hf, tcli, hf-bf16, tcli-bf16 (hf first: the peer)")
    parser.add_argument("--json", default="docs/bench_train.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--system", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    best: dict[str, dict] = {}
    systems = args.systems.split(",")
    if systems[0] != "hf" or not set(systems) <= {"hf", "tcli", "hf-bf16", "tcli-bf16"}:
        raise SystemExit("--systems: hf first, then tcli, hf-bf16 and/or tcli-bf16")
    for system in systems * args.rounds:  # interleaved: a slow spell of the machine hits both alike
        command = [sys.executable, __file__, "--worker", "--system", system, "--config", args.config,
                   "--threads", str(args.threads), "--updates", str(args.updates), "--warmup", str(args.warmup),
                   "--batch-tokens", str(args.batch_tokens), *args.overrides]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"{system} failed:\n{done.stderr[-3000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        if system not in best or row["target_tokens_per_s"] > best[system]["target_tokens_per_s"]:
            best[system] = row
    report([best[system] for system in systems], args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    """Each tcli row against its peer at equal precision (tcli-bf16 against hf-bf16 when it ran, else hf)."""
    from rich.console import Console
    from rich.table import Table

    by_system = {row["system"]: row for row in rows}
    ratio = {}
    for row in rows:
        if not row["system"].startswith("tcli"):
            continue
        peer = by_system.get(row["system"].replace("tcli", "hf"), by_system["hf"])
        name = f"{row['system'].replace('-', '_')}_over_{peer['system'].replace('-', '_')}"
        ratio[f"tokens_per_s_{name}"] = round(row["target_tokens_per_s"] / peer["target_tokens_per_s"], 2)
        ratio[f"peak_rss_{name}"] = round(row["peak_rss_mb"] / peer["peak_rss_mb"], 2)
        row["peer"] = peer["system"]
    table = Table(title=f"training {args.updates} updates of {args.batch_tokens} tokens, {args.threads} threads")
    for column in ("system", "target tok/s", "peak RSS MB", "MFU", "padding"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for row in rows:
        mfu = f"{row['mfu']:.1%} of {row['matmul_ceiling_gflops_per_s']:.0f} GFLOP/s" if "mfu" in row else "-"
        padding = f"{row['padding_share']:.1%}" if "padding_share" in row else "-"
        table.add_row(row["system"], f"{row['target_tokens_per_s']:.0f}", f"{row['peak_rss_mb']:.0f}", mfu, padding)
    for row in rows:
        if "peer" in row:
            name = f"{row['system'].replace('-', '_')}_over_{row['peer'].replace('-', '_')}"
            table.add_row(f"{row['system']} ÷ {row['peer']}", f"{ratio[f'tokens_per_s_{name}']:.2f}x",
                          f"{ratio[f'peak_rss_{name}']:.2f}x", "", "")
    Console().print(table)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows, **ratio}, indent=2))


if __name__ == "__main__":
    main()
