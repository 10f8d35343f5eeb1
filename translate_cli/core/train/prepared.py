"""The prepared data folder that `tcli prepare` writes and `tcli train` reads.

    spm.model                  the joint SentencePiece model (or, with train.init_from, a copy of that
                               model's tokenizer files: prepare then reuses its vocabulary)
    {train,dev,test}.{src,tgt} token arrays (core/data.py)
    {dev,test}.LANG.{src,ref}.txt  raw dev/test text per target language, for scoring
    meta.json                  counts, per-rule cleaning report, settings, and a fingerprint of every input
                               file and setting: a re-run with the same fingerprint reuses the folder
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from array import array
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import numpy as np
from annotated_types import MinLen

from translate_cli.core.checkpoint import (
    LangTokens,
    ModelInfo,
    describe_langs,
    read_info,
    readable_dir,
    sha256_file,
    write_dir_atomically,
)
from translate_cli.core.data import TokenArrayWriter, token_dtype
from translate_cli.core.files import ReadStats, in_range, iter_pairs, line_span, write_lines_atomically
from translate_cli.core.text import (
    ADDED_LATER,
    RULES,
    STRICT,
    Cleaner,
    CleanRules,
    Normalization,
    check_script_rules,
    first_occurrences,
    normalize,
    pair_digest,
)
from translate_cli.core.tokenizer import (
    SAMPLING_ADDED_LATER,
    SentencePieceTokenizer,
    Tokenizer,
    VocabSettings,
    lang_tag,
    load_tokenizer,
    tokenizer_files,
    train_sentencepiece,
)
from translate_cli.errors import DataError

FORMAT_VERSION = 2  # 2: SentencePiece trained with identity normalisation
META, SPM = "meta.json", "spm.model"
SPLITS = ("train", "dev", "test")


@dataclass
class CorpusSpec:
    """A pair of line-aligned files `{prefix}.{source_lang}` and `{prefix}.{lang}` under data_root."""

    __pydantic_config__ = STRICT
    prefix: Annotated[str, MinLen(1)]
    lang: Optional[str] = None  # the target language; may be left out when the config has one target
    # "FIRST-LAST" or "FIRST-" (to the end): only those lines, counted from 1, e.g. to hold out a dev slice
    lines: Optional[str] = None

    def __post_init__(self) -> None:
        if self.lines is not None and not re.fullmatch(r"[1-9][0-9]*-([1-9][0-9]*)?", self.lines):
            raise ValueError(f"lines '{self.lines}' is not FIRST-LAST or FIRST- (line numbers from 1, for example "
                             f"1-1000 or 1001-)")
        first, last = line_span(self.lines)
        if last is not None and last < first:
            raise ValueError(f"lines '{self.lines}' ends before it starts; write FIRST-LAST with FIRST <= LAST")

    def overlaps(self, other: "CorpusSpec") -> bool:
        """Whether the two name some of the same pairs (the same files, and line ranges that meet)."""
        if (self.prefix, self.lang) != (other.prefix, other.lang):
            return False
        (a, b), (c, d) = line_span(self.lines), line_span(other.lines)
        return (b is None or c <= b) and (d is None or a <= d)


@dataclass
class Corpora:
    """The config's `data:` section."""

    __pydantic_config__ = STRICT
    train: Annotated[list[CorpusSpec], MinLen(1)]
    dev: list[CorpusSpec] = field(default_factory=list)
    test: list[CorpusSpec] = field(default_factory=list)


@dataclass
class DataSpec:
    """Everything that shapes a prepared data folder."""

    folder: Path
    data_root: Path
    source_lang: str
    target_langs: list[str]
    corpora: Corpora
    normalize: dict[str, Normalization]  # the source language and every target language
    clean: CleanRules
    vocab: VocabSettings
    seed: int
    init_from: Optional[Path] = None  # a model directory whose tokenizer and vocabulary are reused

    @property
    def multi_target(self) -> bool:
        return len(self.target_langs) > 1


@dataclass
class PreparedMeta:
    """meta.json: what `prepare` made (counts, the vocabulary's size and tokens, per-corpus cleaning reports)
    and from what (settings and input hashes behind `fingerprint`). Fields after `files` were added later;
    folders written before them read with their defaults."""

    fingerprint: str
    format: int
    source_lang: str
    target_langs: list[str]
    vocab_size: int
    dtype: str  # of the token arrays (core/data.py)
    uses_lang_tags: bool
    normalize: dict[str, Normalization]
    clean: dict  # the clean: settings as they were (a record, never read back into rules)
    vocab: dict  # the vocab: settings as they were
    pairs: dict[str, int]  # pairs per split
    inputs: dict[str, str]  # sha256 of every input file
    corpora: list[dict]  # CorpusReport of every corpus
    files: list[str]  # every file of the folder, meta.json included
    tokenizer: str = SentencePieceTokenizer.kind
    lang_tokens: dict[str, LangTokens] = field(default_factory=dict)
    init_from: Optional[str] = None

    @property
    def sampled_copies(self) -> int:
        """Prepared segmentations of the training data with subword sampling (0: none)."""
        return int(self.vocab.get("sampled_copies", 0)) if self.vocab.get("sampling_alpha") else 0

    def to_json(self) -> dict:
        record = asdict(self)
        record["normalize"] = {lang: rules.to_dict() for lang, rules in self.normalize.items()}
        return record

    @classmethod
    def from_json(cls, record: dict) -> "PreparedMeta":
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in record.items() if key in known}
        values["normalize"] = {lang: Normalization(**rules) for lang, rules in record["normalize"].items()}
        values["lang_tokens"] = {lang: LangTokens(**tokens) for lang, tokens in record.get("lang_tokens", {}).items()}
        return cls(**values)


def init_model(spec: DataSpec) -> tuple[Path, ModelInfo, dict[str, LangTokens]] | None:
    """With train.init_from: the model's folder, its info and how it is asked for each target language."""
    if spec.init_from is None:
        return None
    folder = readable_dir(spec.init_from)
    info = read_info(folder)
    if info.source_lang != spec.source_lang:
        raise DataError(f"source_lang '{spec.source_lang}' differs from that of {folder} ('{info.source_lang}'); "
                        f"set source_lang: {info.source_lang} (or import the model with --from {spec.source_lang})")
    tokens = {}
    for lang in spec.target_langs:
        known = info.find_lang(lang)
        if known is None:
            raise DataError(f"target_langs: {folder} does not translate into '{lang}'; it knows "
                            f"{describe_langs(info.target_langs)}")
        tokens[lang] = info.tokens_for(known)
    return folder, info, tokens


@dataclass
class CorpusFiles:
    split: str
    prefix: str
    lang: str
    source: Path
    target: Path
    lines: Optional[str] = None

    @property
    def label(self) -> str:
        return f"{self.split}:{self.prefix}" + (f" lines {self.lines}" if self.lines else "")


@dataclass
class CorpusReport:
    label: str
    lang: str
    read: int = 0
    kept: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    replaced_utf8_lines: int = 0


def corpus_files(spec: DataSpec) -> list[CorpusFiles]:
    files = [CorpusFiles(split, corpus.prefix, corpus.lang, spec.data_root / f"{corpus.prefix}.{spec.source_lang}",
                         spec.data_root / f"{corpus.prefix}.{corpus.lang}", corpus.lines)
             for split in SPLITS for corpus in getattr(spec.corpora, split)]
    for item in files:
        for path in (item.source, item.target):
            if not path.is_file():
                raise DataError(f"{path}: file not found (data.{item.split} prefix '{item.prefix}' under "
                                f"data_root '{spec.data_root}'); set data_root=... or fix the prefix")
    return files


def _check_ranges(files: list[CorpusFiles]) -> None:
    """A `lines` range past the end of its file, reported before SentencePiece and binarising run."""
    for item in files:
        if item.lines:
            with open(item.source, "rb") as handle:
                for _ in in_range(handle, item.lines, item.source):
                    pass


def fingerprint(spec: DataSpec, files: list[CorpusFiles]) -> tuple[str, dict[str, str]]:
    """A hash of every input file's content and every setting that shapes the prepared data."""
    hashes = {str(path): sha256_file(path) for item in files for path in (item.source, item.target)}
    settings = {"format": FORMAT_VERSION, "source_lang": spec.source_lang, "target_langs": spec.target_langs,
                "data": _corpora(spec.corpora), "normalize": _normalizations(spec),
                "clean": _without(asdict(spec.clean), ADDED_LATER), "vocab": _without(asdict(spec.vocab), SAMPLING_ADDED_LATER),
                "seed": spec.seed, "inputs": hashes}
    init = init_model(spec)
    if init is not None:  # the reused vocabulary and language tokens (absent otherwise: old folders stay valid)
        folder, info, tokens = init
        settings["init_from"] = {"tokenizer": info.tokenizer, "lang_tokens": {k: asdict(v) for k, v in tokens.items()},
                                 "files": {name: sha256_file(folder / name) for name in tokenizer_files(info.tokenizer)}}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return digest, hashes


def _corpora(corpora: Corpora) -> dict:
    """The data section as fingerprinted: `lines` only where set, so folders prepared before it existed
    stay up to date."""
    return {split: [{k: v for k, v in asdict(c).items() if k != "lines" or v is not None} for c in getattr(corpora, split)]
            for split in SPLITS}


def _pairs(item: CorpusFiles, on_bad_utf8: str,
           stats: tuple[ReadStats, ReadStats] | None = None) -> Iterator[tuple[str, str]]:
    """The corpus's aligned pairs, or with `lines` only those."""
    return in_range(iter_pairs(item.source, item.target, on_bad_utf8, stats), item.lines, item.source)


def _normalizations(spec: DataSpec) -> dict[str, dict]:
    return {lang: spec.normalize[lang].to_dict() for lang in [spec.source_lang, *spec.target_langs]}


def _without(settings: dict, added_later: dict) -> dict:
    """Settings added in later versions are left out at their default (the old behaviour), so data
    prepared before they existed stays up to date."""
    return {key: value for key, value in settings.items() if key not in added_later or value != added_later[key]}


def read_meta(folder: Path) -> PreparedMeta | None:
    """A prepared folder's meta.json; None if it is missing or damaged."""
    try:
        return PreparedMeta.from_json(json.loads((folder / META).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_prepared(folder: Path, digest: str) -> bool:
    meta = read_meta(folder)
    return meta is not None and meta.fingerprint == digest and all((folder / n).is_file() for n in meta.files)


def load_meta(spec: DataSpec) -> PreparedMeta:
    """meta.json of the prepared data, checked against the spec's current inputs and settings."""
    folder, meta_path = spec.folder, spec.folder / META
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: not found; run `tcli prepare` with the same config first")
    meta = read_meta(folder)
    if meta is None:
        raise DataError(f"{meta_path}: damaged (not JSON, or fields missing); run `tcli prepare ... --force` again")
    missing = [name for name in meta.files if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder / missing[0]}: missing from the prepared data; run `tcli prepare ... --force` again")
    if meta.fingerprint != fingerprint(spec, corpus_files(spec))[0]:
        raise DataError(f"{folder}: prepared from other inputs or settings than this config; "
                        f"run `tcli prepare` with this config again")
    return meta


def prepare(spec: DataSpec, on_bad_utf8: str = "error", force: bool = False,
            stage: Callable[[str], None] = lambda message: None) -> list[CorpusReport] | None:
    """Write the prepared data folder atomically; returns the per-corpus cleaning reports, or None when
    the folder was already prepared from the same inputs and settings (and `force` is off)."""
    init_model(spec)  # a train.init_from model that cannot serve this config is reported first
    files = corpus_files(spec)
    digest, hashes = fingerprint(spec, files)
    if not force and is_prepared(spec.folder, digest):
        return None
    _check_ranges(files)
    reports: list[CorpusReport] = []

    def fill(staging: Path) -> None:
        clean_paths = _write_clean_training_text(staging, spec, files, reports, on_bad_utf8)
        tokenizer, lang_tokens = _vocabulary(staging, spec, clean_paths, stage)
        prefixes = _prefixes(spec, tokenizer, lang_tokens)
        dtype = token_dtype(tokenizer.vocab_size)
        counts = {"train": _binarize(staging, clean_paths, tokenizer, dtype, prefixes, spec.vocab, spec.seed)}
        for split in ("dev", "test"):
            counts[split] = _prepare_eval_split(staging, spec, split, [f for f in files if f.split == split],
                                                tokenizer, dtype, reports, on_bad_utf8, prefixes)
        for (source, target), _ in clean_paths:
            source.unlink()
            target.unlink()
        names = sorted(p.name for p in staging.iterdir()) + [META]
        meta = PreparedMeta(fingerprint=digest, format=FORMAT_VERSION, source_lang=spec.source_lang,
                            target_langs=spec.target_langs, vocab_size=tokenizer.vocab_size, dtype=dtype.name,
                            uses_lang_tags=spec.multi_target, normalize={lang: spec.normalize[lang] for lang in
                                                                         [spec.source_lang, *spec.target_langs]},
                            clean=asdict(spec.clean), vocab=asdict(spec.vocab), pairs=counts, inputs=hashes,
                            corpora=[asdict(r) for r in reports], files=names, tokenizer=tokenizer.kind,
                            lang_tokens=lang_tokens, init_from=None if spec.init_from is None else str(spec.init_from))
        (staging / META).write_text(json.dumps(meta.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")

    write_dir_atomically(spec.folder, fill, META)
    return reports


def _vocabulary(staging: Path, spec: DataSpec, clean_paths, stage) -> tuple[Tokenizer, dict[str, LangTokens]]:
    """Train tcli's joint SentencePiece model on the cleaned text, or copy the init_from model's tokenizer
    (with the tokens that ask it for each target language)."""
    init = init_model(spec)
    if init is None:
        stage(f"training SentencePiece ({spec.vocab.model_type}, {spec.vocab.size} pieces)...")
        symbols = [lang_tag(lang) for lang in spec.target_langs] if spec.multi_target else []
        train_sentencepiece(_training_sentences(clean_paths), staging / SPM, spec.vocab, symbols, seed=spec.seed)
        return SentencePieceTokenizer(staging / SPM), {}
    folder, info, tokens = init
    stage(f"reusing the vocabulary of {folder} (train.init_from)...")
    for name in tokenizer_files(info.tokenizer):
        if not (folder / name).is_file():
            raise DataError(f"{folder / name}: missing; {folder} is not a complete model directory")
        shutil.copyfile(folder / name, staging / name)
    return load_tokenizer(staging, info.tokenizer), tokens


def _prefixes(spec: DataSpec, tokenizer: Tokenizer,
              lang_tokens: dict[str, LangTokens]) -> dict[str, tuple[list[int], list[int]]]:
    """(source prefix ids, target prefix ids) per target language."""
    prefixes = {}
    for lang in spec.target_langs:
        if lang in lang_tokens:
            try:
                prefixes[lang] = lang_tokens[lang].ids(tokenizer)
            except ValueError as exc:
                raise DataError(f"{spec.init_from}: asking it for '{lang}' needs a {exc}") from None
        else:
            prefixes[lang] = ([tokenizer.token_id(lang_tag(lang))] if spec.multi_target else [], [])
    return prefixes


def _clean_stream(item: CorpusFiles, spec: DataSpec, cleaner: Cleaner, report: CorpusReport,
                  on_bad_utf8: str) -> Iterator[tuple[str, str]]:
    """Normalised training pairs that pass the per-pair rules; the report counts the rest."""
    source_rules, target_rules = spec.normalize[spec.source_lang], spec.normalize[item.lang]
    before = dict(cleaner.removed)
    stats = (ReadStats(), ReadStats())
    for source, target in _pairs(item, on_bad_utf8, stats):
        report.read += 1
        source, target = normalize(source, source_rules), normalize(target, target_rules)
        if cleaner.keep(source, target, item.lang):
            yield source, target
    report.removed = {rule: cleaner.removed[rule] - before[rule] for rule in RULES}
    report.replaced_utf8_lines = stats[0].replaced_lines + stats[1].replaced_lines


def _write_clean_training_text(staging: Path, spec: DataSpec, files: list[CorpusFiles], reports: list[CorpusReport],
                               on_bad_utf8: str) -> list[tuple[tuple[Path, Path], str]]:
    """Cleaned training text per corpus (temporary; SentencePiece trains on it, then it is binarised).

    Two passes: the per-pair rules while writing, then duplicates (the first occurrence of a pair, over
    all corpora in order, stays), found from 8-byte digests in one sorted array."""
    check_script_rules(spec.clean, spec.target_langs)
    cleaner, digests, clean_paths = Cleaner(spec.clean), array("Q"), []
    for index, item in enumerate(f for f in files if f.split == "train"):
        report = CorpusReport(item.label, item.lang)
        paths = (staging / f"pass{index}.src.txt", staging / f"pass{index}.tgt.txt")
        with open(paths[0], "w", encoding="utf-8") as src_out, open(paths[1], "w", encoding="utf-8") as tgt_out:
            for source, target in _clean_stream(item, spec, cleaner, report, on_bad_utf8):
                src_out.write(source + "\n")
                tgt_out.write(target + "\n")
                digests.append(pair_digest(source, target, item.lang))
        reports.append(report)
        clean_paths.append((paths, item.lang))
    keep = first_occurrences(np.frombuffer(digests, dtype=np.uint64)) if spec.clean.dedup else None
    del digests
    position, final_paths = 0, []
    for index, ((source, target), lang) in enumerate(clean_paths):
        report = reports[index]
        paths = (staging / f"clean{index}.src.txt", staging / f"clean{index}.tgt.txt")
        with open(paths[0], "w", encoding="utf-8") as src_out, open(paths[1], "w", encoding="utf-8") as tgt_out:
            for source_line, target_line in zip(_read_text(source), _read_text(target)):
                if keep is None or keep[position]:
                    src_out.write(source_line + "\n")
                    tgt_out.write(target_line + "\n")
                    report.kept += 1
                else:
                    report.removed["duplicate"] += 1
                position += 1
        source.unlink()
        target.unlink()
        final_paths.append((paths, lang))
    if not sum(r.kept for r in reports):
        raise DataError("no training pair survived cleaning; check the corpora and the clean.* settings")
    return final_paths


def _read_text(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield line.rstrip("\n")


def _training_sentences(clean_paths: list[tuple[tuple[Path, Path], str]]) -> Iterator[str]:
    """Both sides of every cleaned training pair: one joint vocabulary."""
    for (source, target), _ in clean_paths:
        yield from _read_text(source)
        yield from _read_text(target)


def _binarize(staging: Path, clean_paths, tokenizer: Tokenizer, dtype, prefixes, vocab: VocabSettings,
              seed: int) -> int:
    """train.src/.tgt; with subword sampling also `sampled_copies` sampled segmentations (train.sK.*),
    one for each epoch in turn (Kudo, 2018), made once here so that training stays deterministic."""
    names = ["train"] + [f"train.s{k}" for k in range(vocab.sampled_copies if vocab.sampling_alpha else 0)]
    count = 0
    for copy, name in enumerate(names):
        source_out, target_out = TokenArrayWriter(staging / f"{name}.src", dtype), TokenArrayWriter(staging / f"{name}.tgt", dtype)
        sampling = (vocab.sampling_alpha, np.random.default_rng([seed, copy])) if copy else None
        for (source, target), lang in clean_paths:
            source_prefix, target_prefix = prefixes[lang]
            for ids in tokenizer.iter_encode(_read_text(source), sampling):
                source_out.add(source_prefix + ids)
            for ids in tokenizer.iter_encode(_read_text(target), sampling, target=True):
                target_out.add(target_prefix + ids)
        count = source_out.close()
        assert count == target_out.close(), "binarised sides differ in length"
    return count


def _prepare_eval_split(staging: Path, spec: DataSpec, split: str, files: list[CorpusFiles], tokenizer, dtype,
                        reports: list[CorpusReport], on_bad_utf8: str, prefixes) -> int:
    """Dev/test are never cleaned: every line is kept, raw text for scoring, ids for dev loss."""
    source_out = TokenArrayWriter(staging / f"{split}.src", dtype)
    target_out = TokenArrayWriter(staging / f"{split}.tgt", dtype)
    raw: dict[str, tuple[list[str], list[str]]] = {}
    for item in files:
        report = CorpusReport(item.label, item.lang)
        source_rules, target_rules = spec.normalize[spec.source_lang], spec.normalize[item.lang]
        source_prefix, target_prefix = prefixes[item.lang]
        sources, references = raw.setdefault(item.lang, ([], []))
        for source, target in _pairs(item, on_bad_utf8):
            report.read += 1
            sources.append(source)
            references.append(target)
            source_out.add(source_prefix + tokenizer.encode(normalize(source, source_rules)))
            target_out.add(target_prefix + tokenizer.encode_target(normalize(target, target_rules)))
        report.kept = report.read
        report.removed = {rule: 0 for rule in RULES}
        reports.append(report)
    for lang, (sources, references) in raw.items():
        write_lines_atomically(staging / f"{split}.{lang}.src.txt", sources)
        write_lines_atomically(staging / f"{split}.{lang}.ref.txt", references)
    count = source_out.close()
    target_out.close()
    return count
