"""What a training run does and when: its settings (the config's `train:` section), the job (where it reads
and writes, with which model), its state, the learning-rate schedule, and the steps at which it logs,
validates and keeps checkpoints. No torch: loading a config imports this."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, Optional

from annotated_types import Ge, Gt, Lt

from translate_cli.core.architecture import ModelConfig
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.train.prepared import PreparedMeta


@dataclass
class TrainSettings:
    """The config's `train:` section."""

    __pydantic_config__ = {"extra": "forbid"}
    max_steps: Annotated[int, Ge(1)] = 10_000
    max_minutes: Optional[Annotated[float, Gt(0)]] = None  # stop (and save) after this wall time
    batch_tokens: Annotated[int, Ge(16)] = 4096  # padded source or target tokens per batch, whichever is larger
    accumulate: Annotated[int, Ge(1)] = 1
    lr: Annotated[float, Gt(0)] = 7e-4
    warmup_steps: Annotated[int, Ge(0)] = 1000
    # After warm-up: inverse_sqrt (Vaswani et al., 2017; no end in sight), or linear / cosine decay that
    # reaches 0 at max_steps (for a run whose length is known: set max_steps to what the time budget allows).
    lr_schedule: Literal["inverse_sqrt", "linear", "cosine"] = "inverse_sqrt"
    weight_decay: Annotated[float, Ge(0)] = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.98)
    clip_norm: Annotated[float, Ge(0)] = 1.0  # 0 disables clipping
    label_smoothing: Annotated[float, Ge(0), Lt(1)] = 0.1
    seed: int = 1
    threads: Optional[Annotated[int, Ge(1)]] = None
    log_every: Annotated[int, Ge(1)] = 50
    eval_every: Annotated[int, Ge(1)] = 1000
    eval_sentences: Annotated[int, Ge(0)] = 300  # dev sentences per language decoded for BLEU/chrF; 0 = loss only
    best_metric: Literal["bleu", "chrf", "loss"] = "bleu"
    init_from: Optional[str] = None  # a model directory whose weights start this run (same vocabulary)
    # autocast dtype; fp16 (with loss scaling) on CUDA only; auto: bf16 where the device multiplies bf16
    # natively (CUDA with bf16, CPUs with AVX-512-BF16 or AMX), else fp32
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "fp32"
    compile: bool = False  # torch.compile the model
    fused_optimizer: bool = True  # fused AdamW where the device supports it, else the foreach version
    patience: Optional[Annotated[int, Ge(1)]] = None  # stop after this many validations without a better metric
    keep_checkpoints: Annotated[int, Ge(0)] = 0  # keep the weights of the last N checkpoints (for averaging)
    checkpoint_every: Optional[Annotated[int, Ge(1)]] = None  # steps between kept checkpoints; default eval_every
    average_last: Annotated[int, Ge(0)] = 0  # at the end, average the last N kept checkpoints into {work_dir}/averaged
    tensorboard: bool = False  # also write TensorBoard events to {work_dir}/tensorboard (extra: .[tensorboard])

    def __post_init__(self) -> None:
        if self.average_last > self.keep_checkpoints:
            raise ValueError(f"train.average_last ({self.average_last}) needs train.keep_checkpoints of at least "
                             f"that many ({self.keep_checkpoints})")


@dataclass
class TrainJob:
    """One training run: where it reads and writes, and its settings (assembled from a config)."""

    name: str
    work: Path
    data_dir: Path
    meta: PreparedMeta  # the prepared data's meta.json, already checked against the config
    model: ModelConfig
    train: TrainSettings
    decode: DecodeOptions


@dataclass
class TrainState:
    step: int = 0
    best: float | None = None
    best_step: int = 0
    elapsed: float = 0.0  # seconds spent training, over all sessions of this run
    history: list[dict] = field(default_factory=list)  # validation results


class StopReason(str, Enum):
    MAX_STEPS = "max_steps"
    MAX_MINUTES = "max_minutes"
    PATIENCE = "patience"
    INTERRUPTED = "interrupted"


class Schedule:
    """The learning rate at each step, and whether a step logs, validates or keeps a checkpoint. The
    final step of a run (max_steps, or the first past max_minutes) does all three."""

    def __init__(self, settings: TrainSettings):
        self.settings = settings

    def lr(self, step: int) -> float:
        settings = self.settings
        if settings.lr_schedule == "inverse_sqrt" or step <= settings.warmup_steps:
            return settings.lr * lr_factor(step, settings.warmup_steps)
        done = min(1.0, (step - settings.warmup_steps) / max(1, settings.max_steps - settings.warmup_steps))
        left = 1.0 - done if settings.lr_schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * done))
        return settings.lr * max(left, 1e-3)  # never exactly 0: the last updates still count

    def logs(self, step: int, final: bool) -> bool:
        return final or step % self.settings.log_every == 0

    def validates(self, step: int, final: bool) -> bool:
        return final or step % self.settings.eval_every == 0

    def keeps_checkpoint(self, step: int, final: bool) -> bool:
        every = self.settings.checkpoint_every or self.settings.eval_every
        return self.settings.keep_checkpoints > 0 and (final or step % every == 0)


def lr_factor(step: int, warmup_steps: int) -> float:
    """Linear warm-up to 1 over `warmup_steps`, then decay with the inverse square root of the step."""
    if warmup_steps <= 0:
        return 1.0
    step = max(step, 1)
    return min(step / warmup_steps, math.sqrt(warmup_steps / step))


