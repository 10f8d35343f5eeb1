"""Training: settings, schedule, one update, validation, `best`/`last`, and the loop that ties them.

Under torchrun each rank holds a replica wrapped in DistributedDataParallel and takes its own share of
every update's batches; only rank 0 validates and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from translate_cli.core.checkpoint import LoadedModel, ModelInfo, load_weights_into, recover_dir, save_model
from translate_cli.core.data import BatchStream, ParallelCorpus, TokenIds, collate_update
from translate_cli.core.model import Seq2SeqTransformer
from translate_cli.core.tokenizer import load_tokenizer
from translate_cli.core.train import distributed, rng, run_dir
from translate_cli.core.train.loss import loss_sum
from translate_cli.core.train.schedule import Schedule, StopReason, TrainJob, TrainSettings, TrainState
from translate_cli.core.train.validation import validate
from translate_cli.errors import CheckpointError, ConfigError, TcliError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
CPU_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}  # /proc/cpuinfo flags of native bf16 matrix instructions


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The x86 feature flags Linux reports (empty elsewhere)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix products run at least as fast as fp32 on this device (measured on an EPYC with
    AVX-512-BF16: 2.2-2.5x fp32; on CPUs without it, PyTorch emulates them, far slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(cpu_flags() & CPU_BF16_FLAGS)


def resolve_precision(precision: str, device: torch.device) -> str:
    """The autocast precision a run uses: `auto` becomes bf16 or fp32; fp16 needs CUDA."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("train.precision: fp16 needs a CUDA device; use bf16, auto or fp32 on CPU")
    return precision


def make_optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """AdamW, fused into one kernel where this PyTorch build supports it on the device, else foreach."""
    options = dict(lr=settings.lr, betas=settings.adam_betas, weight_decay=settings.weight_decay)
    if settings.fused_optimizer:
        try:
            return torch.optim.AdamW(model.parameters(), fused=True, **options)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.AdamW(model.parameters(), foreach=True, **options)


class Trainer:
    """Model, optimizer, data stream and state of one training run, on one rank."""

    def __init__(self, job: TrainJob, group: distributed.Dist):
        self.job, self.settings, self.group = job, job.train, group
        self.device = distributed.device_for(group)
        meta = job.meta
        self.tokenizer = load_tokenizer(job.data_dir, meta.tokenizer)
        self.ids = TokenIds.of(job.model)
        dtype = np.dtype(meta.dtype)
        self.corpus = ParallelCorpus.open(job.data_dir, "train", dtype)
        # Subword sampling: the prepared sampled segmentations, one per epoch in turn.
        self.corpora = [ParallelCorpus.open(job.data_dir, f"train.s{k}", dtype)
                        for k in range(meta.sampled_copies)] or [self.corpus]
        self.dev = ParallelCorpus.open(job.data_dir, "dev", dtype) if meta.pairs.get("dev") else None
        self.model = Seq2SeqTransformer(job.model).to(self.device)
        self.optimizer = make_optimizer(self.model, self.settings)
        self.stream = BatchStream(self.corpora, self.settings.batch_tokens, self.settings.seed, group.rank, group.world)
        self.schedule = Schedule(self.settings)
        self.state = TrainState()
        self.info = ModelInfo(model=job.model, source_lang=meta.source_lang, target_langs=list(meta.target_langs),
                              normalize=dict(meta.normalize), decode=job.decode,
                              training={"config": job.name, "data_fingerprint": meta.fingerprint},
                              tokenizer=self.tokenizer.kind, lang_tokens=dict(meta.lang_tokens))
        self.precision = resolve_precision(self.settings.precision, self.device)
        self.autocast_dtype = PRECISIONS[self.precision]
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.forward_model: torch.nn.Module = self.model
        if group.enabled:
            self.forward_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if self.settings.compile:
            self.forward_model = torch.compile(self.forward_model, dynamic=True)
        self.saved_world = group.world  # the world size `last` was saved with (set on resume)
        self.last_update = None  # the batches of the newest update (benchmarks count their tokens)

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def train_update(self) -> tuple[torch.Tensor, int, int]:
        """One update over this rank's micro-batches: (summed loss, this rank's tokens, all ranks' tokens).

        The loss is normalised by the target tokens of the whole update on all ranks (known from the
        batch plan, no communication) and multiplied by the world size, because DDP averages gradients:
        N ranks then produce exactly the gradient of one process accumulating all N ranks' batches.
        """
        settings = self.settings
        update = self.last_update = self.stream.next_update(settings.accumulate)
        self.state.step += 1
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.lr(self.state.step)
        scale = self.group.world / update.total_target_tokens
        total = torch.zeros((), device=self.device)
        batches = collate_update(self.corpora, update, self.device, self.ids)
        weight, bias = self.model.embedding.weight, self.model.output_bias
        for index, batch in enumerate(batches):
            last = index == len(batches) - 1
            sync = contextlib.nullcontext() if last or not self.group.enabled else self.forward_model.no_sync()
            with sync:
                with self._autocast():
                    loss = loss_sum(self.forward_model, batch, settings.label_smoothing, weight, bias)
                scaled = loss * scale
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            total += loss.detach()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        if settings.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), settings.clip_norm)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total, sum(b.target_tokens for b in batches), update.total_target_tokens

    def _snapshot(self) -> LoadedModel:
        """The model as it is now, with model.json's training record at the current step."""
        info = replace(self.info, training={**self.info.training, "step": self.state.step})
        return LoadedModel(info, self.model, self.tokenizer, self.job.work)

    def evaluate(self) -> dict:
        """Dev loss and dev BLEU/chrF of the current weights (rank 0)."""
        with self._autocast():
            result = validate(self._snapshot(), self.dev, self.job.data_dir, self.settings.eval_sentences,
                              self.job.decode.batch_tokens)
        return {"step": self.state.step, **result}

    def save_best_if_improved(self, result: dict) -> bool:
        """Write `best/` when the dev metric improved. Without dev scores (eval_sentences: 0, or no dev
        data) `best` is the newest model, so a run always leaves a usable best/."""
        metric = {"bleu": "bleu", "chrf": "chrf", "loss": "dev_loss"}[self.settings.best_metric]
        value = result.get(metric)
        improved = value is None or self.state.best is None or (
            value < self.state.best if metric == "dev_loss" else value > self.state.best)
        if improved:
            self.state.best, self.state.best_step = value, self.state.step
            snapshot = self._snapshot()
            save_model(self.job.work / "best", snapshot.info, self.model, self.tokenizer)
        return improved

    def validate_and_checkpoint(self, log) -> dict | None:
        """Rank 0 validates, keeps `best` and logs; then `last` is saved with every rank's RNG state (the
        other ranks wait, so no collective is left hanging)."""
        result = None
        if self.group.is_main:
            result = self.evaluate()
            self.save_best_if_improved(result)
            result["best"] = self.state.best
            self.state.history.append(result)
            log({"type": "dev", **result})
        self.save_last()
        return result

    def patience_exhausted(self) -> bool:
        """Early stopping: `patience` validations in a row without a better dev metric (agreed by all ranks)."""
        patience = self.settings.patience
        exhausted = bool(patience) and self.group.is_main and \
            sum(entry["step"] > self.state.best_step for entry in self.state.history) >= patience
        return distributed.broadcast(self.group, exhausted)

    def save_last(self) -> None:
        """Weights, optimizer, schedule position, data position and every rank's RNG state (collective)."""
        rng_states = distributed.gather(self.group, rng.rng_state())
        if self.group.is_main:
            state = {"state": asdict(self.state), "stream": self.stream.state_dict(), "rng": rng_states,
                     "world": self.group.world, "scaler": self.scaler.state_dict() if self.scaler else None}
            run_dir.save_last(self.job.work, self._snapshot(), self.optimizer, state)
        distributed.barrier(self.group)

    def begin(self, resume: bool, overwrite: bool) -> str | None:
        """Resume from `last`, or start fresh (from another model's weights with train.init_from);
        returns what happened, to tell the user."""
        work = self.job.work
        if resume:
            self._restore()
            return f"resuming {work} from step {self.state.step}"
        refusal = None
        if self.group.is_main:
            if overwrite:
                run_dir.remove_run_outputs(work)
            elif run_dir.holds_run(work):
                refusal = (f"{work}: already holds a training run; continue it with --resume, replace it with "
                           f"--overwrite, or choose another work_dir=...")
        refusal = distributed.broadcast(self.group, refusal)  # every rank stops, none waits in a collective
        if refusal:
            raise TcliError(refusal)
        if self.settings.init_from:
            source = Path(self.settings.init_from)
            info = run_dir.check_compatible(source, self.job.model, self.tokenizer)
            load_weights_into(self.model, source, info)
            return f"starting from the weights of {source}"
        return None

    def _restore(self) -> None:
        last = self.job.work / "last"
        if self.group.is_main:
            recover_dir(last)  # a crash between the two renames of a save
        distributed.barrier(self.group)
        saved = run_dir.restore_last(last, self.model, self.optimizer, self.job.model, self.tokenizer)
        try:
            self.state = TrainState(**saved["state"])
            self.stream.load_state_dict(saved["stream"])
            if self.scaler and saved.get("scaler"):
                self.scaler.load_state_dict(saved["scaler"])
            states = saved["rng"] if isinstance(saved["rng"], list) else [saved["rng"]]
            rng.set_rng_state(states[self.group.rank % len(states)])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{last}: trainer_state.json is from another tcli version or damaged ({exc})") from None
        self.saved_world = len(states)

    def run(self, log: Callable[[dict], None], report: Callable[[int, dict | None, dict | None], None],
            stop: "StopFlag") -> StopReason:
        """Train until max_steps, max_minutes, patience or Ctrl-C; returns which. `last` always holds the
        final state, and `best` the best validated one. After every update, report(step, the logged
        training window or None, the dev result or None) tells the caller what happened."""
        settings, group = self.settings, self.group
        self.model.train()
        meter = _Meter(self)
        while self.state.step < settings.max_steps:
            meter.add(*self.train_update())
            step = self.state.step
            interrupted, out_of_time = self._stop_signals(stop)
            final = step == settings.max_steps or out_of_time
            entry = meter.flush(log) if self.schedule.logs(step, final) or interrupted else None
            if group.is_main and self.schedule.keeps_checkpoint(step, final):
                run_dir.keep_checkpoint(self.job.work, step, self.model, settings.keep_checkpoints)
            result, patience_out = None, False
            if self.schedule.validates(step, final):
                result = self.validate_and_checkpoint(log)
                patience_out = self.patience_exhausted()
            report(step, entry, result)
            if interrupted:
                self.save_last()
                log({"type": "interrupted", "step": step})
                return StopReason.INTERRUPTED
            if out_of_time:
                return StopReason.MAX_MINUTES
            if patience_out:
                return StopReason.PATIENCE
        return StopReason.MAX_STEPS

    def _stop_signals(self, stop: "StopFlag") -> tuple[bool, bool]:
        """(interrupted, out of time), agreed by all ranks. Under torchrun the ranks compare notes only at
        logging steps: one small all-reduce there instead of a synchronisation every step."""
        settings, group, step = self.settings, self.group, self.state.step
        out_of_time = settings.max_minutes is not None and self.state.elapsed > 60 * settings.max_minutes
        if not group.enabled:
            return stop.requested, out_of_time
        if not self.schedule.logs(step, step == settings.max_steps):
            return False, False
        return (distributed.any_rank(group, stop.requested, self.device),
                distributed.any_rank(group, out_of_time, self.device))


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


class StopFlag:
    """Ctrl-C (or SIGTERM, a scheduler's or torchrun's polite stop) asks training to stop after the update
    in flight, so `last` holds a consistent state. A second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in (self._previous or {}).items():
            signal.signal(sig, handler)
