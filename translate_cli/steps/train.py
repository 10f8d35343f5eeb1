"""tcli train: teacher-forced training with periodic validation, `best` and `last` checkpoints.

The work directory holds config.yaml (resolved), log.jsonl (metrics), best/ (a self-contained model
directory) and last/ (the same plus optimizer and trainer state, for --resume).
"""

from __future__ import annotations

import contextlib
import gc
import json
import shutil
import signal
import threading
import time
from pathlib import Path

import torch

from translate_cli import console
from translate_cli.config import Config, dump
from translate_cli.core import distributed, training
from translate_cli.errors import DataError, TcliError
from translate_cli.steps import averaging, prepare
from translate_cli.steps.runstate import RunLock, check_compatible, load_weights
from translate_cli.steps.trainer import Trainer


class Interrupted(TcliError):
    """Training stopped by Ctrl-C after saving `last`."""


def load_prepared_meta(config: Config) -> dict:
    """meta.json of the prepared data, checked against the config's current inputs and settings."""
    folder = config.data_path
    meta_path = folder / prepare.META
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: not found; run `tcli prepare` with the same config first")
    digest, _ = prepare.fingerprint(config, prepare.corpus_files(config))
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError:
        raise DataError(f"{meta_path}: damaged (not JSON); run `tcli prepare ... --force` again") from None
    missing = [name for name in meta.get("files", []) if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder / missing[0]}: missing from the prepared data; run `tcli prepare ... --force` again")
    if meta.get("fingerprint") != digest:
        raise DataError(f"{folder}: prepared from other inputs or settings than this config; "
                        f"run `tcli prepare` with this config again")
    return meta


def run(config: Config, resume: bool = False, overwrite: bool = False) -> Path:
    """Train (one process, or one rank of a torchrun job); returns the work directory."""
    meta = load_prepared_meta(config)
    work = config.work_path
    group = distributed.setup()
    try:
        if group.is_main:
            work.mkdir(parents=True, exist_ok=True)
        lock = RunLock(work) if group.is_main else contextlib.nullcontext()
        with lock:
            if config.train.threads:
                torch.set_num_threads(config.train.threads)
            training.seed_everything(config.train.seed)
            trainer = Trainer(config, meta, group)  # DDP makes every rank start from rank 0's weights
            if group.rank:
                torch.manual_seed(config.train.seed + 1_000_003 * group.rank)  # own dropout masks per rank
            _start(trainer, resume, overwrite)
            if group.is_main:
                (work / "config.yaml").write_text(dump(config), encoding="utf-8")
            with MetricsLog(work, group.is_main, config.train.tensorboard) as log:
                if resume:
                    log({"type": "resume", "step": trainer.state.step})
                _loop(trainer, log)
        if group.enabled:
            # A clean shutdown under torchrun: no rank leaves while another still writes or communicates, and
            # DDP's reducer (which holds the process group and its gloo worker threads) is freed while the
            # interpreter is whole, not during its finalisation, where gloo can abort the process.
            distributed.barrier(group)
            del trainer
            gc.collect()
    finally:
        distributed.teardown(group)
    return work


class MetricsLog:
    """log.jsonl (appended to, never overwritten) and optionally TensorBoard; rank 0 only."""

    def __init__(self, work: Path, enabled: bool, tensorboard: bool):
        self.work, self.enabled, self.tensorboard = work, enabled, tensorboard
        self.file = self.writer = None

    def __enter__(self) -> "MetricsLog":
        if self.enabled:
            self.file = open(self.work / "log.jsonl", "a", encoding="utf-8")
            if self.tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:
                    raise TcliError("train.tensorboard: true needs tensorboard: pip install -e \".[tensorboard]\"") from None
                self.writer = SummaryWriter(str(self.work / "tensorboard"))
        return self

    def __call__(self, entry: dict) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps({"time": round(time.time(), 3), **entry}) + "\n")
        self.file.flush()
        if self.writer is not None and entry.get("type") in ("train", "dev"):
            for key, value in entry.items():
                if key not in ("type", "step", "time") and isinstance(value, (int, float)) and value is not None:
                    self.writer.add_scalar(f"{entry['type']}/{key}", value, entry["step"])
            self.writer.flush()

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()
        if self.writer is not None:
            self.writer.close()


def _start(trainer: Trainer, resume: bool, overwrite: bool) -> None:
    """Resume from `last`, or start fresh (optionally from another model's weights)."""
    config, work = trainer.config, trainer.config.work_path
    if resume:
        trainer.restore()
        console.info(f"resuming {work} from step {trainer.state.step}")
        return
    refusal = None
    if trainer.group.is_main:
        if overwrite:
            _remove_run_outputs(work)
        elif (work / "last").exists() or (work / ".last.old").exists():
            refusal = (f"{work}: already holds a training run; continue it with --resume, replace it with "
                       f"--overwrite, or choose another work_dir=...")
    refusal = distributed.broadcast(trainer.group, refusal)  # every rank stops, none waits in a collective
    if refusal:
        raise TcliError(refusal)
    if config.train.init_from:
        source = Path(config.train.init_from)
        check_compatible(source, trainer.model_config, trainer.tokenizer.path)
        load_weights(source, trainer.model)
        console.info(f"starting from the weights of {source}")


def _remove_run_outputs(work: Path) -> None:
    """What a fresh run would write; the prepared data (and anything else) in work_dir stays."""
    for name in ("best", "last", ".best.tmp", ".last.tmp", ".best.old", ".last.old", "checkpoints", "averaged",
                 "tensorboard"):
        shutil.rmtree(work / name, ignore_errors=True)
    (work / "log.jsonl").unlink(missing_ok=True)


class StopFlag:
    """Ctrl-C asks training to stop after the update in flight, so `last` holds a consistent state.

    A second Ctrl-C interrupts at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (a scheduler's or torchrun's polite stop) is handled like a first Ctrl-C.
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in (self._previous or {}).items():
            signal.signal(sig, handler)


def _loop(trainer: Trainer, log) -> None:
    train, group = trainer.config.train, trainer.group
    params = sum(p.numel() for p in trainer.model.parameters())
    if group.is_main:
        console.info(f"model: {params / 1e6:.1f}M parameters, device {trainer.device}, {torch.get_num_threads()} "
                     f"threads, {group.world} process(es), {len(trainer.corpus):,} training pairs")
    trainer.model.train()
    meter = _Meter(trainer)
    progress_bar = console.training_progress() if group.is_main else console.silent_progress()
    with progress_bar as progress, StopFlag() as stop:
        task = progress.add_task("train", total=train.max_steps, completed=trainer.state.step, loss="-", lr="-",
                                 tps="-")
        while trainer.state.step < train.max_steps:
            loss, tokens, all_tokens = trainer.train_update()
            meter.add(loss, tokens, all_tokens)
            step = trainer.state.step
            interrupted, out_of_time = _stop_signals(trainer, stop)
            if step % train.log_every == 0 or step == train.max_steps or out_of_time or interrupted:
                entry = meter.flush(log)
                progress.update(task, completed=step, loss=f"{entry['loss']:.3f}", lr=f"{entry['lr']:.2e}",
                                tps=f"{entry['tokens_per_s']:,}")
            else:
                progress.update(task, completed=step)
            final = step == train.max_steps or out_of_time
            if group.is_main and train.keep_checkpoints and (
                    step % (train.checkpoint_every or train.eval_every) == 0 or final):
                averaging.save_checkpoint(trainer.config.work_path, step, trainer.model, train.keep_checkpoints)
            patience_out = False
            if step % train.eval_every == 0 or step == train.max_steps or out_of_time:
                result = trainer.validate_and_save(log)
                if result is not None:
                    progress.console.print(_describe(result))
                patience_out = distributed.broadcast(group, _patience_exhausted(trainer))
            if interrupted:
                rng = distributed.gather(group, training.rng_state())
                if group.is_main:
                    trainer.save_last(rng)
                distributed.barrier(group)  # no rank exits (and gets the job torn down) before the save
                log({"type": "interrupted", "step": step})
                raise Interrupted(f"interrupted at step {step}; saved {trainer.config.work_path / 'last'}; "
                                  f"continue with `tcli train ... --resume`")
            if out_of_time or patience_out:
                if group.is_main:
                    console.info(f"stopping after {train.max_minutes} minutes (train.max_minutes)" if out_of_time else
                                 f"stopping early: no better dev {train.best_metric} in {train.patience} validations "
                                 f"(train.patience)")
                break
    _finish(trainer)


def _stop_signals(trainer: Trainer, stop: "StopFlag") -> tuple[bool, bool]:
    """(interrupted, out of time), agreed by all ranks. Under torchrun the ranks compare notes only at
    logging steps: one small all-reduce there instead of a synchronisation every step."""
    train, group, step = trainer.config.train, trainer.group, trainer.state.step
    out_of_time = train.max_minutes is not None and trainer.state.elapsed > 60 * train.max_minutes
    if not group.enabled:
        return stop.requested, out_of_time
    if step % train.log_every and step != train.max_steps:
        return False, False
    flags = distributed.any_rank(group, stop.requested, trainer.device), \
        distributed.any_rank(group, out_of_time, trainer.device)
    return flags


def _patience_exhausted(trainer: Trainer) -> bool:
    """Early stopping: `patience` validations in a row without a better dev metric."""
    patience = trainer.config.train.patience
    if not patience or not trainer.group.is_main:
        return False
    since_best = [entry for entry in trainer.state.history if entry["step"] > trainer.state.best_step]
    return len(since_best) >= patience


def _finish(trainer: Trainer) -> None:
    train = trainer.config.train
    if not trainer.group.is_main:
        return
    if train.average_last:
        folder = averaging.average_run(trainer.config.work_path, train.average_last,
                                       trainer.config.work_path / "averaged")
        console.info(f"averaged the last {train.average_last} checkpoints into {folder}")
    if trainer.state.best is not None:
        console.info(f"best {train.best_metric} {trainer.state.best} at step {trainer.state.best_step}; "
                     f"model in {trainer.config.work_path / 'best'}", "[green]done:[/green] ")


class _Meter:
    """Loss and throughput over the current logging window; the loss is read (a device sync) only on flush."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.started, self.elapsed_before = time.time(), trainer.state.elapsed
        self._reset()

    def _reset(self) -> None:
        self.loss, self.tokens, self.all_tokens, self.window_start = None, 0, 0, time.time()

    def add(self, loss: torch.Tensor, tokens: int, all_tokens: int) -> None:
        self.loss = loss if self.loss is None else self.loss + loss
        self.tokens += tokens
        self.all_tokens += all_tokens
        self.trainer.state.elapsed = self.elapsed_before + time.time() - self.started

    def flush(self, log) -> dict:
        trainer = self.trainer
        seconds = max(time.time() - self.window_start, 1e-9)
        entry = {"type": "train", "step": trainer.state.step, "loss": round(float(self.loss) / self.tokens, 4),
                 "lr": trainer.optimizer.param_groups[0]["lr"], "tokens_per_s": round(self.all_tokens / seconds),
                 "epoch": trainer.stream.epoch, "elapsed_s": round(trainer.state.elapsed, 1)}
        log(entry)
        self._reset()
        return entry


def _describe(result: dict) -> str:
    parts = [f"step {result['step']}"]
    parts += [f"{key} {value}" for key, value in result.items() if key not in ("step", "best")]
    return "[cyan]dev[/cyan] " + "  ".join(parts)
