"""Experiment configuration: pydantic models for every YAML section, loaded with `a.b=value` overrides.

Every problem (unknown key, wrong type, value out of range) is reported at once with its key path.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from translate_cli.core.architecture import VOCABULARY_FIELDS, ModelConfig
from translate_cli.core.checkpoint import read_info
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.distill.corpus import CorpusJob, DistillSettings, corpus_jobs
from translate_cli.core.text import CleanRules, Normalization
from translate_cli.core.tokenizer import VocabSettings
from translate_cli.core.train.prepared import SPLITS, Corpora, CorpusSpec, DataSpec, PreparedMeta
from translate_cli.core.train.schedule import TrainJob, TrainSettings
from translate_cli.errors import ConfigError


class Config(BaseModel):
    """A whole experiment. Every section is a core settings dataclass, which owns its fields, defaults and
    bounds; pydantic validates them and refuses unknown keys."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    source_lang: str = "en"
    target_langs: list[str] = Field(min_length=1)
    data_root: str = "."
    work_dir: str = ""  # the training run's folder; default runs/{name}
    data_dir: str = ""  # where prepare writes; default runs/{name}/data (shared by runs of one config)
    data: Corpora
    normalize: dict[str, Normalization] = Field(default_factory=dict)
    clean: CleanRules = CleanRules()
    vocab: VocabSettings = VocabSettings()
    model: ModelConfig = ModelConfig()
    train: TrainSettings = TrainSettings()
    decode: DecodeOptions = DecodeOptions()
    distill: Optional[DistillSettings] = None  # train on a teacher's translations (tcli distill, then prepare)
    _model_keys: set[str] = PrivateAttr(default_factory=set)  # the model.* keys the config sets itself

    @model_validator(mode="before")
    @classmethod
    def _vocabulary_fields_are_not_settings(cls, tree: Any) -> Any:
        model = tree.get("model") if isinstance(tree, dict) else None
        defaults = ModelConfig()
        for name in VOCABULARY_FIELDS if isinstance(model, dict) else ():
            if name in model and model[name] != getattr(defaults, name):
                raise ValueError(f"model.{name} comes from the vocabulary (prepare's SentencePiece model); "
                                 f"remove it from the config")
        train = tree.get("train") if isinstance(tree, dict) else None
        if isinstance(train, dict) and train.get("init_from") and "vocab" in tree:
            raise ValueError("vocab: a run started from train.init_from keeps that model's vocabulary (prepare "
                             "reuses its tokenizer); remove the vocab section")
        return tree

    @model_validator(mode="wrap")
    @classmethod
    def _remember_model_keys(cls, tree: Any, handler) -> "Config":
        config = handler(tree)
        if isinstance(tree, dict) and isinstance(tree.get("model"), dict):
            config._model_keys = set(tree["model"])
        return config

    @model_validator(mode="after")
    def _check_languages(self) -> "Config":
        if len(set(self.target_langs)) != len(self.target_langs):
            raise ValueError(f"target_langs has duplicates: {self.target_langs}")
        if self.source_lang in self.target_langs:
            raise ValueError("source_lang must not be one of target_langs")
        for split in SPLITS:
            for corpus in getattr(self.data, split):
                if corpus.lang is None:
                    if len(self.target_langs) > 1:
                        raise ValueError(f"data.{split} corpus '{corpus.prefix}' needs 'lang' (one of {self.target_langs})")
                    corpus.lang = self.target_langs[0]
                elif corpus.lang not in self.target_langs:
                    raise ValueError(f"data.{split} corpus '{corpus.prefix}' has lang '{corpus.lang}', "
                                     f"not one of target_langs {self.target_langs}")
        for split in ("dev", "test"):
            for corpus in getattr(self.data, split):
                if any(corpus.overlaps(train) for train in self.data.train):
                    raise ValueError(f"data.{split} corpus '{corpus.prefix}' shares lines with a data.train corpus, so "
                                     f"it would score the model on pairs it trained on; give them disjoint `lines` ranges")
        if not self.work_dir:
            self.work_dir = f"runs/{self.name}"
        if not self.data_dir:
            self.data_dir = f"runs/{self.name}/data"
        if self.distill is not None and not self.distill.folder:
            self.distill.folder = f"runs/{self.name}/distilled"
        return self

    def distill_jobs(self) -> list[CorpusJob]:
        """The training corpora a teacher translates (`tcli distill`), with where their copies go."""
        assert self.distill is not None
        return corpus_jobs(Path(self.data_root), self.data.train, Path(self.distill.folder).absolute(),
                           self.source_lang)

    def training_corpora(self) -> Corpora:
        """The data section as prepare reads it: with a distill section, the teacher's translations of the
        training corpora take their place (or join them, with distill.mixed)."""
        if self.distill is None:
            return self.data
        distilled = [CorpusSpec(prefix=str(job.folder / job.name), lang=job.lang) for job in self.distill_jobs()]
        train = [*self.data.train, *distilled] if self.distill.mixed else distilled
        return replace(self.data, train=train)

    def data_spec(self) -> DataSpec:
        """What `prepare` needs (and `train` checks the prepared data against)."""
        langs = [self.source_lang, *self.target_langs]
        return DataSpec(folder=Path(self.data_dir), data_root=Path(self.data_root), source_lang=self.source_lang,
                        target_langs=list(self.target_langs), corpora=self.training_corpora(),
                        normalize={lang: self.normalize.get(lang, Normalization()) for lang in langs},
                        clean=self.clean, vocab=self.vocab, seed=self.train.seed,
                        init_from=Path(self.train.init_from) if self.train.init_from else None)

    def model_settings(self, vocab_size: int) -> ModelConfig:
        """The model to train: the config's, or with train.init_from that model's own architecture and
        vocabulary, with only dropout and max_source_tokens taken from the config (when it sets them)."""
        if not self.train.init_from:
            return replace(self.model, vocab_size=vocab_size)
        source = self.train.init_from
        start = read_info(Path(source)).model
        for key in sorted(self._model_keys - {"dropout", "max_source_tokens"}):
            if getattr(self.model, key) != getattr(start, key):
                raise ConfigError(f"model.{key}: {getattr(self.model, key)!r} differs from {source}'s "
                                  f"{getattr(start, key)!r}; a run started from train.init_from keeps that model's "
                                  f"architecture: remove model.{key}")
        chosen = {key: getattr(self.model, key) for key in ("dropout", "max_source_tokens") if key in self._model_keys}
        return replace(start, **chosen)

    def train_job(self, meta: PreparedMeta) -> TrainJob:
        """What `train` needs, given the prepared data's meta.json."""
        return TrainJob(name=self.name, work=Path(self.work_dir), data_dir=Path(self.data_dir), meta=meta,
                        model=self.model_settings(meta.vocab_size), train=self.train, decode=self.decode)


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


def _known_keys(path: tuple) -> list[str]:
    """Valid keys at a key path (from the config's JSON schema), for 'did you mean' suggestions."""
    schema = Config.model_json_schema()

    def resolve(node: dict) -> dict:
        while "$ref" in node or "anyOf" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else \
                next((n for n in node["anyOf"] if n.get("type") != "null"), {})
        return node
    node = schema
    for part in path:
        node = resolve(node)
        if isinstance(part, int):
            node = node.get("items", {})
        else:  # a section's field, or a user-chosen key of a mapping (normalize.<lang>)
            node = node.get("properties", {}).get(part) or node.get("additionalProperties") or {}
    return list(resolve(node).get("properties", {}))


def _describe(error: dict) -> str:
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc[:-1]), n=1)
        hint = f"; did you mean '{'.'.join(map(str, loc[:-1] + (close[0],)))}'?" if close else ""
        return f"unknown key '{key}'{hint}"
    if error["type"] == "missing":
        return f"missing key '{key}'"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = f" (got {value!r})" if not isinstance(value, (dict, list)) and value is not None else ""
    return f"'{key}': {message}{shown}" if loc else f"{message}{shown}"


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
