"""Text normalisation and training-pair cleaning, shared by prepare and translate.

A language's normalisation is stored in the model directory so translate applies exactly what prepare did.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Annotated, Callable, Literal, Optional

import numpy as np
from annotated_types import Ge, Gt

from translate_cli.errors import ConfigError

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
    # An Indic language code ("hi"): indic-nlp-library's normaliser for its script (nukta forms, ZWJ/ZWNJ,
    # danda and punctuation variants), after the Unicode form. Needs the `indic` extra.
    indic: Optional[str] = None

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "indic" or value is not None}


def normalize(text: str, rules: Normalization) -> str:
    """Unicode form, control characters to spaces, whitespace collapsed and stripped, optional rules."""
    if rules.unicode_form != "none":
        text = unicodedata.normalize(rules.unicode_form, text)
    text = single_line(text)
    if rules.remove_cjk_spaces:
        text = _CJK_SPACE.sub("", text)
    if rules.lowercase:
        text = text.lower()
    if rules.indic:
        text = _indic_normalizer(rules.indic)(text)
    return text


@functools.lru_cache(maxsize=None)
def _indic_normalizer(lang: str) -> Callable[[str], str]:
    try:
        from indicnlp.normalize.indic_normalize import IndicNormalizerFactory
    except ImportError:
        raise ConfigError(f"normalize: indic: {lang} needs indic-nlp-library: pip install -e \".[indic]\"") from None
    try:
        normalizer = IndicNormalizerFactory().get_normalizer(lang)
    except Exception:  # the factory raises a bare Exception for languages it does not know
        raise ConfigError(f"normalize: indic: {lang!r} is not a language indic-nlp-library normalises "
                          f"(for example hi, mr, ne, bn)") from None

    def normalize_indic(text: str) -> str:
        # Its last step rewrites a colon after a Devanagari letter as a visarga (a fix for typed
        # transliteration); in modern Hindi such colons are real ("ने कहा: ..."), so they are kept.
        if _COLON_GUARD in text:
            return normalizer.normalize(text)
        return normalizer.normalize(text.replace(":", _COLON_GUARD)).replace(_COLON_GUARD, ":")
    return normalize_indic


_COLON_GUARD = "\ue000"  # a private-use character stands in for ':' while the normaliser runs


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
    # Drop a pair whose target is not written in its language's script (see SCRIPT_RULES), or has no
    # letters at all while the source has some: untranslated copies, UI identifiers, mojibake.
    script: bool = False
    # Drop title-like pairs: a source of at most this many words, with no sentence-final punctuation on
    # either side ("History" / "歴史"). 0 keeps them.
    title_max_words: Annotated[int, Ge(0)] = 0


RULES = ("empty", "too_long", "length_ratio", "script", "title", "duplicate")
ADDED_LATER = {"script": False, "title_max_words": 0}  # left out of prepare's fingerprint at these values

# Unicode script checks by target language (character ranges of the Unicode Scripts data).
_DEVANAGARI = re.compile(r"[\u0900-\u097f\ua8e0-\ua8ff\u1cd0-\u1cff]")
_KANA_KANJI = re.compile(r"[\u3005\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                         r"\uff66-\uff9f\U00020000-\U0003134f]")


def _mostly_devanagari(text: str) -> bool:
    """At least half of the letters and combining marks (the vowel signs) are Devanagari."""
    letters = [c for c in text if unicodedata.category(c)[0] in "LM"]
    return 2 * sum(1 for c in letters if _DEVANAGARI.match(c)) >= len(letters)


SCRIPT_RULES: dict[str, Callable[[str], bool]] = {
    "hi": _mostly_devanagari, "mr": _mostly_devanagari, "ne": _mostly_devanagari,
    "ja": lambda text: _KANA_KANJI.search(text) is not None,
}
_SENTENCE_END = re.compile(r"[.!?。！？।॥…\"'”」』)）]\s*$")


def _has_letters(text: str) -> bool:
    return any(c.isalpha() for c in text)


@dataclass
class Cleaner:
    """Decides pair by pair whether a training pair is kept, counting each rule that removes one.

    Duplicates are found in a second pass (pair_digest, first_occurrences): 8 bytes per pair in a numpy
    array instead of a hash set, so memory stays small on millions of pairs."""

    rules: CleanRules
    removed: dict[str, int] = field(default_factory=lambda: {name: 0 for name in RULES})
    kept: int = 0

    def verdict(self, source: str, target: str, lang: str = "") -> str | None:
        """The name of the rule that drops this (normalised) pair, or None to keep it (duplicates aside)."""
        rules = self.rules
        src_len, tgt_len = len(source), len(target)
        if not src_len or not tgt_len:
            return "empty"
        if max(src_len, tgt_len) > rules.max_chars:
            return "too_long"
        longer, shorter = max(src_len, tgt_len), min(src_len, tgt_len)
        if longer >= rules.ratio_min_chars and longer > rules.max_length_ratio * shorter:
            return "length_ratio"
        if rules.script and (not SCRIPT_RULES[lang](target) if _has_letters(target) else _has_letters(source)):
            return "script"
        if rules.title_max_words and len(source.split()) <= rules.title_max_words and \
                not _SENTENCE_END.search(source) and not _SENTENCE_END.search(target):
            return "title"
        return None

    def keep(self, source: str, target: str, lang: str = "") -> bool:
        rule = self.verdict(source, target, lang)
        if rule is None:
            self.kept += 1
            return True
        self.removed[rule] += 1
        return False


def check_script_rules(rules: CleanRules, langs: list[str]) -> None:
    missing = [lang for lang in langs if lang not in SCRIPT_RULES]
    if rules.script and missing:
        raise ConfigError(f"clean.script: tcli has no script rule for {', '.join(missing)} (it knows "
                          f"{', '.join(sorted(SCRIPT_RULES))}); set clean.script: false")


def pair_digest(source: str, target: str, key: str = "") -> int:
    """A 64-bit digest of a pair; `key` (the target language) keeps pairs of different targets apart."""
    return int.from_bytes(hashlib.blake2b(f"{key}\t{source}\t{target}".encode(), digest_size=8).digest(), "little")


def first_occurrences(digests: np.ndarray) -> np.ndarray:
    """A boolean mask that keeps the first of every run of equal digests, in the original order."""
    order = np.argsort(digests, kind="stable")  # equal digests stay in input order: the first one wins
    ordered = digests[order]
    first = np.ones(len(digests), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    keep = np.empty(len(digests), dtype=bool)
    keep[order] = first
    return keep
