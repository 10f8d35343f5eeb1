"""Import a Hugging Face translation model folder (OPUS-MT/Marian, M2M100, NLLB) as a tcli model directory.

The architecture becomes a ModelConfig with the switches it needs (core/model.py), the weights are renamed
and fused into tcli's layout (q|k|v into one projection), the tokenizer becomes source/target SentencePiece
models plus a vocabulary (core/hf/vocab.py), and the generation settings become the model's decode
defaults. Weights are read from safetensors, or from PyTorch .bin files only through
torch.load(weights_only=True), which refuses a pickle that would run code.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from translate_cli.core.architecture import ModelConfig
from translate_cli.core.checkpoint import MODEL_JSON, ModelInfo, write_dir_atomically, write_model_files
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.hf.vocab import Vocabulary, m2m100_vocabulary, marian_vocabulary, nllb_vocabulary, read_json
from translate_cli.core.model import Seq2SeqTransformer
from translate_cli.core.text import Normalization
from translate_cli.core.tokenizer import SOURCE_SPM, TARGET_SPM, VOCABULARY, VocabTokenizer, write_vocabulary
from translate_cli.errors import CheckpointError, reason

SUPPORTED = {"marian": "OPUS-MT (MarianMTModel)", "m2m_100": "M2M100 or NLLB (M2M100ForConditionalGeneration)"}
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
ACTIVATIONS = {"relu": "relu", "swish": "swish", "silu": "swish", "gelu": "gelu"}
GENERATION_KEYS = ("num_beams", "length_penalty", "bad_words_ids", "decoder_start_token_id")
EMBEDDING_ALIASES = ("model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight",
                     "lm_head.weight")
IGNORED = ("embed_positions",)  # recomputed from the formula (never trained)


@dataclass
class Imported:
    folder: Path
    info: ModelInfo
    kind: str  # what was imported, in words
    parameters: int
    notes: list[str] = field(default_factory=list)


def load_hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The state dict of a Hugging Face folder (safetensors preferred; sharded files followed), as float32."""
    path = next((folder / name for name in WEIGHTS if (folder / name).is_file()), None)
    if path is None:
        raise CheckpointError(f"{folder}: no weights (model.safetensors or pytorch_model.bin); download the "
                              f"complete model folder")
    files = [path]
    if path.name.endswith(".index.json"):
        weight_map = read_json(path).get("weight_map", {})
        files = [folder / name for name in dict.fromkeys(weight_map.values())]
    state: dict[str, torch.Tensor] = {}
    for shard in files:
        state.update(_load_file(shard))
    return {name: tensor.float() if tensor.is_floating_point() else tensor for name, tensor in state.items()}


def _load_file(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (listed in the weights index); download the complete model folder")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({reason(exc)}); download it again") from None
    try:  # a pickle: only tensors and plain containers, never code (weights_only)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: refused: not a plain weights file that loads without running code "
                              f"({reason(exc)}); use the model's model.safetensors instead") from None
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise CheckpointError(f"{path}: does not hold a state dict of tensors; use the model's model.safetensors")
    return state


class _Tensors:
    """Takes tensors out of a Hugging Face state dict by name (with or without the `model.` prefix)."""

    def __init__(self, state: dict[str, torch.Tensor], where: Path):
        self.state, self.where = dict(state), where

    def take(self, name: str) -> torch.Tensor:
        for key in (f"model.{name}", name):
            if key in self.state:
                return self.state.pop(key)
        raise CheckpointError(f"{self.where}: has no tensor {name}; the weights are incomplete or of another model")

    def fused(self, prefix: str, parts: str) -> dict[str, torch.Tensor]:
        """One Linear from several (q|k|v), concatenated along the output features."""
        return {kind: torch.cat([self.take(f"{prefix}.{part}_proj.{kind}") for part in parts.split()])
                for kind in ("weight", "bias")}

    def linear(self, name: str) -> dict[str, torch.Tensor]:
        return {kind: self.take(f"{name}.{kind}") for kind in ("weight", "bias")}

    def embedding(self) -> torch.Tensor:
        """The one embedding matrix; every other stored alias (they are tied) must equal it."""
        present = [key for key in EMBEDDING_ALIASES if key in self.state]
        if not present:
            raise CheckpointError(f"{self.where}: has no embedding matrix (model.shared.weight)")
        first = self.state.pop(present[0])
        for key in present[1:]:
            if not torch.equal(self.state.pop(key), first):
                raise CheckpointError(f"{self.where}: {key} differs from {present[0]}: untied embeddings are not "
                                      f"supported (tcli ties input and output embeddings)")
        return first


def convert_weights(state: dict[str, torch.Tensor], config: ModelConfig, where: Path) -> dict[str, torch.Tensor]:
    """Hugging Face Marian/M2M100 tensor names -> tcli's (a layer's `final_layer_norm` is its FFN norm)."""
    tensors = _Tensors(state, where)
    out = {"embedding.weight": tensors.embedding()}

    def put(name: str, parts: dict[str, torch.Tensor]) -> None:
        out.update({f"{name}.{kind}": tensor for kind, tensor in parts.items()})
    for i in range(config.encoder_layers):
        hf, ours = f"encoder.layers.{i}", f"encoder_layers.{i}"
        put(f"{ours}.attention_norm", tensors.linear(f"{hf}.self_attn_layer_norm"))
        put(f"{ours}.attention.qkv", tensors.fused(f"{hf}.self_attn", "q k v"))
        put(f"{ours}.attention.out", tensors.linear(f"{hf}.self_attn.out_proj"))
        put(f"{ours}.ff_norm", tensors.linear(f"{hf}.final_layer_norm"))
        put(f"{ours}.ff.0", tensors.linear(f"{hf}.fc1"))
        put(f"{ours}.ff.2", tensors.linear(f"{hf}.fc2"))
    for i in range(config.decoder_layers):
        hf, ours = f"decoder.layers.{i}", f"decoder_layers.{i}"
        put(f"{ours}.self_norm", tensors.linear(f"{hf}.self_attn_layer_norm"))
        put(f"{ours}.self_attention.qkv", tensors.fused(f"{hf}.self_attn", "q k v"))
        put(f"{ours}.self_attention.out", tensors.linear(f"{hf}.self_attn.out_proj"))
        put(f"{ours}.cross_norm", tensors.linear(f"{hf}.encoder_attn_layer_norm"))
        put(f"{ours}.cross_attention.query", tensors.linear(f"{hf}.encoder_attn.q_proj"))
        put(f"{ours}.cross_attention.key_value", tensors.fused(f"{hf}.encoder_attn", "k v"))
        put(f"{ours}.cross_attention.out", tensors.linear(f"{hf}.encoder_attn.out_proj"))
        put(f"{ours}.ff_norm", tensors.linear(f"{hf}.final_layer_norm"))
        put(f"{ours}.ff.0", tensors.linear(f"{hf}.fc1"))
        put(f"{ours}.ff.2", tensors.linear(f"{hf}.fc2"))
    if config.norm == "pre":
        put("encoder_norm", tensors.linear("encoder.layer_norm"))
        put("decoder_norm", tensors.linear("decoder.layer_norm"))
    if config.output_bias:  # Hugging Face initialises a missing final_logits_bias to zeros
        bias = tensors.state.pop("final_logits_bias", torch.zeros(1, config.vocab_size))
        out["output_bias"] = bias.reshape(-1)
    unknown = [key for key in tensors.state if not any(part in key for part in IGNORED)]
    if unknown:
        raise CheckpointError(f"{where}: holds tensors tcli does not know ({', '.join(sorted(unknown)[:3])}); this "
                              f"variant of the architecture is not supported")
    return out


def generation_settings(folder: Path, config: dict) -> dict:
    """generation_config.json, or (older folders) the generation keys of config.json."""
    found = read_json(folder / "generation_config.json", required=False)
    return found or {key: config[key] for key in GENERATION_KEYS if key in config}


def model_config(config: dict, generation: dict, where: Path) -> ModelConfig:
    marian = config["model_type"] == "marian"
    heads, ffn = config.get("encoder_attention_heads"), config.get("encoder_ffn_dim")
    if (heads, ffn) != (config.get("decoder_attention_heads"), config.get("decoder_ffn_dim")):
        raise CheckpointError(f"{where}: encoder and decoder differ in heads or feed-forward width; not supported")
    if config.get("share_encoder_decoder_embeddings") is False or config.get("tie_word_embeddings") is False:
        raise CheckpointError(f"{where}: untied or unshared embeddings are not supported")
    activation = ACTIVATIONS.get(config.get("activation_function", "relu"))
    if activation is None:
        raise CheckpointError(f"{where}: activation_function {config['activation_function']!r} is not supported "
                              f"(supported: {', '.join(ACTIVATIONS)})")
    pad = config["pad_token_id"]
    banned = [ids[0] for ids in generation.get("bad_words_ids") or [] if len(ids) == 1]
    start = generation.get("decoder_start_token_id", config.get("decoder_start_token_id"))
    try:
        return ModelConfig(
            d_model=config["d_model"], heads=heads, encoder_layers=config["encoder_layers"],
            decoder_layers=config["decoder_layers"], ff_dim=ffn, dropout=config.get("dropout", 0.1),
            max_source_tokens=max(8, config.get("max_position_embeddings", 512)), vocab_size=config["vocab_size"],
            pad_id=pad, bos_id=pad if start is None else start, eos_id=config["eos_token_id"],
            # Marian's <pad> (a zero row, start of every output) must never be generated.
            suppressed_ids=banned or ([pad] if marian else []), norm="post" if marian else "pre",
            activation=activation, scale_embedding=config.get("scale_embedding", not marian),
            position_table="halves" if marian else "fairseq", position_offset=0 if marian else pad + 1,
            output_bias=marian)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: incomplete or unusual ({reason(exc)}); not a model tcli can import") from None


def read_vocabulary(folder: Path, config: dict, source_lang: str | None, target_lang: str | None) -> Vocabulary:
    if config["model_type"] == "marian":
        return marian_vocabulary(folder, config, source_lang, target_lang)
    tokenizer_class = config.get("tokenizer_class") or read_json(folder / "tokenizer_config.json",
                                                                  required=False).get("tokenizer_class", "")
    if "nllb" in str(tokenizer_class).lower() or not (folder / "vocab.json").is_file():
        return nllb_vocabulary(folder, config, source_lang)
    return m2m100_vocabulary(folder, config, source_lang)


def import_folder(source: Path, output: Path, source_lang: str | None = None,
                  target_lang: str | None = None, origin: str | None = None) -> Imported:
    """Convert the Hugging Face model in `source` into the tcli model directory `output` (written atomically)."""
    source = Path(source)
    if not source.is_dir():
        raise CheckpointError(f"{source}: not a folder; pass a Hugging Face model folder or a hub id")
    config = read_json(source / "config.json")
    model_type = config.get("model_type")
    if model_type not in SUPPORTED:
        raise CheckpointError(f"{source / 'config.json'}: model_type {model_type!r} is not a translation model tcli "
                              f"can import; it imports {' and '.join(SUPPORTED.values())}")
    vocabulary = read_vocabulary(source, config, source_lang, target_lang)
    settings = model_config(config, generation_settings(source, config), source / "config.json")
    model = Seq2SeqTransformer(settings)
    state = load_hf_weights(source)
    try:
        model.load_state_dict(convert_weights(state, settings, source))
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: the weights do not fit config.json ({reason(exc)})") from None
    info = _info(settings, vocabulary, generation_settings(source, config), origin or str(source), model_type)
    with tempfile.TemporaryDirectory() as scratch:
        files = Path(scratch)
        shutil.copyfile(vocabulary.source_spm, files / SOURCE_SPM)
        shutil.copyfile(vocabulary.target_spm, files / TARGET_SPM)
        write_vocabulary(files / VOCABULARY, vocabulary.pieces, vocabulary.unk_id, vocabulary.control_ids)
        tokenizer = VocabTokenizer(files)
        for lang in info.target_langs:
            info.tokens_for(lang).ids(tokenizer)  # every language token is in the vocabulary
        write_dir_atomically(Path(output), lambda folder: write_model_files(folder, info, model, tokenizer), MODEL_JSON)
    parameters = sum(p.numel() for p in model.parameters())
    return Imported(Path(output), info, vocabulary.kind, parameters, vocabulary.notes)


def _info(settings: ModelConfig, vocabulary: Vocabulary, generation: dict, origin: str, model_type: str) -> ModelInfo:
    beams = int(generation.get("num_beams") or 1)
    decode = DecodeOptions(beam_size=beams if beams > 1 else 5, length_penalty=float(generation.get("length_penalty", 1.0)),
                           length_norm="power")
    langs = list(vocabulary.lang_tokens)
    # The SentencePiece models normalise text themselves; tcli only tidies whitespace and control characters.
    rules = {lang: Normalization(unicode_form="none") for lang in dict.fromkeys([vocabulary.source_lang, *langs])}
    return ModelInfo(model=settings, source_lang=vocabulary.source_lang, target_langs=langs, normalize=rules,
                     decode=decode, training={"imported_from": origin, "hf_model_type": model_type},
                     tokenizer=VocabTokenizer.kind, lang_tokens=vocabulary.lang_tokens)
