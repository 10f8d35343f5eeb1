"""tcli train: run the trainer (core/train/trainer.py) on prepared data, showing progress and dev scores.

The work directory (core/train/run_dir.py) holds config.yaml (resolved), log.jsonl, best/ and last/.
"""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path

import torch

from translate_cli import console
from translate_cli.config import Config, dump
from translate_cli.core.train import distributed, rng, run_dir
from translate_cli.core.train.prepared import load_meta
from translate_cli.core.train.schedule import StopReason
from translate_cli.core.train.trainer import StopFlag, Trainer, native_bf16
from translate_cli.errors import Interrupted


def run(config: Config, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Train (one process, or one rank of a torchrun job); returns the work directory."""
    job = config.train_job(load_meta(config.data_spec()))
    group = distributed.setup()
    try:
        if group.is_main:
            job.work.mkdir(parents=True, exist_ok=True)
        with run_dir.RunLock(job.work) if group.is_main else contextlib.nullcontext():
            if job.train.threads:
                torch.set_num_threads(job.train.threads)
            rng.seed_everything(job.train.seed)
            trainer = Trainer(job, group)  # DDP makes every rank start from rank 0's weights
            if group.rank:
                torch.manual_seed(job.train.seed + 1_000_003 * group.rank)  # own dropout masks per rank
            started = trainer.begin(resume, overwrite)
            if started:
                console.info(started)
            if trainer.saved_world != group.world and group.is_main:
                console.warn(f"resuming with {group.world} processes a run saved with {trainer.saved_world}: random "
                             f"streams (dropout) will differ from an uninterrupted run")
            if group.is_main:
                (job.work / "config.yaml").write_text(dump(config), encoding="utf-8")
            with run_dir.MetricsLog(job.work, group.is_main, job.train.tensorboard) as log:
                if resume:
                    log({"type": "resume", "step": trainer.state.step})
                _train(trainer, log)
        if group.enabled:
            # A clean shutdown under torchrun: no rank leaves while another still writes or communicates, and
            # DDP's reducer (which holds the process group and its gloo worker threads) is freed while the
            # interpreter is whole, not during its finalisation, where gloo can abort the process.
            distributed.barrier(group)
            del trainer
            gc.collect()
    finally:
        distributed.teardown(group)
    return job.work


def _train(trainer: Trainer, log) -> StopReason:
    settings, group, work = trainer.settings, trainer.group, trainer.job.work
    if group.is_main:
        params = sum(p.numel() for p in trainer.model.parameters())
        console.info(f"model: {params / 1e6:.1f}M parameters, device {trainer.device}, {trainer.precision}, "
                     f"{torch.get_num_threads()} threads, {group.world} process(es), {len(trainer.corpus):,} "
                     "training pairs")
        if trainer.precision == "bf16" and not native_bf16(trainer.device):
            console.warn(f"train.precision: bf16 on {trainer.device} without native bf16 matrix products is slower "
                         "than fp32; use auto or fp32")
    with console.training_progress() if group.is_main else console.silent_progress() as progress, \
            StopFlag() as stop:
        task = progress.add_task("train", total=settings.max_steps, completed=trainer.state.step, loss="-", lr="-",
                                 tps="-")

        def report(step: int, entry: dict | None, result: dict | None) -> None:
            shown = dict(loss=f"{entry['loss']:.3f}", lr=f"{entry['lr']:.2e}", tps=f"{entry['tokens_per_s']:,}") \
                if entry else {}
            progress.update(task, completed=step, **shown)
            if result is not None:
                parts = [f"step {step}"] + [f"{k} {v}" for k, v in result.items() if k not in ("step", "best")]
                progress.console.print("[cyan]dev[/cyan] " + "  ".join(parts))
        reason = trainer.run(log, report, stop)
    step = trainer.state.step
    if reason is StopReason.INTERRUPTED:
        raise Interrupted(f"interrupted at step {step}; saved {work / 'last'}; continue with `tcli train ... --resume`")
    if not group.is_main:
        return reason
    if reason is StopReason.MAX_MINUTES:
        console.info(f"stopping after {settings.max_minutes} minutes (train.max_minutes)")
    elif reason is StopReason.PATIENCE:
        console.info(f"stopping early: no better dev {settings.best_metric} in {settings.patience} validations "
                     f"(train.patience)")
    if settings.average_last:
        folder, _ = run_dir.average_run(work, settings.average_last, work / "averaged")
        console.info(f"averaged the last {settings.average_last} checkpoints into {folder}")
    if trainer.state.best is not None:
        console.info(f"best {settings.best_metric} {trainer.state.best} at step {trainer.state.best_step}; "
                     f"model in {work / 'best'}", "[green]done:[/green] ")
    return reason
