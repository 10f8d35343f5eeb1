"""Training pieces that do not print: loss, learning-rate schedule, batch stream, RNG state, seeding."""

from __future__ import annotations

import base64
import math
import random
from dataclasses import dataclass

import numpy as np
import torch

from translate_cli.core.loss import linear_cross_entropy
from translate_cli.core.data import Batch, ParallelCorpus, collate, token_budget_batches


def lr_factor(step: int, warmup_steps: int) -> float:
    """Linear warm-up to 1 over `warmup_steps`, then decay with the inverse square root of the step."""
    if warmup_steps <= 0:
        return 1.0
    step = max(step, 1)
    return min(step / warmup_steps, math.sqrt(warmup_steps / step))


def loss_sum(model: torch.nn.Module, batch: Batch, label_smoothing: float,
             output_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Summed label-smoothed cross-entropy over the real (non-pad) target positions, all at once.

    `model` may be a wrapper (DDP, torch.compile); `output_weight` is then the tied embedding matrix.
    """
    hidden = model(batch.source, batch.target_in)  # (B, T, D)
    # (N, D): only real positions reach the vocabulary matmul; gathered by a host-computed index, so no
    # device-to-host synchronisation (a boolean mask would need one to size its result).
    hidden = hidden.reshape(-1, hidden.size(-1)).index_select(0, batch.positions)
    gold = batch.target_out.reshape(-1).index_select(0, batch.positions)
    weight = output_weight if output_weight is not None else model.embedding.weight
    return linear_cross_entropy(hidden, weight, gold, label_smoothing)


@dataclass
class Update:
    batches: list[np.ndarray]  # this rank's micro-batches (sentence indices)
    total_target_tokens: int  # target tokens of the whole update, summed over every rank


class BatchStream:
    """Endless token-budget batches, epoch after epoch, each epoch shuffled by (seed, epoch).

    An update takes the next `world * accumulate` batches; rank r uses its own `accumulate` of them.
    The stream's position (epoch, index) is saved in checkpoints so a resumed run sees the same data.
    """

    def __init__(self, corpus: ParallelCorpus, budget: int, seed: int, rank: int = 0, world: int = 1):
        self.source_lengths = corpus.source.lengths()
        self.target_lengths = corpus.target.lengths()
        self.budget, self.seed, self.rank, self.world = budget, seed, rank, world
        self.epoch, self.index = 0, 0
        self._batches: list[np.ndarray] | None = None

    def _epoch_batches(self) -> list[np.ndarray]:
        if self._batches is None:
            self._batches = token_budget_batches(self.source_lengths, self.target_lengths, self.budget,
                                                 self.seed, self.epoch)
        return self._batches

    def _take(self) -> np.ndarray:
        batches = self._epoch_batches()
        if self.index >= len(batches):
            self.epoch, self.index, self._batches = self.epoch + 1, 0, None
            batches = self._epoch_batches()
        batch = batches[self.index]
        self.index += 1
        return batch

    def next_update(self, accumulate: int) -> Update:
        group = [self._take() for _ in range(self.world * accumulate)]
        mine = group[self.rank * accumulate:(self.rank + 1) * accumulate]
        tokens = sum(int(self.target_lengths[b].sum()) + len(b) for b in group)  # + EOS per sentence
        return Update(mine, tokens)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index, self._batches = int(state["epoch"]), int(state["index"]), None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Every generator's state as JSON-safe data (no pickle in checkpoints)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    state = {"torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii"),
             "python": _python_state(), "numpy": [kind, keys.tolist(), position, has_gauss, gauss]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        # This process's own device only: other GPUs are other ranks' business.
        state["cuda"] = base64.b64encode(torch.cuda.get_rng_state().numpy().tobytes()).decode("ascii")
    return state


def _python_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(torch.from_numpy(np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))
    if isinstance(state.get("cuda"), str) and torch.cuda.is_available():
        torch.cuda.set_rng_state(torch.from_numpy(np.frombuffer(base64.b64decode(state["cuda"]), dtype=np.uint8).copy()))


def collate_update(corpus: ParallelCorpus, update: Update, device: torch.device) -> list[Batch]:
    batches = [collate(corpus, indices).to(device) for indices in update.batches]
    corpus.release()  # the ids are copied into tensors: unmap the corpus pages read for them
    return batches
