"""The contract between the translator and a backend's search, without torch: what a search is asked for
(DecodeOptions), what it returns (Hypothesis), and the Searcher protocol that the native search
(core/native.py) and the CTranslate2 runtime (core/ct2/runtime.py) implement.

Nothing here imports torch, so translating through CTranslate2 never does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Annotated, Literal, Optional, Protocol

from annotated_types import Ge

from translate_cli.errors import TcliError

if TYPE_CHECKING:  # numpy only in annotations: the command line imports this module at start-up
    import numpy as np

# --backend: auto takes a CTranslate2 export made from the model's weights if there is one (core/ct2/backend.py)
Backend = Literal["auto", "native", "ctranslate2"]
Quantization = Literal["none", "int8"]  # --quantize (native backend) and --quantization (an export's weights)


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

    def updated(self, overrides: "DecodeOverrides | None" = None, **values) -> "DecodeOptions":
        """Command-line settings over these defaults; None means "keep"."""
        given = {f.name: getattr(overrides, f.name) for f in fields(DecodeOverrides)} if overrides else {}
        chosen = {key: value for key, value in {**given, **values}.items() if value is not None}
        beam, nbest = chosen.get("beam_size", self.beam_size), chosen.get("nbest", self.nbest)
        if nbest > beam:
            raise TcliError(f"--nbest {nbest} needs a beam at least as wide; add --beam-size {nbest}")
        return replace(self, **chosen)

    def max_length(self, source_tokens: int) -> int:
        """The output limit of a source of this many tokens (without EOS): a * tokens + b."""
        return int(source_tokens * self.max_len_a) + self.max_len_b


@dataclass(frozen=True)
class DecodeOverrides:
    """Decoding settings given on the command line or to the server; None keeps the model's own (model.json).
    Bounds are DecodeOptions' (the CLI reads them from there)."""

    beam_size: Optional[int] = None
    length_penalty: Optional[float] = None
    max_len_a: Optional[float] = None
    max_len_b: Optional[int] = None
    batch_tokens: Optional[int] = None
    split: Optional[Literal["sentences", "none"]] = None


@dataclass
class Hypothesis:
    tokens: list[int]  # generated ids, without BOS and EOS
    score: float  # sum of token log-probabilities, EOS included
    normalized: float  # the score that ranks hypotheses (length-penalised for beam search)


class Searcher(Protocol):
    """A backend's search. `sources` are ids without EOS; `prefix` holds forced first output tokens (a
    target-language token), which are not returned. Returns up to options.nbest hypotheses per source,
    best first, in input order."""

    def search(self, sources: list[list[int]], options: DecodeOptions,
               prefix: Sequence[int] = ()) -> list[list[Hypothesis]]: ...

    def attention(self, sources: list[list[int]], targets: list[list[int]],
                  prefix: Sequence[int] = ()) -> list[np.ndarray]:
        """For each source (ids without EOS) and its translation (ids without the prefix and EOS): the
        cross-attention of the alignment layer (alignment_layer), averaged over heads, as a (len(target) + 1,
        len(source) + 1) array; row t is the step that produced target token t (the last row: EOS), column s
        source token s (the last column: EOS)."""
        ...


def alignment_layer(decoder_layers: int) -> int:
    """The decoder layer whose cross-attention aligns a translation with its source: the second to last
    (the penultimate layer aligned best in Garg et al., 2019, "Jointly Learning to Align and Translate with
    Transformer Models"), the only one of a one-layer decoder."""
    return max(0, decoder_layers - 2)


def available_cores() -> int:
    """CPU cores this process may run on: the default number of search threads of both backends."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
