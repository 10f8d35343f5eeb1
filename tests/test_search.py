"""Greedy and beam search: beam 1 equals greedy, batching changes nothing, wide beams find the optimum."""

import itertools

import torch
from conftest import tiny_model

from translate_cli.core.native import beam_search, greedy_search, length_penalty
from translate_cli.core.tokenizer import BOS_ID, EOS_ID, PAD_ID


def padded(rows: list[list[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows) + 1
    batch = torch.full((len(rows), width), PAD_ID)
    for i, row in enumerate(rows):
        batch[i, :len(row) + 1] = torch.tensor(row + [EOS_ID])
    return batch


SOURCES = [[5, 9, 13, 7], [22, 8], [30, 31, 32, 33, 34, 35], [11]]


def test_beam_size_one_equals_greedy():
    for seed in range(4):
        model = tiny_model(seed=seed)
        source = padded(SOURCES)
        limits = torch.tensor([6, 9, 3, 12])
        greedy = greedy_search(model, source, limits)
        beam = beam_search(model, source, limits, beam_size=1)
        assert [h.tokens for h in greedy] == [hyps[0].tokens for hyps in beam]
        for g, b in zip(greedy, beam):
            assert abs(g.score - b[0].score) < 1e-4


def test_outputs_respect_length_limits():
    model = tiny_model(seed=3)
    limits = torch.tensor([0, 1, 2, 5])
    for hyps in (greedy_search(model, padded(SOURCES), limits),
                 [h[0] for h in beam_search(model, padded(SOURCES), limits, beam_size=3)]):
        for hyp, limit in zip(hyps, limits.tolist()):
            assert len(hyp.tokens) <= limit
            assert EOS_ID not in hyp.tokens and BOS_ID not in hyp.tokens and PAD_ID not in hyp.tokens


def test_batching_does_not_change_results():
    model = tiny_model(seed=5)
    limits = torch.tensor([7, 7, 7, 7])
    batched_greedy = greedy_search(model, padded(SOURCES), limits)
    batched_beam = beam_search(model, padded(SOURCES), limits, beam_size=4, nbest=2)
    for index, source in enumerate(SOURCES):
        alone = padded([source])
        assert greedy_search(model, alone, limits[:1])[0].tokens == batched_greedy[index].tokens
        single_beam = beam_search(model, alone, limits[:1], beam_size=4, nbest=2)[0]
        assert [h.tokens for h in single_beam] == [h.tokens for h in batched_beam[index]]


def sequence_score(model, source: torch.Tensor, tokens: list[int]) -> float:
    """Log-probability of tokens + EOS by one teacher-forced pass (as search scores it)."""
    target_in = torch.tensor([[BOS_ID] + tokens])
    gold = torch.tensor(tokens + [EOS_ID])
    with torch.no_grad():
        logits = model.logits(model(source, target_in))[0]
        log_probs = torch.log_softmax(logits.float(), dim=-1)
    return float(log_probs[torch.arange(len(gold)), gold].sum())


def test_wide_beam_finds_the_exhaustive_optimum():
    # Vocabulary of 6: pad, unk, bos, eos and two word ids; outputs of at most 3 tokens over {1, 4, 5}.
    model = tiny_model(vocab_size=6, seed=7)
    source = padded([[4, 5, 4]])
    limit, alpha = 3, 0.6
    candidates = [list(seq) for n in range(limit + 1) for seq in itertools.product([1, 4, 5], repeat=n)]
    best = max(candidates, key=lambda seq: sequence_score(model, source, seq) / length_penalty(len(seq) + 1, alpha))
    found = beam_search(model, source, torch.tensor([limit]), beam_size=len(candidates) + 1, alpha=alpha)[0][0]
    assert found.tokens == best
    assert abs(found.score - sequence_score(model, source, best)) < 1e-4


def test_nbest_is_sorted_and_distinct():
    model = tiny_model(seed=2)
    results = beam_search(model, padded(SOURCES), torch.tensor([6, 6, 6, 6]), beam_size=5, nbest=5)
    for hyps in results:
        assert len(hyps) == 5
        scores = [h.normalized for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == 5
