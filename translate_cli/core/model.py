"""Seq2SeqTransformer: an encoder-decoder with tied embeddings (pre-LayerNorm for tcli's own models).

encode / decode (optionally incremental, with a key/value cache) / logits. No loss, no search here.
A few recorded switches (ModelConfig.norm, activation, scale_embedding, position_table, position_offset,
output_bias) let the same class run imported architectures (Marian, M2M100/NLLB: core/hf/importer.py);
their defaults are tcli's own architecture.
Shapes: B batch, S source length, T target length, D width, H heads, E = D / H per-head width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from translate_cli.core.architecture import ModelConfig
from translate_cli.core.positions import position_table

ACTIVATIONS = {"relu": nn.ReLU, "swish": nn.SiLU, "gelu": nn.GELU}


@dataclass
class Encoded:
    memory: torch.Tensor  # (B, S, D) encoder output
    source_mask: torch.Tensor  # (B, 1, 1, S) True where a source position is a real token

    def select(self, rows: torch.Tensor) -> "Encoded":
        return Encoded(self.memory.index_select(0, rows), self.source_mask.index_select(0, rows))


@dataclass
class LayerCache:
    """One decoder layer's keys/values. Self-attention keys/values live in buffers with room to grow, so
    a step writes its one new position in place instead of copying the whole cache (torch.cat)."""

    key_buffer: Optional[torch.Tensor] = None  # (B, H, capacity, E); the first `filled` steps are real
    value_buffer: Optional[torch.Tensor] = None
    filled: int = 0
    cross_keys: Optional[torch.Tensor] = None  # (B, H, S, E) encoder keys, computed once per sentence
    cross_values: Optional[torch.Tensor] = None

    @property
    def self_keys(self) -> Optional[torch.Tensor]:  # (B, H, t, E) keys of the steps decoded so far
        return None if self.key_buffer is None else self.key_buffer[:, :, :self.filled]

    @property
    def self_values(self) -> Optional[torch.Tensor]:
        return None if self.value_buffer is None else self.value_buffer[:, :, :self.filled]

    def append(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new steps' keys/values (B, H, n, E); returns all keys/values so far."""
        needed = self.filled + key.size(2)
        if self.key_buffer is None or needed > self.key_buffer.size(2):
            capacity = max(needed, 16, 2 * (self.key_buffer.size(2) if self.key_buffer is not None else 0))
            grown = [torch.empty(*key.shape[:2], capacity, key.size(3), dtype=key.dtype, device=key.device)
                     for _ in range(2)]
            if self.filled:
                grown[0][:, :, :self.filled] = self.self_keys
                grown[1][:, :, :self.filled] = self.self_values
            self.key_buffer, self.value_buffer = grown
        self.key_buffer[:, :, self.filled:needed] = key
        self.value_buffer[:, :, self.filled:needed] = value
        self.filled = needed
        return self.self_keys, self.self_values


@dataclass
class DecoderCache:
    """Per-layer keys/values of an incremental decode; `length` is how many target steps it holds.

    With `beams` > 1 the decoder rows are sentence-major groups of `beams` hypotheses that share one
    sentence's encoder keys/values: cross-attention keeps one copy per sentence, not one per beam.
    """

    layers: list[LayerCache] = field(default_factory=list)
    length: int = 0
    beams: int = 1

    def select(self, rows: torch.Tensor, sentences: Optional[torch.Tensor] = None) -> None:
        """Keep (and reorder to) the given decoder rows. With beams == 1 the cross-attention rows
        follow `rows`; with beams > 1 they follow `sentences` (None: no sentence left the batch)."""
        if self.beams == 1:
            sentences = rows
        for layer in self.layers:
            if layer.key_buffer is not None:
                layer.key_buffer = layer.key_buffer.index_select(0, rows)
                layer.value_buffer = layer.value_buffer.index_select(0, rows)
            if sentences is not None:
                layer.cross_keys = layer.cross_keys.index_select(0, sentences)
                layer.cross_values = layer.cross_values.index_select(0, sentences)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, width = x.shape  # (B, T, D) -> (B, H, T, E)
    return x.view(batch, length, heads, width // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    batch, heads, length, per_head = x.shape  # (B, H, T, E) -> (B, T, D)
    return x.transpose(1, 2).reshape(batch, length, heads * per_head)


def attention_weights(query: torch.Tensor, key: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """softmax(QK^T / sqrt(E)) over the keys `mask` allows (True = may attend, broadcast to the scores):
    query (..., Tq, E) and key (..., Tk, E) with the same leading dims -> weights (..., Tq, Tk).

    Used for one decoding step's cross-attention, where a few queries per sentence make batched
    matmuls with an additive mask faster on CPU than scaled_dot_product_attention's fused kernel, and
    for attention pictures, which need the weights that the fused kernel never materialises.
    """
    *batch, queries, width = query.shape
    length = key.size(-2)
    bias = torch.zeros(mask.shape, dtype=query.dtype, device=query.device).masked_fill_(~mask, float("-inf"))
    scores = torch.baddbmm(bias.expand(*batch, queries, length).reshape(-1, queries, length),
                           query.reshape(-1, queries, width), key.reshape(-1, length, width).transpose(1, 2),
                           alpha=width ** -0.5)
    return torch.softmax(scores, dim=-1).view(*batch, queries, length)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None, causal: bool = False,
                cache: Optional[LayerCache] = None) -> torch.Tensor:
        query, key, value = (_split_heads(part, self.heads) for part in self.qkv(x).chunk(3, dim=-1))
        if cache is not None:
            assert not (causal and query.size(2) > 1 and cache.filled), "a multi-position step needs an empty cache"
            key, value = cache.append(key, value)
            causal = causal and query.size(2) > 1  # one decoding step may see every cached (earlier) position
        attended = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, is_causal=causal,
                                                  dropout_p=self.dropout if self.training else 0.0)
        return self.out(_merge_heads(attended))


class CrossAttention(nn.Module):
    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, encoded: Encoded, cache: Optional[LayerCache] = None,
                beams: int = 1) -> torch.Tensor:
        """x (B * beams, T, D) attends over encoded (B, S, D): the beams of a sentence become extra
        query positions over that sentence's keys, so encoder keys/values are never copied per beam."""
        if cache is not None and cache.cross_keys is not None:
            key, value = cache.cross_keys, cache.cross_values
        else:
            key, value = (_split_heads(p, self.heads) for p in self.key_value(encoded.memory).chunk(2, dim=-1))
            if cache is not None:  # contiguous once, so every decoding step reads them without a copy
                key, value = key.contiguous(), value.contiguous()
                cache.cross_keys, cache.cross_values = key, value
        rows, length, width = x.shape
        grouped = _split_heads(self.query(x).view(rows // beams, beams * length, width), self.heads)
        if cache is not None and length == 1:  # one decoding step: `beams` query positions per sentence
            attended = torch.matmul(attention_weights(grouped, key, encoded.source_mask), value)
        else:
            attended = F.scaled_dot_product_attention(grouped, key, value, attn_mask=encoded.source_mask,
                                                      dropout_p=self.dropout if self.training else 0.0)
        return self.out(_merge_heads(attended).view(rows, length, width))


class Dropout(nn.Module):
    """Dropout with its mask drawn from 64-bit random words, 15 bits per element, instead of a float per
    element (aten::bernoulli_): the same distribution (p rounded to a multiple of 1/32768) at a third less
    time; on CPU the masks were the largest cost after the matrix products (docs/benchmarks.md, issue 27)."""

    RESOLUTION = 1 << 15

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.threshold = round(p * self.RESOLUTION)
        self.scale = self.RESOLUTION / (self.RESOLUTION - self.threshold) if self.threshold < self.RESOLUTION else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        words = torch.empty((x.numel() + 3) // 4, dtype=torch.int64, device=x.device).random_()
        draws = words.view(torch.int16)[:x.numel()].view(x.shape) & (self.RESOLUTION - 1)
        return torch.where(draws >= self.threshold, x * self.scale, 0.0)

    def extra_repr(self) -> str:
        return f"p={self.threshold / self.RESOLUTION:g}"


class FeedForward(nn.Sequential):
    # No dropout on the wide inner activation (fairseq's activation_dropout=0 default): on CPU its
    # random mask costs more than the layer's matmuls are worth; the residual dropout remains.
    def __init__(self, d_model: int, ff_dim: int, activation: str = "relu"):
        super().__init__(nn.Linear(d_model, ff_dim), ACTIVATIONS[activation](), nn.Linear(ff_dim, d_model))


class _Residual(nn.Module):
    """Residual sublayers with the LayerNorm before the sublayer (pre) or after the sum (post)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.post_norm = config.norm == "post"
        self.dropout = Dropout(config.dropout)

    def _residual(self, x: torch.Tensor, norm: nn.LayerNorm, sublayer) -> torch.Tensor:
        if self.post_norm:
            return norm(x + self.dropout(sublayer(x)))
        return x + self.dropout(sublayer(norm(x)))


class EncoderLayer(_Residual):
    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.attention_norm = nn.LayerNorm(config.d_model)
        self.attention = SelfAttention(config.d_model, config.heads, config.dropout)
        self.ff_norm = nn.LayerNorm(config.d_model)
        self.ff = FeedForward(config.d_model, config.ff_dim, config.activation)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self._residual(x, self.attention_norm, lambda h: self.attention(h, mask=mask))
        return self._residual(x, self.ff_norm, self.ff)


class DecoderLayer(_Residual):
    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.self_norm = nn.LayerNorm(config.d_model)
        self.self_attention = SelfAttention(config.d_model, config.heads, config.dropout)
        self.cross_norm = nn.LayerNorm(config.d_model)
        self.cross_attention = CrossAttention(config.d_model, config.heads, config.dropout)
        self.ff_norm = nn.LayerNorm(config.d_model)
        self.ff = FeedForward(config.d_model, config.ff_dim, config.activation)

    def forward(self, x: torch.Tensor, encoded: Encoded, cache: Optional[LayerCache] = None,
                beams: int = 1) -> torch.Tensor:
        x = self._residual(x, self.self_norm, lambda h: self.self_attention(h, causal=True, cache=cache))
        x = self._residual(x, self.cross_norm, lambda h: self.cross_attention(h, encoded, cache=cache, beams=beams))
        return self._residual(x, self.ff_norm, self.ff)

    def attention_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the self-attention projects, what the cross-attention's query projects) in a teacher-forced
        pass: attention pictures recompute the weights from them."""
        self_input = x if self.post_norm else self.self_norm(x)
        x = self._residual(x, self.self_norm, lambda h: self.self_attention(h, causal=True))
        return self_input, x if self.post_norm else self.cross_norm(x)


class Seq2SeqTransformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        assert config.vocab_size > 0, "the model needs the vocabulary's size"
        self.config = config
        # One embedding matrix serves the encoder input, decoder input and output projection.
        self.embedding = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_id)
        self.encoder_layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.decoder_layers))
        # Post-norm stacks end in a LayerNorm already; a LayerNorm with unit gain is no identity, so none is added.
        final_norm = (lambda: nn.LayerNorm(config.d_model)) if config.norm == "pre" else nn.Identity
        self.encoder_norm = final_norm()
        self.decoder_norm = final_norm()
        self.dropout = Dropout(config.dropout)
        self.scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.output_projection: Optional[nn.Module] = None  # set only by int8 quantization (core/native.py)
        self.register_buffer("positions", self._position_rows(512), persistent=False)
        # A fixed buffer, as in Hugging Face's Marian: saved and loaded, never trained.
        self.register_buffer("output_bias", torch.zeros(config.vocab_size) if config.output_bias else None)
        self._init_weights()

    def _position_rows(self, length: int) -> torch.Tensor:
        config = self.config
        return position_table(config.position_table, length, config.d_model, config.position_offset)

    def _init_weights(self) -> None:
        for name, parameter in self.named_parameters():
            if parameter.dim() > 1 and name != "embedding.weight":
                nn.init.xavier_uniform_(parameter)
            elif name.endswith("bias"):
                nn.init.zeros_(parameter)
        # Scaled by sqrt(D) on input, so the embedded tokens start with unit variance.
        nn.init.normal_(self.embedding.weight, std=self.config.d_model ** -0.5)
        with torch.no_grad():
            self.embedding.weight[self.config.pad_id].zero_()

    def _embed(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        length = tokens.size(1)
        if offset + length > self.positions.size(0):
            self.positions = self._position_rows(2 * (offset + length)).to(self.positions)
        positions = self.positions[offset:offset + length]
        return self.dropout(self.embedding(tokens) * self.scale + positions)  # (B, T, D)

    def encode(self, source: torch.Tensor) -> Encoded:
        """source (B, S) ids, right-padded -> encoder states and the source padding mask."""
        mask = (source != self.config.pad_id)[:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(source)
        for layer in self.encoder_layers:
            x = layer(x, mask)
        return Encoded(self.encoder_norm(x), mask)

    def new_cache(self, beams: int = 1) -> DecoderCache:
        return DecoderCache([LayerCache() for _ in self.decoder_layers], beams=beams)

    def decode(self, target_in: torch.Tensor, encoded: Encoded, cache: Optional[DecoderCache] = None) -> torch.Tensor:
        """Decoder states (B, T, D).

        Without a cache: the whole (shifted-right) target at once under a causal mask (teacher forcing).
        With a cache: `target_in` holds only the newest step(s), which attend over the cached steps.
        """
        offset = cache.length if cache is not None else 0
        beams = cache.beams if cache is not None else 1
        x = self._embed(target_in, offset)
        for index, layer in enumerate(self.decoder_layers):
            x = layer(x, encoded, cache.layers[index] if cache is not None else None, beams)
        if cache is not None:
            cache.length += target_in.size(1)
        return self.decoder_norm(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., V) through the tied embedding (plus the output bias of models that have one)."""
        if self.output_projection is not None:
            return self.output_projection(hidden)
        return F.linear(hidden, self.embedding.weight, self.output_bias)

    def forward(self, source: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder states (B, T, D) for the whole shifted-right target in one pass.

        Returns states, not logits, so the loss can project only the real (non-pad) positions.
        """
        return self.decode(target_in, self.encode(source))


@torch.inference_mode()
def decoder_attention(model: Seq2SeqTransformer, source: torch.Tensor, target_in: torch.Tensor, layer: int,
                      kind: str = "cross") -> torch.Tensor:
    """Per-head weights of decoder `layer` in a teacher-forced pass: (B, H, T, S) cross or (B, H, T, T) self.

    source (B, S) ids + EOS, right-padded; target_in (B, T) the decoder's start token + output ids (row t is
    the step that produced output token t). Used for attention pictures and for aligning a translation with
    its source (core/native.py); padded rows and columns are left to the caller.
    """
    assert kind in ("cross", "self")
    was_training = model.training
    model.eval()
    layers = model.decoder_layers
    block = layers[layer % len(layers)]
    encoded = model.encode(source)
    x = model._embed(target_in)
    for earlier in layers[:layer % len(layers)]:
        x = earlier(x, encoded)
    heads, length = block.self_attention.heads, target_in.size(1)
    self_input, cross_input = block.attention_inputs(x)
    if kind == "self":
        query, key, _ = block.self_attention.qkv(self_input).chunk(3, dim=-1)
        mask = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
    else:
        query = block.cross_attention.query(cross_input)
        key, _ = block.cross_attention.key_value(encoded.memory).chunk(2, dim=-1)
        mask = encoded.source_mask  # (B, 1, 1, S) broadcasts over heads and steps
    weights = attention_weights(_split_heads(query, heads), _split_heads(key, heads), mask)
    model.train(was_training)
    return weights
