"""Properties of the transformer: masking leaks nothing, padding changes nothing, caching is exact."""

import torch
from conftest import tiny_model

from translate_cli.core.tokenizer import BOS_ID, EOS_ID, PAD_ID


def random_tokens(batch: int, length: int, vocab: int = 40, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(4, vocab, (batch, length), generator=generator)


def test_changing_a_later_target_token_never_changes_earlier_outputs():
    model = tiny_model()
    source = random_tokens(3, 9)
    target = random_tokens(3, 12, seed=2)
    with torch.no_grad():
        reference = model(source, target)
        for position in range(1, 12):
            changed = target.clone()
            changed[:, position] = (changed[:, position] + 7) % 36 + 4
            output = model(source, changed)
            # Every position before the change is bit-for-bit unaffected...
            assert torch.equal(output[:, :position], reference[:, :position]), position
            # ...while the changed position itself does see its new input (the test can fail).
            assert not torch.allclose(output[:, position], reference[:, position])


def test_source_padding_changes_no_output_at_real_positions():
    model = tiny_model()
    source = random_tokens(1, 6)
    target = random_tokens(1, 5, seed=3)
    padded_source = torch.cat([source, torch.full((1, 4), PAD_ID)], dim=1)
    with torch.no_grad():
        encoded, encoded_padded = model.encode(source), model.encode(padded_source)
        assert torch.allclose(encoded.memory, encoded_padded.memory[:, :6], atol=1e-6)
        assert torch.allclose(model(source, target), model(padded_source, target), atol=1e-6)


def test_target_padding_changes_no_output_at_real_positions():
    model = tiny_model()
    source = random_tokens(1, 6)
    target = random_tokens(1, 5, seed=3)
    padded_target = torch.cat([target, torch.full((1, 3), PAD_ID)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(source, target), model(source, padded_target)[:, :5], atol=1e-6)


def test_batched_with_padding_equals_one_by_one():
    model = tiny_model()
    sources = [random_tokens(1, n, seed=n)[0] for n in (3, 7, 5)]
    targets = [random_tokens(1, n, seed=10 + n)[0] for n in (4, 2, 6)]
    batch_source = torch.full((3, 7), PAD_ID)
    batch_target = torch.full((3, 6), PAD_ID)
    for row, (s, t) in enumerate(zip(sources, targets)):
        batch_source[row, :len(s)] = s
        batch_target[row, :len(t)] = t
    with torch.no_grad():
        batched = model(batch_source, batch_target)
        for row, (s, t) in enumerate(zip(sources, targets)):
            single = model(s[None], t[None])
            assert torch.allclose(batched[row, :len(t)], single[0], atol=1e-5)


def test_cached_decoding_equals_full_recompute_and_teacher_forcing():
    model = tiny_model()
    source = random_tokens(2, 7)
    source[1, 5:] = PAD_ID
    # (2, 24): longer than the cache buffer's first capacity (16 steps), so it grows on the way
    prefix = torch.cat([torch.full((2, 1), BOS_ID), random_tokens(2, 23, seed=4)], dim=1)
    with torch.no_grad():
        encoded = model.encode(source)
        teacher_forced = model.logits(model.decode(prefix, encoded))  # one parallel pass
        cache = model.new_cache()
        for step in range(prefix.size(1)):
            cached = model.logits(model.decode(prefix[:, step:step + 1], encoded, cache))[:, 0]
            recomputed = model.logits(model.decode(prefix[:, :step + 1], encoded))[:, -1]
            assert torch.allclose(cached, recomputed, atol=1e-5), step
            assert torch.allclose(cached, teacher_forced[:, step], atol=1e-5), step
        assert cache.length == prefix.size(1)
        assert cache.layers[0].self_keys.shape[2] == prefix.size(1)


def test_cache_reordering_follows_selected_rows():
    model = tiny_model()
    source = random_tokens(3, 5)
    prefix = torch.cat([torch.full((3, 1), BOS_ID), random_tokens(3, 4, seed=5)], dim=1)
    with torch.no_grad():
        encoded = model.encode(source)
        cache = model.new_cache()
        model.decode(prefix[:, :3], encoded, cache)
        rows = torch.tensor([2, 0])
        cache.select(rows)
        stepped = model.logits(model.decode(prefix[rows, 3:4], encoded.select(rows), cache))[:, 0]
        full = model.logits(model.decode(prefix[rows, :4], encoded.select(rows)))[:, -1]
        assert torch.allclose(stepped, full, atol=1e-5)


def test_embeddings_are_tied():
    model = tiny_model()
    hidden = torch.randn(2, 32)
    assert torch.allclose(model.logits(hidden), hidden @ model.embedding.weight.t())
    names = [name for name, _ in model.named_parameters()]
    assert sum("embedding" in n for n in names) == 1
    assert EOS_ID < model.config.vocab_size


def test_beams_sharing_encoder_states_equal_expanded_copies():
    model = tiny_model()
    source = random_tokens(2, 6)
    source[1, 4:] = PAD_ID
    beams = 3
    prefix = torch.cat([torch.full((6, 1), BOS_ID), random_tokens(6, 4, seed=9)], dim=1)  # 2 sentences x 3 beams
    with torch.no_grad():
        encoded = model.encode(source)
        shared, expanded = model.new_cache(beams), model.new_cache()
        expanded_encoded = encoded.select(torch.arange(2).repeat_interleave(beams))
        for step in range(prefix.size(1)):
            a = model.decode(prefix[:, step:step + 1], encoded, shared)
            b = model.decode(prefix[:, step:step + 1], expanded_encoded, expanded)
            assert torch.allclose(a, b, atol=1e-5), step
        assert shared.layers[0].cross_keys.size(0) == 2 and expanded.layers[0].cross_keys.size(0) == 6


def test_dropout_drops_at_its_rate_scales_what_it_keeps_and_is_off_in_eval():
    from translate_cli.core.model import Dropout

    torch.manual_seed(0)
    layer = Dropout(0.1).train()
    x = torch.full((500, 400), 2.0, requires_grad=True)
    y = layer(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.9) < 0.003
    assert torch.allclose(y[kept], torch.tensor(2.0 / 0.9), rtol=1e-4)
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept) and torch.allclose(x.grad[kept], torch.tensor(1 / 0.9), rtol=1e-4)
    torch.manual_seed(0)
    assert torch.equal(layer(x), y)  # the default generator decides: seeded runs and resumes repeat it
    assert torch.equal(layer.eval()(x), x) and torch.equal(Dropout(0.0).train()(x), x)
