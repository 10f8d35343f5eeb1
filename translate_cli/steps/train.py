"""tcli train: teacher-forced training with periodic validation, `best` and `last` checkpoints.

The work directory holds config.yaml (resolved), log.jsonl (metrics), best/ (a self-contained model
directory) and last/ (the same plus optimizer and trainer state, for --resume).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from translate_cli import console
from translate_cli.config import Config, dump
from translate_cli.core import training
from translate_cli.core.checkpoint import LoadedModel, ModelInfo, write_dir_atomically, write_model_files
from translate_cli.core.data import ParallelCorpus
from translate_cli.core.model import ModelConfig, Seq2SeqTransformer
from translate_cli.core.text import Normalization
from translate_cli.core.tokenizer import Tokenizer
from translate_cli.errors import DataError, TcliError
from translate_cli.steps import prepare
from translate_cli.steps.runstate import RunLock, load_last, save_trainer_files
from translate_cli.steps.validation import validate


class Interrupted(TcliError):
    """Training stopped by Ctrl-C after saving `last`."""


@dataclass
class TrainState:
    step: int = 0
    best: float | None = None
    best_step: int = 0
    elapsed: float = 0.0  # seconds spent training, over all sessions of this run
    history: list[dict] = field(default_factory=list)  # validation results


def load_prepared_meta(config: Config) -> dict:
    """meta.json of the prepared data, checked against the config's current inputs and settings."""
    folder = config.data_path
    meta_path = folder / prepare.META
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: not found; run `tcli prepare` with the same config first")
    digest, _ = prepare.fingerprint(config, prepare.corpus_files(config))
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("fingerprint") != digest:
        raise DataError(f"{folder}: prepared from other inputs or settings than this config; "
                        f"run `tcli prepare` with this config again")
    return meta


def higher_is_better(metric: str) -> bool:
    return metric != "loss"


class Trainer:
    def __init__(self, config: Config, meta: dict, device: torch.device):
        self.config, self.device = config, device
        self.data_dir = config.data_path
        self.tokenizer = Tokenizer(self.data_dir / "spm.model")
        dtype = np.dtype(meta["dtype"])
        self.corpus = ParallelCorpus.open(self.data_dir, "train", dtype)
        self.dev = ParallelCorpus.open(self.data_dir, "dev", dtype) if meta["pairs"].get("dev") else None
        section = config.model
        self.model_config = ModelConfig(vocab_size=meta["vocab_size"], d_model=section.d_model, heads=section.heads,
                                        encoder_layers=section.encoder_layers, decoder_layers=section.decoder_layers,
                                        ff_dim=section.ff_dim, dropout=section.dropout)
        self.model = Seq2SeqTransformer(self.model_config).to(device)
        train = config.train
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=train.lr, betas=train.adam_betas,
                                           weight_decay=train.weight_decay, foreach=True)
        self.stream = training.BatchStream(self.corpus, train.batch_tokens, train.seed)
        self.state = TrainState()
        self.info = ModelInfo(model=self.model_config, source_lang=config.source_lang,
                              target_langs=list(config.target_langs),
                              normalize={lang: Normalization(**rules) for lang, rules in meta["normalize"].items()},
                              decode=config.decode.model_dump(), max_source_tokens=section.max_source_tokens,
                              training={"config": config.name, "data_fingerprint": meta["fingerprint"]})

    def train_update(self) -> tuple[torch.Tensor, int]:
        """One optimizer update over `accumulate` micro-batches; returns (summed loss, target tokens)."""
        train = self.config.train
        update = self.stream.next_update(train.accumulate)
        self.state.step += 1
        lr = train.lr * training.lr_factor(self.state.step, train.warmup_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        total = torch.zeros((), device=self.device)
        for batch in training.collate_update(self.corpus, update, self.device):
            loss = training.loss_sum(self.model, batch, train.label_smoothing)
            (loss / update.total_target_tokens).backward()
            total += loss.detach()
        if train.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), train.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total, update.total_target_tokens

    def loaded(self) -> LoadedModel:
        self.info.training["step"] = self.state.step
        return LoadedModel(self.info, self.model, self.tokenizer, self.config.work_path)

    def validate_and_save(self, log) -> dict:
        train = self.config.train
        result = validate(self.loaded(), self.dev, self.data_dir, train.eval_sentences, self.config.decode.batch_tokens)
        result = {"step": self.state.step, **result}
        metric = {"bleu": "bleu", "chrf": "chrf", "loss": "dev_loss"}[train.best_metric]
        value = result.get(metric)
        improved = value is not None and (self.state.best is None or (
            value > self.state.best if higher_is_better(train.best_metric) else value < self.state.best))
        if improved:
            self.state.best, self.state.best_step = value, self.state.step
            write_dir_atomically(self.config.work_path / "best",
                                 lambda folder: write_model_files(folder, self.info, self.model,
                                                                  self.tokenizer.path))
        result["best"] = self.state.best
        self.state.history.append(result)
        log({"type": "dev", **result})
        self.save_last()
        return result

    def save_last(self) -> None:
        def fill(folder: Path) -> None:
            write_model_files(folder, self.info, self.model, self.tokenizer.path)
            save_trainer_files(folder, self.optimizer, {"state": asdict(self.state), "stream": self.stream.state_dict(),
                                                        "rng": training.rng_state()})
        self.info.training["step"] = self.state.step
        write_dir_atomically(self.config.work_path / "last", fill)

    def restore(self) -> None:
        saved = load_last(self.config.work_path / "last", self.model, self.optimizer, self.model_config)
        self.state = TrainState(**saved["state"])
        self.stream.load_state_dict(saved["stream"])
        training.set_rng_state(saved["rng"])


def run(config: Config, resume: bool = False) -> Path:
    meta = load_prepared_meta(config)
    work = config.work_path
    work.mkdir(parents=True, exist_ok=True)
    with RunLock(work):
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        training.seed_everything(config.train.seed)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        trainer = Trainer(config, meta, device)
        if resume:
            trainer.restore()
            console.info(f"resuming {work} from step {trainer.state.step}")
        elif (work / "last").exists():
            raise TcliError(f"{work}: already holds a training run; continue it with --resume, or choose "
                            f"another work_dir=... (or delete the folder)")
        (work / "config.yaml").write_text(dump(config), encoding="utf-8")
        with open(work / "log.jsonl", "a", encoding="utf-8") as log_file:
            def log(entry: dict) -> None:
                log_file.write(json.dumps({"time": round(time.time(), 3), **entry}) + "\n")
                log_file.flush()
            _loop(trainer, log)
    return work


def _loop(trainer: Trainer, log) -> None:
    train = trainer.config.train
    params = sum(p.numel() for p in trainer.model.parameters())
    console.info(f"model: {params / 1e6:.1f}M parameters, device {trainer.device}, "
                 f"{torch.get_num_threads()} threads, {len(trainer.corpus):,} training pairs")
    trainer.model.train()
    started, window_start = time.time(), time.time()
    elapsed_before = trainer.state.elapsed
    window_loss, window_tokens, last_eval = torch.zeros(()), 0, trainer.state.step
    try:
        with console.training_progress() as progress:
            task = progress.add_task("train", total=train.max_steps, completed=trainer.state.step,
                                     loss="-", lr="-", tps="-")
            while trainer.state.step < train.max_steps:
                loss, tokens = trainer.train_update()
                window_loss, window_tokens = window_loss + loss.cpu(), window_tokens + tokens
                trainer.state.elapsed = elapsed_before + time.time() - started
                step = trainer.state.step
                out_of_time = train.max_minutes is not None and trainer.state.elapsed > 60 * train.max_minutes
                if step % train.log_every == 0 or step == train.max_steps or out_of_time:
                    seconds = max(time.time() - window_start, 1e-9)
                    entry = {"type": "train", "step": step, "loss": round(float(window_loss) / window_tokens, 4),
                             "lr": trainer.optimizer.param_groups[0]["lr"], "tokens_per_s": round(window_tokens / seconds),
                             "epoch": trainer.stream.epoch, "elapsed_s": round(trainer.state.elapsed, 1)}
                    log(entry)
                    progress.update(task, completed=step, loss=f"{entry['loss']:.3f}", lr=f"{entry['lr']:.2e}",
                                    tps=f"{entry['tokens_per_s']:,}")
                    window_loss, window_tokens, window_start = torch.zeros(()), 0, time.time()
                else:
                    progress.update(task, completed=step)
                if step % train.eval_every == 0 or step == train.max_steps or out_of_time:
                    result = trainer.validate_and_save(log)
                    last_eval = step
                    progress.console.print(_describe(result))
                if out_of_time:
                    console.info(f"stopping after {train.max_minutes} minutes (train.max_minutes)")
                    break
    except KeyboardInterrupt:
        if trainer.state.step > last_eval:
            trainer.save_last()
        raise Interrupted(f"interrupted at step {trainer.state.step}; saved {trainer.config.work_path / 'last'}; "
                          f"continue with `tcli train ... --resume`") from None
    if trainer.state.best is not None:
        console.info(f"[green]done:[/green] best {train.best_metric} {trainer.state.best} at step "
                     f"{trainer.state.best_step}; model in {trainer.config.work_path / 'best'}")


def _describe(result: dict) -> str:
    parts = [f"step {result['step']}"]
    parts += [f"{key} {value}" for key, value in result.items() if key not in ("step", "best")]
    return "[cyan]dev[/cyan] " + "  ".join(parts)
