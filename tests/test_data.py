"""Binarised arrays round-trip through memory maps; token-budget batches cover every sentence once."""

import mmap

import numpy as np

from translate_cli.core.data import ParallelCorpus, TokenArray, TokenArrayWriter, collate, token_budget_batches
from translate_cli.core.tokenizer import BOS_ID, EOS_ID, PAD_ID


def test_token_arrays_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    sequences = [rng.integers(4, 60000, size=n).tolist() for n in (0, 1, 7, 3, 0, 12)]
    writer = TokenArrayWriter(tmp_path / "train.src", np.dtype(np.uint16))
    for ids in sequences:
        writer.add(ids)
    assert writer.close() == len(sequences)
    array = TokenArray(tmp_path / "train.src", np.dtype(np.uint16))
    assert isinstance(array.tokens.base.obj, mmap.mmap) and isinstance(array.offsets.base.obj, mmap.mmap)
    assert [array[i].tolist() for i in range(len(array))] == sequences
    assert array.lengths().tolist() == [len(s) for s in sequences]
    array.release()  # unmapping the pages read so far keeps the data readable
    assert [array[i].tolist() for i in range(len(array))] == sequences


def test_batches_cover_every_sentence_once_within_budget():
    rng = np.random.default_rng(1)
    source_lengths = rng.integers(1, 40, size=1000).astype(np.int32)
    target_lengths = rng.integers(1, 40, size=1000).astype(np.int32)
    source_lengths[5] = 500  # longer than the budget: a batch of its own, never dropped
    batches = token_budget_batches(source_lengths, target_lengths, budget=300, seed=3, epoch=0)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    for batch in batches:
        width = max(int(max(source_lengths[i], target_lengths[i])) + 1 for i in batch)
        assert width * len(batch) <= 300 or len(batch) == 1
    again = token_budget_batches(source_lengths, target_lengths, budget=300, seed=3, epoch=0)
    other_epoch = token_budget_batches(source_lengths, target_lengths, budget=300, seed=3, epoch=1)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other_epoch))


def test_collate_shifts_the_target_right(tmp_path):
    for side, rows in (("src", [[5, 6], [7]]), ("tgt", [[8, 9, 10], [11]])):
        writer = TokenArrayWriter(tmp_path / f"train.{side}", np.dtype(np.uint16))
        for ids in rows:
            writer.add(ids)
        writer.close()
    corpus = ParallelCorpus.open(tmp_path, "train", np.dtype(np.uint16))
    batch = collate(corpus, np.array([0, 1]))
    assert batch.source.tolist() == [[5, 6, EOS_ID], [7, EOS_ID, PAD_ID]]
    assert batch.target_in.tolist() == [[BOS_ID, 8, 9, 10], [BOS_ID, 11, PAD_ID, PAD_ID]]
    assert batch.target_out.tolist() == [[8, 9, 10, EOS_ID], [11, EOS_ID, PAD_ID, PAD_ID]]
    assert batch.target_tokens == 6
