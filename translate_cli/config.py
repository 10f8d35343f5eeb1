"""Experiment configuration: pydantic models for every YAML section, loaded with `a.b=value` overrides.

Every problem (unknown key, wrong type, value out of range) is reported at once with its key path.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from translate_cli.errors import ConfigError


class Section(BaseModel):
    """Base of every section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class CorpusSpec(Section):
    """A pair of line-aligned files `{prefix}.{source_lang}` and `{prefix}.{lang}` under data_root."""

    prefix: str = Field(min_length=1)
    lang: Optional[str] = None  # the target language; may be left out when the config has one target


class DataConfig(Section):
    train: list[CorpusSpec] = Field(min_length=1)
    dev: list[CorpusSpec] = Field(default_factory=list)
    test: list[CorpusSpec] = Field(default_factory=list)


class LangNormalization(Section):
    """Per-language text normalisation, applied identically in prepare and translate."""

    unicode_form: Literal["NFKC", "NFC", "none"] = "NFKC"
    lowercase: bool = False
    remove_cjk_spaces: bool = False  # drop spaces between Japanese/Chinese characters (word-split corpora)


class CleanConfig(Section):
    """Training-pair filters; every removed pair is counted by rule."""

    max_chars: int = Field(400, gt=0)
    max_length_ratio: float = Field(4.0, ge=1.0)  # char-length ratio of the longer side to the shorter
    ratio_min_chars: int = Field(10, ge=1)  # the ratio rule applies only when the longer side has this many
    dedup: bool = True


class VocabConfig(Section):
    size: int = Field(8000, ge=300, le=65000)  # byte fallback alone takes 256 pieces
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = Field(0.9995, gt=0.0, le=1.0)
    max_sentences: int = Field(1_000_000, gt=0)  # sampled for SentencePiece training


class ModelSection(Section):
    d_model: int = Field(256, gt=0)
    heads: int = Field(4, gt=0)
    encoder_layers: int = Field(3, ge=1)
    decoder_layers: int = Field(3, ge=1)
    ff_dim: int = Field(1024, gt=0)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    max_source_tokens: int = Field(256, ge=8)  # longer inputs are split in translate

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "ModelSection":
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self


class TrainConfig(Section):
    max_steps: int = Field(10_000, ge=1)
    max_minutes: Optional[float] = Field(None, gt=0)  # stop (and save) after this wall time
    batch_tokens: int = Field(4096, ge=16)  # padded source or target tokens per batch, whichever is larger
    accumulate: int = Field(1, ge=1)
    lr: float = Field(7e-4, gt=0)
    warmup_steps: int = Field(1000, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    adam_betas: tuple[float, float] = (0.9, 0.98)
    clip_norm: float = Field(1.0, ge=0)  # 0 disables clipping
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    seed: int = 1
    threads: Optional[int] = Field(None, ge=1)
    log_every: int = Field(50, ge=1)
    eval_every: int = Field(1000, ge=1)
    eval_sentences: int = Field(300, ge=0)  # dev sentences per language decoded for BLEU/chrF; 0 = loss only
    best_metric: Literal["bleu", "chrf", "loss"] = "bleu"
    init_from: Optional[str] = None  # a model directory whose weights start this run (same vocabulary)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast dtype; fp16 (with loss scaling) on CUDA only
    compile: bool = False  # torch.compile the model
    fused_optimizer: bool = True  # fused AdamW where the device supports it, else the foreach version
    patience: Optional[int] = Field(None, ge=1)  # stop after this many validations without a better metric
    keep_checkpoints: int = Field(0, ge=0)  # keep the weights of the last N checkpoints (for averaging)
    checkpoint_every: Optional[int] = Field(None, ge=1)  # steps between kept checkpoints; default eval_every
    average_last: int = Field(0, ge=0)  # at the end, average the last N kept checkpoints into {work_dir}/averaged
    tensorboard: bool = False  # also write TensorBoard events to {work_dir}/tensorboard (extra: .[tensorboard])


class DecodeConfig(Section):
    beam_size: int = Field(5, ge=1)
    length_penalty: float = Field(0.6, ge=0)
    max_len_a: float = Field(1.5, ge=0)  # output length limit: a * source tokens + b
    max_len_b: int = Field(10, ge=1)
    batch_tokens: int = Field(6000, ge=16)


class Config(Section):
    name: str = Field(min_length=1)
    source_lang: str = "en"
    target_langs: list[str] = Field(min_length=1)
    data_root: str = "."
    work_dir: str = ""  # the training run's folder; default runs/{name}
    data_dir: str = ""  # where prepare writes; default runs/{name}/data (shared by runs of one config)
    data: DataConfig
    normalize: dict[str, LangNormalization] = Field(default_factory=dict)
    clean: CleanConfig = CleanConfig()
    vocab: VocabConfig = VocabConfig()
    model: ModelSection = ModelSection()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()

    @model_validator(mode="after")
    def _check_averaging(self) -> "Config":
        if self.train.average_last > self.train.keep_checkpoints:
            raise ValueError(f"train.average_last ({self.train.average_last}) needs train.keep_checkpoints "
                             f"of at least that many ({self.train.keep_checkpoints})")
        return self

    @model_validator(mode="after")
    def _check_languages(self) -> "Config":
        if len(set(self.target_langs)) != len(self.target_langs):
            raise ValueError(f"target_langs has duplicates: {self.target_langs}")
        if self.source_lang in self.target_langs:
            raise ValueError("source_lang must not be one of target_langs")
        for split in ("train", "dev", "test"):
            for corpus in getattr(self.data, split):
                if corpus.lang is None:
                    if len(self.target_langs) > 1:
                        raise ValueError(f"data.{split} corpus '{corpus.prefix}' needs 'lang' (one of {self.target_langs})")
                    corpus.lang = self.target_langs[0]
                elif corpus.lang not in self.target_langs:
                    raise ValueError(f"data.{split} corpus '{corpus.prefix}' has lang '{corpus.lang}', "
                                     f"not one of target_langs {self.target_langs}")
        if not self.work_dir:
            self.work_dir = f"runs/{self.name}"
        if not self.data_dir:
            self.data_dir = f"runs/{self.name}/data"
        return self

    def norm_for(self, lang: str) -> LangNormalization:
        return self.normalize.get(lang, LangNormalization())

    @property
    def work_path(self) -> Path:
        return Path(self.work_dir)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (["a", "b"], value parsed as YAML so numbers and lists get their types)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override '{item}': expected key=value, for example train.max_steps=2000")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def _apply_override(tree: dict, path: list[str], value: Any, item: str) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override '{item}': '{part}' is not a section")
        node = child
    node[path[-1]] = value


def _known_keys(model: type[BaseModel], path: tuple) -> list[str]:
    """Valid field names at a key path, for 'did you mean' suggestions."""
    free_key = False  # the next part is a user-chosen key of a mapping (normalize.<lang>)
    for part in path:
        if isinstance(part, int) or free_key:
            free_key = False
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        free_key = getattr(annotation, "__origin__", None) is dict
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def _describe(error: dict) -> str:
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _known_keys(Config, loc[:-1]), n=1)
        hint = f"; did you mean '{'.'.join(map(str, loc[:-1] + (close[0],)))}'?" if close else ""
        return f"unknown key '{key}'{hint}"
    if error["type"] == "missing":
        return f"missing key '{key}'"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = f" (got {value!r})" if not isinstance(value, (dict, list)) and value is not None else ""
    return f"'{key}': {message}{shown}"


def from_dict(tree: dict, source: str = "config") -> Config:
    """Validate a config tree; every problem is listed in one ConfigError."""
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def load(path: str | Path, overrides: list[str] | tuple = ()) -> Config:
    """Read a YAML config, apply `a.b=value` overrides, validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; give the path of a YAML file such as configs/en-ja.yaml")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    for item in overrides:
        keys, value = parse_override(item)
        _apply_override(tree, keys, value, item)
    return from_dict(tree, str(path))


def dump(config: Config) -> str:
    """The resolved config as YAML, as written to a run directory."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
