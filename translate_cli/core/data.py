"""Binarised corpora on disk (memory-mapped), token-budget length-bucketed batches, and the endless
stream of training batches.

A token array is two files: `NAME.bin` (all ids back to back, uint16 or uint32) and `NAME.idx.npy`
(int64 offsets, one more than the number of sentences). Training reads both through memory maps, so
memory does not grow with the corpus; the batcher holds only indices and lengths.
"""

from __future__ import annotations

import mmap
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from translate_cli.core.tokenizer import BOS_ID, EOS_ID, PAD_ID

if TYPE_CHECKING:  # imported where tensors are made: length batching (translating via CTranslate2) needs none
    import torch


def _with_suffix(path: Path, suffix: str) -> Path:
    return path.parent / (path.name + suffix)  # not Path.with_suffix: "train.src" must keep ".src"


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


class TokenArrayWriter:
    """Streams sequences of ids to disk; holds only the offsets in memory."""

    def __init__(self, path: Path, dtype: np.dtype):
        self.path, self.dtype = Path(path), dtype
        self._file = open(_with_suffix(self.path, ".bin"), "wb")
        self._offsets = array("q", [0])  # 8 bytes per sentence, not a Python int object each

    def add(self, ids: list[int]) -> None:
        self._file.write(np.asarray(ids, dtype=self.dtype).tobytes())
        self._offsets.append(self._offsets[-1] + len(ids))

    def close(self) -> int:
        self._file.close()
        np.save(_with_suffix(self.path, ".idx.npy"), np.frombuffer(self._offsets, dtype=np.int64))
        return len(self._offsets) - 1


class TokenArray:
    """Read-only, memory-mapped view of sequences written by TokenArrayWriter.

    Pages of a file mapping that a process has read count in its resident memory until it unmaps them,
    so reading random sentences of a big corpus would slowly map all of it. `release()` drops this
    process's mapped pages (the kernel's page cache keeps them): callers release after each batch.
    """

    def __init__(self, path: Path, dtype: np.dtype):
        path = Path(path)
        self._maps: list[mmap.mmap] = []
        index_path = _with_suffix(path, ".idx.npy")
        probe = np.load(index_path, mmap_mode="r")  # numpy reads the .npy header; we map the data ourselves
        if probe.ndim != 1 or probe.dtype != np.dtype(np.int64):
            raise ValueError(f"{index_path}: not a token-array index (int64 offsets)")
        header, count = probe.offset, len(probe)
        del probe
        self.offsets = self._map(index_path, np.dtype(np.int64), header, count)
        size = int(self.offsets[-1])
        self.tokens = self._map(_with_suffix(path, ".bin"), np.dtype(dtype), 0, size)

    def _map(self, path: Path, dtype: np.dtype, offset: int, count: int) -> np.ndarray:
        if count == 0:  # mmap cannot map an empty file; an empty array needs no mapping
            return np.zeros(0, dtype)
        with open(path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_RANDOM)  # batches read scattered sentences: no read-ahead
        self._maps.append(mapped)
        return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset)

    def release(self) -> None:
        """Unmap the pages read so far from this process (they stay readable, from the page cache)."""
        for mapped in self._maps:
            if hasattr(mapped, "madvise"):
                mapped.madvise(mmap.MADV_DONTNEED)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        return self.tokens[self.offsets[index]:self.offsets[index + 1]]

    def lengths(self) -> np.ndarray:
        """Sentence lengths (int32), read in chunks so the whole index is never mapped at once."""
        count, chunk = len(self), 1 << 20
        lengths = np.empty(count, dtype=np.int32)
        for start in range(0, count, chunk):
            stop = min(start + chunk, count)
            lengths[start:stop] = np.diff(self.offsets[start:stop + 1])
            self.release()
        return lengths


@dataclass
class ParallelCorpus:
    """Source and target token arrays of one split (all target languages together)."""

    source: TokenArray
    target: TokenArray

    @classmethod
    def open(cls, folder: Path, split: str, dtype: np.dtype) -> "ParallelCorpus":
        corpus = cls(TokenArray(folder / f"{split}.src", dtype), TokenArray(folder / f"{split}.tgt", dtype))
        assert len(corpus.source) == len(corpus.target), f"{split}: source and target arrays differ in length"
        return corpus

    def __len__(self) -> int:
        return len(self.source)

    def release(self) -> None:
        self.source.release()
        self.target.release()


def token_budget_batches(source_lengths: np.ndarray, target_lengths: np.ndarray, budget: int,
                         seed: int, epoch: int, shuffle: bool = True) -> list[np.ndarray]:
    """Group sentence indices into batches whose padded size (count x longest side) fits `budget`.

    Sentences are sorted by length (ties broken at random under `seed` and `epoch`) so a batch holds
    similar lengths and little padding; the order of batches is then shuffled. A sentence longer than
    the budget gets a batch of its own rather than being dropped.
    """
    count = len(source_lengths)
    rng = np.random.default_rng([seed, epoch])
    noise = rng.random(count) if shuffle else np.arange(count)
    # +1 for EOS (source) and BOS/EOS (target), matching the collated tensors.
    longest = np.maximum(source_lengths + 1, target_lengths + 1)
    order = np.lexsort((noise, target_lengths, longest))
    batches: list[np.ndarray] = []
    start, width = 0, 0
    for position in range(count):
        width_if_added = max(width, int(longest[order[position]]))
        if position > start and width_if_added * (position - start + 1) > budget:
            batches.append(order[start:position])
            start, width_if_added = position, int(longest[order[position]])
        width = width_if_added
    if count > start:
        batches.append(order[start:count])
    if shuffle:
        rng.shuffle(batches)
    return batches


def pad_sequences(sequences: Iterable[np.ndarray | list[int]], prefix: int | None = None,
                  suffix: int | None = None, pad: int = PAD_ID) -> torch.Tensor:
    """Right-padded (B, T) int64 tensor, with an optional id before and after every sequence."""
    import torch

    sequences = [np.asarray(ids, dtype=np.int64) for ids in sequences]
    begin = 0 if prefix is None else 1
    width = max((len(ids) for ids in sequences), default=0) + begin + (suffix is not None)
    batch = np.full((len(sequences), max(width, 1)), pad, dtype=np.int64)
    if prefix is not None:
        batch[:, 0] = prefix
    for row, ids in enumerate(sequences):
        batch[row, begin:begin + len(ids)] = ids
        if suffix is not None:
            batch[row, begin + len(ids)] = suffix
    return torch.from_numpy(batch)


@dataclass(frozen=True)
class TokenIds:
    """The special ids batches are built with: a model's pad, decoder start and end-of-sentence."""

    pad: int = PAD_ID
    bos: int = BOS_ID
    eos: int = EOS_ID

    @classmethod
    def of(cls, config) -> "TokenIds":
        """From a ModelConfig."""
        return cls(config.pad_id, config.bos_id, config.eos_id)


@dataclass
class Batch:
    source: torch.Tensor  # (B, S) ids + EOS, right-padded
    target_in: torch.Tensor  # (B, T) BOS + ids: the gold target shifted right (teacher forcing)
    target_out: torch.Tensor  # (B, T) ids + EOS: what each position must predict
    positions: torch.Tensor  # (N,) flat indices of the real (non-pad) positions of target_out
    target_tokens: int  # N

    def to(self, device: torch.device) -> "Batch":
        """On the device; the index of real positions is computed on the host, so no sync is needed."""
        move = lambda tensor: tensor.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.source), move(self.target_in), move(self.target_out), move(self.positions),
                     self.target_tokens)


def collate(corpus: ParallelCorpus, indices: np.ndarray, ids: TokenIds = TokenIds()) -> Batch:
    sources = [corpus.source[i] for i in indices]
    targets = [corpus.target[i] for i in indices]
    target_out = pad_sequences(targets, suffix=ids.eos, pad=ids.pad)
    positions = (target_out.view(-1) != ids.pad).nonzero().squeeze(1)
    return Batch(source=pad_sequences(sources, suffix=ids.eos, pad=ids.pad),
                 target_in=pad_sequences(targets, prefix=ids.bos, pad=ids.pad),
                 target_out=target_out, positions=positions, target_tokens=int(positions.numel()))


def collate_update(corpora: list[ParallelCorpus], update: "Update", device: torch.device,
                   ids: TokenIds = TokenIds()) -> list[Batch]:
    batches = [collate(corpora[copy], indices, ids).to(device) for copy, indices in zip(update.copies, update.batches)]
    for corpus in corpora:
        corpus.release()  # the ids are copied into tensors: unmap the corpus pages read for them
    return batches


@dataclass
class Update:
    batches: list[np.ndarray]  # this rank's micro-batches (sentence indices)
    total_target_tokens: int  # target tokens of the whole update, summed over every rank
    copies: list[int]  # which prepared copy of the corpus each micro-batch indexes (subword sampling)


class BatchStream:
    """Endless token-budget batches, epoch after epoch, each epoch shuffled by (seed, epoch).

    An update takes the next `world * accumulate` batches; rank r uses its own `accumulate` of them.
    With several copies of the corpus (sampled segmentations) epoch e reads copy e % copies. The stream's
    position (epoch, index) is saved in checkpoints so a resumed run sees the same data.
    """

    def __init__(self, corpora: list[ParallelCorpus], budget: int, seed: int, rank: int = 0, world: int = 1):
        self.lengths = [(corpus.source.lengths(), corpus.target.lengths()) for corpus in corpora]
        self.budget, self.seed, self.rank, self.world = budget, seed, rank, world
        self.epoch, self.index = 0, 0
        self._batches: list[np.ndarray] | None = None

    @property
    def copy(self) -> int:
        return self.epoch % len(self.lengths)

    @property
    def source_lengths(self) -> np.ndarray:
        return self.lengths[self.copy][0]

    @property
    def target_lengths(self) -> np.ndarray:
        return self.lengths[self.copy][1]

    def _epoch_batches(self) -> list[np.ndarray]:
        if self._batches is None:
            self._batches = token_budget_batches(self.source_lengths, self.target_lengths, self.budget,
                                                 self.seed, self.epoch)
        return self._batches

    def _take(self) -> tuple[int, np.ndarray]:
        batches = self._epoch_batches()
        if self.index >= len(batches):
            self.epoch, self.index, self._batches = self.epoch + 1, 0, None
            batches = self._epoch_batches()
        batch = batches[self.index]
        self.index += 1
        return self.copy, batch

    def next_update(self, accumulate: int) -> Update:
        group = [self._take() for _ in range(self.world * accumulate)]
        mine = group[self.rank * accumulate:(self.rank + 1) * accumulate]
        tokens = sum(int(self.lengths[copy][1][b].sum()) + len(b) for copy, b in group)  # + EOS per sentence
        return Update([b for _, b in mine], tokens, [copy for copy, _ in mine])

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index, self._batches = int(state["epoch"]), int(state["index"]), None
