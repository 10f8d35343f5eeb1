"""Attention weights of one decoder layer, for pictures: what each output step looked at.

scaled_dot_product_attention never materialises its weights, so they are recomputed here from the
layer's own projections, for a teacher-forced pass over a finished translation (which gives exactly the
weights the incremental decode used, see tests/test_model.py).
"""

from __future__ import annotations

import torch

from translate_cli.core.model import Seq2SeqTransformer, _split_heads, attention_weights


def _weights(query: torch.Tensor, key: torch.Tensor, heads: int, mask: torch.Tensor) -> torch.Tensor:
    """(1, T, D) projections -> (H, Tq, Tk) weights for one sentence."""
    return attention_weights(_split_heads(query, heads), _split_heads(key, heads), mask)[0]


@torch.inference_mode()
def decoder_attention(model: Seq2SeqTransformer, source: torch.Tensor, target_in: torch.Tensor, layer: int,
                      kind: str = "cross") -> torch.Tensor:
    """Per-head weights of decoder `layer` for one sentence: (H, T, S) cross or (H, T, T) self-attention.

    source (1, S) ids + EOS; target_in (1, T) BOS + generated ids (row t is the step that produced
    output token t).
    """
    assert source.size(0) == 1 and kind in ("cross", "self")
    model = model.eval()
    layers = model.decoder_layers
    layer = layer % len(layers)
    encoded = model.encode(source)
    x = model._embed(target_in)
    for block in layers[:layer]:
        x = block(x, encoded)
    block = layers[layer]
    heads = block.self_attention.heads
    length = target_in.size(1)
    if kind == "self":
        query, key, _ = block.self_attention.qkv(block.self_norm(x)).chunk(3, dim=-1)
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        return _weights(query, key, heads, causal)
    x = x + block.self_attention(block.self_norm(x), causal=True)
    query = block.cross_attention.query(block.cross_norm(x))
    key, _ = block.cross_attention.key_value(encoded.memory).chunk(2, dim=-1)
    mask = encoded.source_mask[0]  # (1, 1, S) broadcasts over heads and steps
    return _weights(query, key, heads, mask)
