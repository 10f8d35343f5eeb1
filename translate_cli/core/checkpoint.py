"""The self-contained model directory: model.json + model.safetensors + the tokenizer's files (spm.model for
tcli's own models; source.spm, target.spm and vocabulary.json for imported ones), no pickle.

`translate` and `evaluate` need nothing but this directory. Directories are written atomically: built
under a temporary name, fsynced, then renamed over the old one, so a crash never leaves half a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from translate_cli.core.architecture import ModelConfig
from translate_cli.core.decoding import DecodeOptions, Searcher
from translate_cli.core.files import fsync_dir
from translate_cli.core.text import Normalization
from translate_cli.core.tokenizer import SentencePieceTokenizer, Tokenizer, lang_tag, load_tokenizer, tokenizer_files
from translate_cli.errors import CheckpointError, reason

if TYPE_CHECKING:  # torch is imported only where weights are read or written: reading model.json needs none
    import torch

    from translate_cli.core.model import Seq2SeqTransformer

FORMAT = "tcli-model"
VERSION = 3  # 2: max_source_tokens moved into "model"; 3: architecture switches, tokenizer kind, lang_tokens
MODEL_JSON, WEIGHTS, SPM = "model.json", "model.safetensors", "spm.model"
SHOWN_LANGS = 24  # languages listed in a message; a model of NLLB's 200 is summarised


@dataclass
class LangTokens:
    """How a model is asked for one target language, as token strings: tokens put before every source
    sentence (tcli's <2ja>, OPUS-MT's >>jpn<<, NLLB's eng_Latn) and tokens forced at the start of the
    output (NLLB's jpn_Jpan, M2M100's __ja__)."""

    source_prefix: list[str] = field(default_factory=list)
    target_prefix: list[str] = field(default_factory=list)
    code: str = ""  # the model's own name for the language (jpn_Jpan); `--to` accepts it too

    def ids(self, tokenizer: Tokenizer) -> tuple[list[int], list[int]]:
        """(source prefix ids, target prefix ids); ValueError names a token the tokenizer lacks."""
        found = []
        for tokens in (self.source_prefix, self.target_prefix):
            ids = [tokenizer.token_id(token) for token in tokens]
            if -1 in ids:
                raise ValueError(f"token {tokens[ids.index(-1)]!r} is not in the vocabulary")
            found.append(ids)
        return found[0], found[1]


def describe_langs(langs: list[str]) -> str:
    if len(langs) <= SHOWN_LANGS:
        return ", ".join(langs)
    return f"{', '.join(langs[:SHOWN_LANGS])}, ... ({len(langs)} in all; see model.json)"


@dataclass
class ModelInfo:
    """Everything model.json records besides the weights."""

    model: ModelConfig
    source_lang: str
    target_langs: list[str]
    normalize: dict[str, Normalization]
    decode: DecodeOptions = field(default_factory=DecodeOptions)  # the model's default decoding settings
    training: dict = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)  # checksums of the files beside model.json (as read)
    tokenizer: str = SentencePieceTokenizer.kind  # which kind of tokenizer (core/tokenizer.py)
    lang_tokens: dict[str, LangTokens] = field(default_factory=dict)  # per target language; empty: tcli's tags

    @property
    def uses_lang_tags(self) -> bool:
        return len(self.target_langs) > 1

    def tokens_for(self, lang: str) -> LangTokens:
        """How to ask for `lang`: recorded tokens, else tcli's own convention (a <2xx> source tag when the
        model has several target languages)."""
        if lang in self.lang_tokens:
            return self.lang_tokens[lang]
        return LangTokens([lang_tag(lang)] if self.uses_lang_tags else [], [], lang)

    def find_lang(self, lang: str) -> str | None:
        """The target language `lang` names, given as tcli's code or the model's own; None if unknown."""
        if lang in self.target_langs:
            return lang
        return next((key for key, tokens in self.lang_tokens.items() if tokens.code == lang), None)

    def to_json(self, hashes: dict[str, str]) -> dict:
        return {"format": FORMAT, "version": VERSION, "model": self.model.to_dict(),
                "source_lang": self.source_lang, "target_langs": self.target_langs,
                "normalize": {lang: rules.to_dict() for lang, rules in self.normalize.items()},
                "decode": asdict(self.decode), "training": self.training, "tokenizer": self.tokenizer,
                "lang_tokens": {lang: asdict(tokens) for lang, tokens in self.lang_tokens.items()}, "sha256": hashes}

    @classmethod
    def from_json(cls, meta: dict) -> "ModelInfo":
        if meta.get("format") != FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
        if int(meta.get("version", 1)) > VERSION:
            raise ValueError(f"written by a newer tcli (format version {meta['version']}); upgrade tcli")
        model = dict(meta["model"])
        if "max_source_tokens" in meta:  # version 1 kept it beside "model"
            model.setdefault("max_source_tokens", int(meta["max_source_tokens"]))
        kind = meta.get("tokenizer", SentencePieceTokenizer.kind)
        tokenizer_files(kind)  # a known kind
        return cls(model=ModelConfig(**model), source_lang=meta["source_lang"], target_langs=list(meta["target_langs"]),
                   normalize={k: Normalization(**v) for k, v in meta["normalize"].items()},
                   decode=DecodeOptions.from_record(dict(meta.get("decode", {}))),
                   training=dict(meta.get("training", {})), sha256=dict(meta.get("sha256", {})), tokenizer=kind,
                   lang_tokens={k: LangTokens(**v) for k, v in meta.get("lang_tokens", {}).items()})


@dataclass
class LoadedModel:
    info: ModelInfo
    model: Seq2SeqTransformer | None  # None for a CTranslate2 export
    tokenizer: Tokenizer
    path: Path
    # The backend's search (core/decoding.py); None: the native search of `model` on one thread.
    searcher: Searcher | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecars(target: Path) -> tuple[Path, Path]:
    return target.with_name(f".{target.name}.tmp"), target.with_name(f".{target.name}.old")


def _absolute(target: Path) -> Path:
    target = Path(target).absolute()
    if not target.name or target.name in (".", ".."):
        target = target.resolve()
    return target


def readable_dir(target: Path) -> Path:
    """Where a directory's content is now: the directory, or its previous version if a crash
    interrupted a swap (readers never rename anything; a writer may be at work)."""
    target = _absolute(target)
    _, retired = _sidecars(target)
    if not target.exists() and retired.is_dir():
        return retired
    return target


def recover_dir(target: Path) -> None:
    """Writers only: undo a swap that a crash interrupted, bringing the previous directory back."""
    target = _absolute(target)
    _, retired = _sidecars(target)
    if not target.exists() and retired.is_dir():
        retired.rename(target)


def write_dir_atomically(target: Path, fill: Callable[[Path], None], marker: str) -> None:
    """Call fill(tmp_dir), fsync every file, then swap tmp_dir in place of `target`.

    A crash at any point leaves either the old or the new directory loadable (see readable_dir). An
    existing non-empty `target` is replaced only if it holds `marker` (it is one of ours): a mistyped
    output path never deletes someone's folder.
    """
    target = _absolute(target)
    if target.parent == target:
        raise CheckpointError(f"{target}: cannot write a directory there; choose a sub-folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(target)
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / marker).is_file())):
        raise CheckpointError(f"{target}: exists and is not a folder tcli wrote (no {marker}); refusing to "
                              f"replace it; choose another path")
    staging, retired = _sidecars(target)
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir()
    fill(staging)
    for item in staging.iterdir():
        with open(item, "rb") as handle:
            os.fsync(handle.fileno())
    fsync_dir(staging)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    fsync_dir(target.parent)
    shutil.rmtree(retired, ignore_errors=True)


def _tokenizer_paths(tokenizer: Tokenizer | Path) -> list[Path]:
    """The files to copy: a tokenizer's, or a joint SentencePiece model's path."""
    return list(tokenizer.files) if isinstance(tokenizer, Tokenizer) else [Path(tokenizer)]


def write_model_files(folder: Path, info: ModelInfo, model: Seq2SeqTransformer, tokenizer: Tokenizer | Path) -> None:
    """Write model.json, the weights and the tokenizer's files into an existing folder (used inside
    write_dir_atomically). `tokenizer` may be the path of a joint SentencePiece model (spm.model)."""
    from safetensors.torch import save_file

    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(weights, str(folder / WEIGHTS), metadata={"format": FORMAT})
    paths = _tokenizer_paths(tokenizer)
    names = tokenizer_files(info.tokenizer)
    assert len(paths) == len(names), (paths, names)
    for path, name in zip(paths, names):
        shutil.copyfile(path, folder / name)
    hashes = {name: sha256_file(folder / name) for name in (WEIGHTS, *names)}
    (folder / MODEL_JSON).write_text(json.dumps(info.to_json(hashes), indent=2, ensure_ascii=False), encoding="utf-8")


def save_model(target: Path, info: ModelInfo, model: Seq2SeqTransformer, tokenizer: Tokenizer | Path,
               extra: Callable[[Path], None] | None = None) -> None:
    """Write a model directory atomically; `extra(folder)` may add files (a trainer's resume state)."""
    def fill(folder: Path) -> None:
        write_model_files(folder, info, model, tokenizer)
        if extra is not None:
            extra(folder)

    write_dir_atomically(target, fill, MODEL_JSON)


def read_info(folder: Path) -> ModelInfo:
    folder = readable_dir(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: model directory not found; give a directory written by `tcli train` "
                              f"(for example runs/en-ja/best)")
    meta_path = folder / MODEL_JSON
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path}: missing; {folder} is not a complete tcli model directory")
    try:
        return ModelInfo.from_json(json.loads(meta_path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{meta_path}: unreadable or corrupt ({exc}); re-export or re-train the model") from None


def _check_file(folder: Path, name: str, expected: str | None) -> Path:
    path = folder / name
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; {folder} is not a complete tcli model directory")
    if expected and sha256_file(path) != expected:
        raise CheckpointError(f"{path}: checksum does not match model.json; the file is corrupt or was replaced")
    return path


def load_weights(folder: Path, info: ModelInfo | None = None) -> dict[str, torch.Tensor]:
    """The state dict of a model directory, checked against model.json's checksum; safetensors only."""
    folder = readable_dir(folder)
    info = info or read_info(folder)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = _check_file(folder, WEIGHTS, info.sha256.get(WEIGHTS))
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a safetensors file ({reason(exc)}); "
                              f"tcli loads weights only from safetensors") from None


def load_weights_into(model: torch.nn.Module, folder: Path, info: ModelInfo | None = None) -> None:
    try:
        model.load_state_dict(load_weights(folder, info))
    except RuntimeError as exc:
        raise CheckpointError(f"{Path(folder) / WEIGHTS}: does not fit model.json ({reason(exc)})") from None


def load_model_tokenizer(folder: Path, info: ModelInfo) -> Tokenizer:
    """A model directory's tokenizer, its files checked against model.json and its size against the model's."""
    paths = [_check_file(folder, name, info.sha256.get(name)) for name in tokenizer_files(info.tokenizer)]
    try:
        tokenizer = load_tokenizer(folder, info.tokenizer)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{paths[0]}: not a usable tokenizer ({reason(exc)})") from None
    if tokenizer.vocab_size != info.model.vocab_size:
        raise CheckpointError(f"{paths[-1]}: vocabulary size {tokenizer.vocab_size} does not match the model's "
                              f"{info.model.vocab_size}")
    return tokenizer


def load_model(folder: Path | str, device: str = "cpu") -> LoadedModel:
    """Rebuild a model from its directory alone: JSON metadata, safetensors weights, tokenizer files."""
    from translate_cli.core.model import Seq2SeqTransformer

    folder = readable_dir(folder)
    info = read_info(folder)
    tokenizer = load_model_tokenizer(folder, info)
    model = Seq2SeqTransformer(info.model)
    load_weights_into(model, folder, info)
    model.to(device).eval()
    return LoadedModel(info, model, tokenizer, folder)
