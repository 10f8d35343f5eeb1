"""A tiny model learns to reverse sequences: the whole training path (loss, schedule, search) works."""

import torch
from conftest import tiny_model

from translate_cli.core.data import Batch, pad_sequences
from translate_cli.core.native import greedy_search
from translate_cli.core.tokenizer import BOS_ID, EOS_ID, PAD_ID
from translate_cli.core.train.loss import loss_sum
from translate_cli.core.train.schedule import lr_factor


def reverse_batch(generator: torch.Generator, size: int = 64) -> Batch:
    lengths = torch.randint(2, 8, (size,), generator=generator)
    sources = [torch.randint(4, 20, (int(n),), generator=generator).tolist() for n in lengths]
    targets = [list(reversed(s)) for s in sources]
    target_out = pad_sequences(targets, suffix=EOS_ID)
    positions = (target_out.view(-1) != PAD_ID).nonzero().squeeze(1)
    return Batch(pad_sequences(sources, suffix=EOS_ID), pad_sequences(targets, prefix=BOS_ID), target_out,
                 positions, int(positions.numel()))


def test_tiny_model_learns_to_reverse():
    torch.manual_seed(0)
    model = tiny_model(vocab_size=20, d_model=64, ff_dim=128).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.98))
    generator = torch.Generator().manual_seed(0)
    for step in range(1, 601):
        for group in optimizer.param_groups:
            group["lr"] = 3e-3 * lr_factor(step, 50)
        batch = reverse_batch(generator)
        loss = loss_sum(model, batch, label_smoothing=0.0) / batch.target_tokens
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    test = reverse_batch(torch.Generator().manual_seed(123), size=100)
    with torch.no_grad():
        final_loss = float(loss_sum(model, test, 0.0)) / test.target_tokens
        outputs = greedy_search(model, test.source, torch.full((100,), 10))
    assert final_loss < 0.05
    expected = [row[row != PAD_ID][:-1].flip(0).tolist() for row in test.source]
    correct = sum(h.tokens == e for h, e in zip(outputs, expected))
    assert correct >= 95


def test_decaying_schedules_warm_up_then_fall_to_nothing_at_max_steps():
    from translate_cli.core.train.schedule import Schedule, TrainSettings

    for kind in ("linear", "cosine"):
        schedule = Schedule(TrainSettings(lr=1e-3, warmup_steps=100, max_steps=1000, lr_schedule=kind))
        rates = [schedule.lr(step) for step in range(1, 1001)]
        assert rates[99] == 1e-3 and rates[49] == 0.5e-3  # the same warm-up as inverse_sqrt
        assert all(a >= b for a, b in zip(rates[99:], rates[100:]))  # then only down
        assert rates[-1] <= 1e-6 and rates[-1] > 0
    default = Schedule(TrainSettings(lr=1e-3, warmup_steps=100, max_steps=1000))
    assert default.lr(400) == 1e-3 * lr_factor(400, 100)
