"""What `tcli evaluate` is asked to check: its gates and the paired test (light: the command line reads
their choices, defaults and bounds from here at start-up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional

from annotated_types import Ge, Le

Method = Literal["bs", "ar"]  # --significance: paired bootstrap resampling, approximate randomization


@dataclass(frozen=True)
class GateSettings:
    """What makes `tcli evaluate` fail (exit 1): --min-bleu, --min-chrf, --fail-if-worse and its --alpha."""

    min_bleu: Optional[float] = None  # BLEU below this fails
    min_chrf: Optional[float] = None  # chrF below this fails
    fail_if_worse: Optional[Annotated[float, Ge(0.0)]] = None  # margin in points; None = no regression gate
    alpha: Annotated[float, Ge(0.0), Le(0.5)] = 0.05  # significance level of the regression gate
    method: Method = "bs"  # the paired test against a baseline
