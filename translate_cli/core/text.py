"""Text normalisation and training-pair cleaning, shared by prepare and translate.

A language's normalisation is stored in the model directory so translate applies exactly what prepare did.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Annotated, Literal

from annotated_types import Ge, Gt

_SPACE_RUN = re.compile(r"\s+")
# Hiragana, katakana (incl. half-width), CJK ideographs and CJK punctuation/full-width forms.
_CJK = r"\u3000-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
# C0/C1 controls other than tab/newline carry no meaning in a sentence and confuse tokenizers.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# Settings classes are the config's YAML sections too: pydantic validates them (bounds included) and
# refuses unknown keys; core code uses them as plain dataclasses.
STRICT = {"extra": "forbid"}


@dataclass(frozen=True)
class Normalization:
    """How one language's text is normalised: the config's `normalize.<lang>` section, kept in model.json."""

    __pydantic_config__ = STRICT
    unicode_form: Literal["NFKC", "NFC", "none"] = "NFKC"
    lowercase: bool = False
    remove_cjk_spaces: bool = False  # drop spaces between Japanese/Chinese characters (word-split corpora)

    def to_dict(self) -> dict:
        return asdict(self)


def normalize(text: str, rules: Normalization) -> str:
    """Unicode form, control characters to spaces, whitespace collapsed and stripped, optional rules."""
    if rules.unicode_form != "none":
        text = unicodedata.normalize(rules.unicode_form, text)
    text = _CONTROL.sub(" ", text)
    text = _SPACE_RUN.sub(" ", text).strip()
    if rules.remove_cjk_spaces:
        text = _CJK_SPACE.sub("", text)
    if rules.lowercase:
        text = text.lower()
    return text


def single_line(text: str) -> str:
    """Model output made safe for a line-based file: no line breaks or control characters inside."""
    return _SPACE_RUN.sub(" ", _CONTROL.sub(" ", text)).strip()


@dataclass(frozen=True)
class CleanRules:
    """Training-pair filters (the config's `clean:` section); every removed pair is counted by rule."""

    __pydantic_config__ = STRICT
    max_chars: Annotated[int, Gt(0)] = 400
    max_length_ratio: Annotated[float, Ge(1.0)] = 4.0  # char-length ratio of the longer side to the shorter
    ratio_min_chars: Annotated[int, Ge(1)] = 10  # the ratio rule applies only when the longer side has this many
    dedup: bool = True


RULES = ("empty", "too_long", "length_ratio", "duplicate")


@dataclass
class Cleaner:
    """Decides pair by pair whether a training pair is kept, counting each rule that removes one."""

    rules: CleanRules
    removed: dict[str, int] = field(default_factory=lambda: {name: 0 for name in RULES})
    kept: int = 0
    _seen: set = field(default_factory=set, repr=False)

    def verdict(self, source: str, target: str, key: str = "") -> str | None:
        """The name of the rule that drops this (normalised) pair, or None to keep it."""
        src_len, tgt_len = len(source), len(target)
        if not src_len or not tgt_len:
            return "empty"
        if max(src_len, tgt_len) > self.rules.max_chars:
            return "too_long"
        longer, shorter = max(src_len, tgt_len), min(src_len, tgt_len)
        if longer >= self.rules.ratio_min_chars and longer > self.rules.max_length_ratio * shorter:
            return "length_ratio"
        if self.rules.dedup:
            # 8-byte digests keep memory small on millions of pairs; `key` separates target languages.
            digest = hashlib.blake2b(f"{key}\t{source}\t{target}".encode(), digest_size=8).digest()
            if digest in self._seen:
                return "duplicate"
            self._seen.add(digest)
        return None

    def keep(self, source: str, target: str, key: str = "") -> bool:
        rule = self.verdict(source, target, key)
        if rule is None:
            self.kept += 1
            return True
        self.removed[rule] += 1
        return False
