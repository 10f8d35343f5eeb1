"""Optional int8 dynamic quantization of a model's linear layers for CPU inference.

Weights become int8 with a per-tensor scale; activations are quantized on the fly per batch. The tied
output projection is not an nn.Linear, so it gets its own (quantized) copy of the embedding matrix.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from translate_cli.core.model import Seq2SeqTransformer


def quantize_int8(model: Seq2SeqTransformer) -> Seq2SeqTransformer:
    config = model.config
    projection = nn.Linear(config.d_model, config.vocab_size, bias=model.output_bias is not None)
    projection.weight = nn.Parameter(model.embedding.weight.detach().clone())
    if model.output_bias is not None:
        projection.bias = nn.Parameter(model.output_bias.detach().clone())
    model.output_projection = projection
    with warnings.catch_warnings():
        # torch.ao's eager-mode API is deprecated in favour of the separate torchao package; it still
        # works, and keeps tcli free of another dependency.
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(model.eval(), {nn.Linear}, dtype=torch.qint8)
    return quantized
