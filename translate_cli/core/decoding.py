"""What a search is asked for and what it returns, without torch: DecodeOptions and Hypothesis.

They live apart from core/search.py so that translating through CTranslate2 never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Annotated, Literal

from annotated_types import Ge

from translate_cli.errors import TcliError


@dataclass
class DecodeOptions:
    """How to translate: the config's `decode:` section, kept in model.json as the model's defaults."""

    __pydantic_config__ = {"extra": "forbid"}
    beam_size: Annotated[int, Ge(1)] = 5  # 1 = greedy
    length_penalty: Annotated[float, Ge(0)] = 0.6  # alpha of the length normalisation below
    # gnmt: score / ((5 + |Y|) / 6) ** alpha (tcli's models); power: score / |Y| ** alpha (Hugging Face and
    # CTranslate2, kept by imported models so they rank beams as they were tuned to). |Y| counts EOS.
    length_norm: Literal["gnmt", "power"] = "gnmt"
    max_len_a: Annotated[float, Ge(0)] = 1.5  # output length limit: a * source tokens + b
    max_len_b: Annotated[int, Ge(1)] = 10
    batch_tokens: Annotated[int, Ge(16)] = 6000  # source tokens x beams per batch
    nbest: Annotated[int, Ge(1)] = 1
    # "sentences": translate each sentence of a line on its own and join the translations; "none": whole lines
    split: Literal["sentences", "none"] = "sentences"

    @classmethod
    def from_record(cls, record: dict) -> "DecodeOptions":
        """From model.json's "decode" (keys of other tcli versions are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in record.items() if key in known})

    def __post_init__(self) -> None:
        if self.nbest > self.beam_size:
            raise ValueError(f"nbest ({self.nbest}) needs a beam at least as wide (beam_size {self.beam_size})")

    def updated(self, **values) -> "DecodeOptions":
        """Command-line settings over these defaults; None means "keep"."""
        chosen = {key: value for key, value in values.items() if value is not None}
        beam, nbest = chosen.get("beam_size", self.beam_size), chosen.get("nbest", self.nbest)
        if nbest > beam:
            raise TcliError(f"--nbest {nbest} needs a beam at least as wide; add --beam-size {nbest}")
        return replace(self, **chosen)


@dataclass
class Hypothesis:
    tokens: list[int]  # generated ids, without BOS and EOS
    score: float  # sum of token log-probabilities, EOS included
    normalized: float  # the score that ranks hypotheses (length-penalised for beam search)
