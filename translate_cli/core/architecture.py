"""The transformer's shape (ModelConfig), without torch, so model.json can be read by a process that
never builds the PyTorch model (translating through CTranslate2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Annotated, Literal, Optional

from annotated_types import Ge, Gt, Lt

# Set by the vocabulary, never by hand: prepare's SentencePiece model (or an imported model) fixes them.
VOCABULARY_FIELDS = ("vocab_size", "pad_id", "bos_id", "eos_id", "suppressed_ids")


@dataclass
class ModelConfig:
    """The transformer's shape: the config's `model:` section and the "model" record of model.json."""

    __pydantic_config__ = {"extra": "forbid"}
    d_model: Annotated[int, Gt(0)] = 256
    heads: Annotated[int, Gt(0)] = 4
    encoder_layers: Annotated[int, Ge(1)] = 3
    decoder_layers: Annotated[int, Ge(1)] = 3
    ff_dim: Annotated[int, Gt(0)] = 1024
    dropout: Annotated[float, Ge(0.0), Lt(1.0)] = 0.1
    max_source_tokens: Annotated[int, Ge(8)] = 256  # longer inputs are split by the translator
    vocab_size: Annotated[int, Ge(0)] = 0  # 0 until the vocabulary is known
    pad_id: int = 0
    bos_id: int = 2  # the decoder's start token (Marian: <pad>; M2M100/NLLB: </s>)
    eos_id: int = 3
    suppressed_ids: Optional[list[int]] = None  # never generated; None: pad_id and bos_id (tcli's own models)
    # Architecture switches. tcli's own models keep these defaults; imported models record their own.
    norm: Literal["pre", "post"] = "pre"  # post: LayerNorm after each residual sum, and no final norms (Marian)
    activation: Literal["relu", "swish", "gelu"] = "relu"  # of the feed-forward layers
    scale_embedding: bool = True  # multiply embeddings by sqrt(d_model)
    position_table: Literal["interleaved", "halves", "fairseq"] = "interleaved"  # see core/positions.py
    position_offset: Annotated[int, Ge(0)] = 0  # position of the first token (M2M100/NLLB: pad_id + 1)
    output_bias: bool = False  # a fixed bias added to the output logits (Marian's final_logits_bias)

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")

    def to_dict(self) -> dict:
        return asdict(self)

    def same_weights_shape(self, other: "ModelConfig") -> bool:
        """Whether weights of one fit the other: everything but dropout and the translator's input limit."""
        return replace(self, dropout=0.0, max_source_tokens=8) == replace(other, dropout=0.0, max_source_tokens=8)


def suppressed_ids(config: ModelConfig) -> list[int]:
    """Tokens a model never generates (used by the native search and by the CTranslate2 backend)."""
    return [config.pad_id, config.bos_id] if config.suppressed_ids is None else list(config.suppressed_ids)
