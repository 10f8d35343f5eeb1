"""The transformer's shape (ModelConfig), without torch, so model.json can be read by a process that
never builds the PyTorch model (translating through CTranslate2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Annotated

from annotated_types import Ge, Gt, Lt

# Set by the vocabulary, never by hand: prepare's SentencePiece model (or an imported model) fixes them.
VOCABULARY_FIELDS = ("vocab_size", "pad_id", "bos_id", "eos_id")


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
    bos_id: int = 2
    eos_id: int = 3

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")

    def to_dict(self) -> dict:
        return asdict(self)

    def same_weights_shape(self, other: "ModelConfig") -> bool:
        """Whether weights of one fit the other: everything but dropout and the translator's input limit."""
        return replace(self, dropout=0.0, max_source_tokens=8) == replace(other, dropout=0.0, max_source_tokens=8)
