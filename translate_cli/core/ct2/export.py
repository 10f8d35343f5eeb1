"""Export a tcli model to CTranslate2 through its Python specification API (core/ct2/runtime.py translates).

The tcli transformer maps one to one onto CTranslate2's TransformerSpec: fused QKV self-attention,
query + fused KV cross-attention, the feed-forward activation, pre-norm with final layer norms (or
post-norm without, for imported Marian models), embeddings scaled by sqrt(d_model), sinusoidal
positions (always written out explicitly: CTranslate2's built-in table fits none of tcli's layouts), and
an output projection tied to the embedding, with the output bias of models that have one. The export
directory also carries tcli's model.json and the tokenizer's files, so the same normalisation,
tokenization and language tokens apply.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from translate_cli.core.checkpoint import MODEL_JSON, LoadedModel, write_dir_atomically
from translate_cli.core.ct2.runtime import CT2_MARKER, import_ctranslate2
from translate_cli.core.decoding import alignment_layer
from translate_cli.core.model import Seq2SeqTransformer
from translate_cli.core.positions import position_table
from translate_cli.core.tokenizer import tokenizer_files

MAX_POSITIONS = 1024


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy().copy()


def _linear(spec, layer: torch.nn.Linear) -> None:
    spec.weight = _array(layer.weight)
    spec.bias = _array(layer.bias)


def _norm(spec, layer: torch.nn.LayerNorm) -> None:
    spec.gamma = _array(layer.weight)
    spec.beta = _array(layer.bias)


def _feed_forward(spec, norm: torch.nn.LayerNorm, ff) -> None:
    _norm(spec.layer_norm, norm)
    _linear(spec.linear_0, ff[0])
    _linear(spec.linear_1, ff[2])


def build_spec(model: Seq2SeqTransformer, pieces: list[str], unk_id: int = 1):
    import_ctranslate2()  # the `ct2` extra's hint when it is missing
    from ctranslate2.specs import common_spec, transformer_spec

    config = model.config
    activation = {"relu": common_spec.Activation.RELU, "swish": common_spec.Activation.SWISH,
                  "gelu": common_spec.Activation.GELU}[config.activation]
    pre_norm = config.norm == "pre"
    # The cross-attention that aligns outputs with inputs (tags, glossary terms): the same layer as the native
    # backend's, averaged over all heads (0).
    spec = transformer_spec.TransformerSpec.from_config((config.encoder_layers, config.decoder_layers), config.heads,
                                                        pre_norm=pre_norm, activation=activation,
                                                        alignment_layer=alignment_layer(config.decoder_layers),
                                                        alignment_heads=0)
    embedding = _array(model.embedding.weight)
    positions = position_table(config.position_table, MAX_POSITIONS, config.d_model, config.position_offset).numpy()
    for side in (spec.encoder, spec.decoder):
        side.position_encodings.encodings = positions
        side.scale_embeddings = config.scale_embedding
    spec.encoder.embeddings[0].weight = embedding
    spec.decoder.embeddings.weight = embedding
    spec.decoder.projection.weight = embedding  # tied output projection
    if model.output_bias is not None:
        spec.decoder.projection.bias = _array(model.output_bias)
    if pre_norm:  # post-norm stacks have no final norms (nor does their spec)
        _norm(spec.encoder.layer_norm, model.encoder_norm)
        _norm(spec.decoder.layer_norm, model.decoder_norm)
    for layer_spec, layer in zip(spec.encoder.layer, model.encoder_layers):
        _norm(layer_spec.self_attention.layer_norm, layer.attention_norm)
        _linear(layer_spec.self_attention.linear[0], layer.attention.qkv)
        _linear(layer_spec.self_attention.linear[1], layer.attention.out)
        _feed_forward(layer_spec.ffn, layer.ff_norm, layer.ff)
    for layer_spec, layer in zip(spec.decoder.layer, model.decoder_layers):
        _norm(layer_spec.self_attention.layer_norm, layer.self_norm)
        _linear(layer_spec.self_attention.linear[0], layer.self_attention.qkv)
        _linear(layer_spec.self_attention.linear[1], layer.self_attention.out)
        _norm(layer_spec.attention.layer_norm, layer.cross_norm)
        _linear(layer_spec.attention.linear[0], layer.cross_attention.query)
        _linear(layer_spec.attention.linear[1], layer.cross_attention.key_value)
        _linear(layer_spec.attention.linear[2], layer.cross_attention.out)
        _feed_forward(layer_spec.ffn, layer.ff_norm, layer.ff)
    spec.config.unk_token, spec.config.eos_token = pieces[unk_id], pieces[config.eos_id]
    spec.config.bos_token = spec.config.decoder_start_token = pieces[config.bos_id]
    spec.register_source_vocabulary(pieces)
    spec.register_target_vocabulary(pieces)
    spec.validate()
    return spec


def export(loaded: LoadedModel, output: Path, quantization: str | None = None) -> Path:
    """Write a CTranslate2 model directory (plus tcli's model.json and tokenizer files) to `output`."""
    output = Path(output)
    tokenizer = loaded.tokenizer
    spec = build_spec(loaded.model, tokenizer.pieces(range(tokenizer.vocab_size)), tokenizer.unk_id)
    spec.optimize(quantization=quantization or "float32")

    def fill(folder: Path) -> None:
        spec.save(str(folder))
        shutil.copyfile(loaded.path / MODEL_JSON, folder / MODEL_JSON)
        for name in tokenizer_files(loaded.info.tokenizer):
            shutil.copyfile(loaded.path / name, folder / name)
        (folder / CT2_MARKER).write_text(json.dumps({"quantization": quantization or "float32",
                                                     "source": str(loaded.path)}), encoding="utf-8")

    write_dir_atomically(output, fill, CT2_MARKER)
    return output
