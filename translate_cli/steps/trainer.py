"""The Trainer: model, optimizer, data stream and state of one training run, on one rank.

Under torchrun each rank holds a replica wrapped in DistributedDataParallel and takes its own share of
every update's batches; only rank 0 validates and writes checkpoints.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from translate_cli import console
from translate_cli.config import Config
from translate_cli.core import distributed, training
from translate_cli.core.checkpoint import (MODEL_JSON, LoadedModel, ModelInfo, recover_dir, write_dir_atomically,
                                          write_model_files)
from translate_cli.core.data import ParallelCorpus
from translate_cli.core.model import ModelConfig, Seq2SeqTransformer
from translate_cli.core.text import Normalization
from translate_cli.core.tokenizer import Tokenizer
from translate_cli.errors import CheckpointError, ConfigError
from translate_cli.steps.runstate import load_last, save_trainer_files
from translate_cli.steps.validation import validate

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainState:
    step: int = 0
    best: float | None = None
    best_step: int = 0
    elapsed: float = 0.0  # seconds spent training, over all sessions of this run
    history: list[dict] = field(default_factory=list)  # validation results


def higher_is_better(metric: str) -> bool:
    return metric != "loss"


def make_optimizer(model: torch.nn.Module, config: Config, device: torch.device) -> torch.optim.Optimizer:
    """AdamW, fused into one kernel where this PyTorch build supports it on the device, else foreach."""
    train = config.train
    settings = dict(lr=train.lr, betas=train.adam_betas, weight_decay=train.weight_decay)
    if train.fused_optimizer:
        try:
            return torch.optim.AdamW(model.parameters(), fused=True, **settings)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.AdamW(model.parameters(), foreach=True, **settings)


class Trainer:
    def __init__(self, config: Config, meta: dict, group: distributed.Dist):
        self.config, self.group = config, group
        self.device = distributed.device_for(group)
        self.data_dir = config.data_path
        self.tokenizer = Tokenizer(self.data_dir / "spm.model")
        dtype = np.dtype(meta["dtype"])
        self.corpus = ParallelCorpus.open(self.data_dir, "train", dtype)
        self.dev = ParallelCorpus.open(self.data_dir, "dev", dtype) if meta["pairs"].get("dev") else None
        section, train = config.model, config.train
        self.model_config = ModelConfig(vocab_size=meta["vocab_size"], d_model=section.d_model, heads=section.heads,
                                        encoder_layers=section.encoder_layers, decoder_layers=section.decoder_layers,
                                        ff_dim=section.ff_dim, dropout=section.dropout)
        self.model = Seq2SeqTransformer(self.model_config).to(self.device)
        self.optimizer = make_optimizer(self.model, config, self.device)
        self.stream = training.BatchStream(self.corpus, train.batch_tokens, train.seed, group.rank, group.world)
        self.state = TrainState()
        self.last_update: training.Update | None = None
        self.info = ModelInfo(model=self.model_config, source_lang=config.source_lang,
                              target_langs=list(config.target_langs),
                              normalize={lang: Normalization(**rules) for lang, rules in meta["normalize"].items()},
                              decode=config.decode.model_dump(), max_source_tokens=section.max_source_tokens,
                              training={"config": config.name, "data_fingerprint": meta["fingerprint"]})
        self.autocast_dtype = PRECISIONS[train.precision]
        if train.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("train.precision: fp16 needs a CUDA device; use bf16 or fp32 on CPU")
        self.scaler = torch.amp.GradScaler("cuda") if train.precision == "fp16" else None
        self.forward_model: torch.nn.Module = self.model
        if group.enabled:
            self.forward_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if train.compile:
            self.forward_model = torch.compile(self.forward_model, dynamic=True)

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
        train = self.config.train
        update = self.last_update = self.stream.next_update(train.accumulate)
        self.state.step += 1
        lr = train.lr * training.lr_factor(self.state.step, train.warmup_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        scale = self.group.world / update.total_target_tokens
        total = torch.zeros((), device=self.device)
        batches = training.collate_update(self.corpus, update, self.device)
        weight = self.model.embedding.weight
        for index, batch in enumerate(batches):
            last = index == len(batches) - 1
            sync = contextlib.nullcontext() if last or not self.group.enabled else self.forward_model.no_sync()
            with sync:
                with self._autocast():
                    loss = training.loss_sum(self.forward_model, batch, train.label_smoothing, weight)
                scaled = loss * scale
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            total += loss.detach()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        if train.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), train.clip_norm)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total, sum(b.target_tokens for b in batches), update.total_target_tokens

    def loaded(self) -> LoadedModel:
        self.info.training["step"] = self.state.step
        return LoadedModel(self.info, self.model, self.tokenizer, self.config.work_path)

    def validate_and_save(self, log) -> dict | None:
        """Rank 0 validates and saves; the other ranks wait for it, so no collective is left hanging."""
        result = None
        if self.group.is_main:
            result = self._validate(log)
        rng = distributed.gather(self.group, training.rng_state())
        if self.group.is_main:
            self.save_last(rng)
        distributed.barrier(self.group)
        return result

    def _validate(self, log) -> dict:
        train = self.config.train
        with self._autocast():
            result = validate(self.loaded(), self.dev, self.data_dir, train.eval_sentences,
                              self.config.decode.batch_tokens)
        result = {"step": self.state.step, **result}
        metric = {"bleu": "bleu", "chrf": "chrf", "loss": "dev_loss"}[train.best_metric]
        value = result.get(metric)
        if value is None:
            # No dev scores (eval_sentences: 0, or no dev data): `best` is then the newest model, so that a
            # run always leaves a usable best/ and patience never stops on a metric that was not measured.
            improved = True
        else:
            improved = self.state.best is None or (
                value > self.state.best if higher_is_better(train.best_metric) else value < self.state.best)
        if improved:
            self.state.best, self.state.best_step = value, self.state.step
            write_dir_atomically(self.config.work_path / "best",
                                 lambda folder: write_model_files(folder, self.info, self.model, self.tokenizer.path),
                                 MODEL_JSON)
        result["best"] = self.state.best
        self.state.history.append(result)
        log({"type": "dev", **result})
        return result

    def save_last(self, rng_states: list[dict] | None = None) -> None:
        """Weights, optimizer, schedule position, data position and every rank's RNG state."""
        rng_states = rng_states or [training.rng_state()]

        def fill(folder: Path) -> None:
            write_model_files(folder, self.info, self.model, self.tokenizer.path)
            save_trainer_files(folder, self.optimizer, {"state": asdict(self.state), "stream": self.stream.state_dict(),
                                                        "rng": rng_states, "world": self.group.world,
                                                        "scaler": self.scaler.state_dict() if self.scaler else None})
        self.info.training["step"] = self.state.step
        write_dir_atomically(self.config.work_path / "last", fill, MODEL_JSON)

    def restore(self) -> None:
        last = self.config.work_path / "last"
        if self.group.is_main:
            recover_dir(last)  # a crash between the two renames of a save
        distributed.barrier(self.group)
        saved = load_last(last, self.model, self.optimizer, self.model_config, self.tokenizer.path)
        try:
            self.state = TrainState(**saved["state"])
            self.stream.load_state_dict(saved["stream"])
            if self.scaler and saved.get("scaler"):
                self.scaler.load_state_dict(saved["scaler"])
            states = saved["rng"] if isinstance(saved["rng"], list) else [saved["rng"]]
            training.set_rng_state(states[self.group.rank % len(states)])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{last}: trainer_state.json is from another tcli version or damaged ({exc})") from None
        if len(states) != self.group.world and self.group.is_main:
            console.warn(f"resuming with {self.group.world} processes a run saved with {len(states)}: random "
                         f"streams (dropout) will differ from an uninterrupted run")
