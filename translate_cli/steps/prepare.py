"""tcli prepare: normalise and clean the corpora, train SentencePiece, binarise, write meta.json.

Output (in `{work_dir}/data`): spm.model; train/dev/test `.src`/`.tgt` token arrays; the dev and test
source and reference text per target language; meta.json with counts, input hashes and settings.
A re-run whose inputs and settings are unchanged reuses all of it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from translate_cli import console
from translate_cli.config import Config
from translate_cli.core import textio
from translate_cli.core.checkpoint import sha256_file, write_dir_atomically
from translate_cli.core.data import TokenArrayWriter, token_dtype
from translate_cli.core.text import RULES, Cleaner, CleanRules, Normalization, normalize
from translate_cli.core.tokenizer import Tokenizer, lang_tag, train_sentencepiece

FORMAT_VERSION = 2  # 2: SentencePiece trained with identity normalisation
META = "meta.json"


@dataclass
class CorpusFiles:
    split: str
    prefix: str
    lang: str
    source: Path
    target: Path

    @property
    def label(self) -> str:
        return f"{self.split}:{self.prefix}"


@dataclass
class CorpusReport:
    label: str
    lang: str
    read: int = 0
    kept: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    replaced_utf8_lines: int = 0


def corpus_files(config: Config) -> list[CorpusFiles]:
    root = Path(config.data_root)
    files = []
    for split in ("train", "dev", "test"):
        for corpus in getattr(config.data, split):
            files.append(CorpusFiles(split, corpus.prefix, corpus.lang,
                                     root / f"{corpus.prefix}.{config.source_lang}", root / f"{corpus.prefix}.{corpus.lang}"))
    for item in files:
        for path in (item.source, item.target):
            if not path.is_file():
                raise textio.DataError(f"{path}: file not found (data.{item.split} prefix '{item.prefix}' under "
                                       f"data_root '{config.data_root}'); set data_root=... or fix the prefix")
    return files


def fingerprint(config: Config, files: list[CorpusFiles]) -> tuple[str, dict[str, str]]:
    """A hash of every input file's content and every setting that shapes the prepared data."""
    hashes = {str(path): sha256_file(path) for item in files for path in (item.source, item.target)}
    settings = {"format": FORMAT_VERSION, "source_lang": config.source_lang, "target_langs": config.target_langs,
                "data": config.data.model_dump(mode="json"), "normalize": normalizations(config),
                "clean": config.clean.model_dump(), "vocab": config.vocab.model_dump(), "seed": config.train.seed,
                "inputs": hashes}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return digest, hashes


def normalizations(config: Config) -> dict[str, dict]:
    langs = [config.source_lang, *config.target_langs]
    return {lang: config.norm_for(lang).model_dump() for lang in langs}


def is_prepared(folder: Path, digest: str) -> bool:
    meta_path = folder / META
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return meta.get("fingerprint") == digest and all((folder / name).is_file() for name in meta.get("files", []))


def _clean_stream(item: CorpusFiles, config: Config, cleaner: Cleaner, report: CorpusReport,
                  on_bad_utf8: str) -> Iterator[tuple[str, str]]:
    """Normalised training pairs that pass the cleaning rules; the report counts the rest."""
    source_rules = Normalization(**config.norm_for(config.source_lang).model_dump())
    target_rules = Normalization(**config.norm_for(item.lang).model_dump())
    before = dict(cleaner.removed)
    stats = (textio.ReadStats(), textio.ReadStats())
    for source, target in textio.iter_pairs(item.source, item.target, on_bad_utf8, stats):
        report.read += 1
        source, target = normalize(source, source_rules), normalize(target, target_rules)
        if cleaner.keep(source, target, key=item.lang):
            report.kept += 1
            yield source, target
    report.removed = {rule: cleaner.removed[rule] - before[rule] for rule in RULES}
    report.replaced_utf8_lines = stats[0].replaced_lines + stats[1].replaced_lines


def run(config: Config, on_bad_utf8: str = "error", force: bool = False) -> Path:
    """Prepare the data directory for `config`; returns its path."""
    folder = config.data_path
    files = corpus_files(config)
    digest, hashes = fingerprint(config, files)
    if not force and is_prepared(folder, digest):
        console.info(f"{folder} was prepared from the same inputs and settings; reusing it", "[green]up to date:[/green] ")
        return folder
    reports: list[CorpusReport] = []
    write_dir_atomically(folder, lambda staging: _prepare_into(staging, config, files, reports, on_bad_utf8,
                                                               digest, hashes), META)
    _print_report(reports, folder)
    return folder


def _prepare_into(staging: Path, config: Config, files: list[CorpusFiles], reports: list[CorpusReport],
                  on_bad_utf8: str, digest: str, hashes: dict[str, str]) -> None:
    clean_paths = _write_clean_training_text(staging, config, files, reports, on_bad_utf8)
    multi = len(config.target_langs) > 1
    spm_path = staging / "spm.model"
    console.info(f"training SentencePiece ({config.vocab.model_type}, {config.vocab.size} pieces)...")
    train_sentencepiece(_training_sentences(clean_paths), spm_path, config.vocab.size, config.vocab.model_type,
                        config.vocab.character_coverage, config.vocab.max_sentences,
                        [lang_tag(lang) for lang in config.target_langs] if multi else [], seed=config.train.seed)
    tokenizer = Tokenizer(spm_path)
    dtype = token_dtype(tokenizer.vocab_size)
    counts = {"train": _binarize(staging, "train", clean_paths, tokenizer, dtype, multi)}
    for split in ("dev", "test"):
        counts[split] = _prepare_eval_split(staging, config, split, [f for f in files if f.split == split],
                                            tokenizer, dtype, multi, reports, on_bad_utf8)
    for path, _ in clean_paths:
        path[0].unlink()
        path[1].unlink()
    names = sorted(p.name for p in staging.iterdir()) + [META]
    meta = {"fingerprint": digest, "format": FORMAT_VERSION, "source_lang": config.source_lang,
            "target_langs": config.target_langs, "vocab_size": tokenizer.vocab_size, "dtype": dtype.name,
            "uses_lang_tags": multi, "normalize": normalizations(config), "clean": config.clean.model_dump(),
            "vocab": config.vocab.model_dump(), "pairs": counts, "inputs": hashes,
            "corpora": [asdict(r) for r in reports], "files": names}
    (staging / META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")


def _write_clean_training_text(staging: Path, config: Config, files: list[CorpusFiles], reports: list[CorpusReport],
                               on_bad_utf8: str) -> list[tuple[tuple[Path, Path], str]]:
    """Cleaned training text per corpus (temporary; SentencePiece trains on it, then it is binarised)."""
    rules = CleanRules(**config.clean.model_dump())
    cleaner = Cleaner(rules)
    clean_paths = []
    for index, item in enumerate(f for f in files if f.split == "train"):
        report = CorpusReport(item.label, item.lang)
        paths = (staging / f"clean{index}.src.txt", staging / f"clean{index}.tgt.txt")
        with open(paths[0], "w", encoding="utf-8") as src_out, open(paths[1], "w", encoding="utf-8") as tgt_out:
            for source, target in _clean_stream(item, config, cleaner, report, on_bad_utf8):
                src_out.write(source + "\n")
                tgt_out.write(target + "\n")
        reports.append(report)
        clean_paths.append((paths, item.lang))
    if not sum(r.kept for r in reports):
        raise textio.DataError("no training pair survived cleaning; check the corpora and the clean.* settings")
    return clean_paths


def _read_text(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield line.rstrip("\n")


def _training_sentences(clean_paths: list[tuple[tuple[Path, Path], str]]) -> Iterator[str]:
    """Both sides of every cleaned training pair: one joint vocabulary."""
    for (source, target), _ in clean_paths:
        yield from _read_text(source)
        yield from _read_text(target)


def _binarize(staging: Path, split: str, clean_paths, tokenizer: Tokenizer, dtype, multi: bool) -> int:
    source_out = TokenArrayWriter(staging / f"{split}.src", dtype)
    target_out = TokenArrayWriter(staging / f"{split}.tgt", dtype)
    for (source, target), lang in clean_paths:
        prefix = [tokenizer.token_id(lang_tag(lang))] if multi else []
        for ids in tokenizer.iter_encode(_read_text(source)):
            source_out.add(prefix + ids)
        for ids in tokenizer.iter_encode(_read_text(target)):
            target_out.add(ids)
    count = source_out.close()
    assert count == target_out.close(), "binarised sides differ in length"
    return count


def _prepare_eval_split(staging: Path, config: Config, split: str, files: list[CorpusFiles], tokenizer, dtype,
                        multi: bool, reports: list[CorpusReport], on_bad_utf8: str) -> int:
    """Dev/test are never cleaned: every line is kept, raw text for scoring, ids for dev loss."""
    source_out = TokenArrayWriter(staging / f"{split}.src", dtype)
    target_out = TokenArrayWriter(staging / f"{split}.tgt", dtype)
    raw: dict[str, tuple[list[str], list[str]]] = {}
    for item in files:
        report = CorpusReport(item.label, item.lang)
        source_rules = Normalization(**config.norm_for(config.source_lang).model_dump())
        target_rules = Normalization(**config.norm_for(item.lang).model_dump())
        prefix = [tokenizer.token_id(lang_tag(item.lang))] if multi else []
        sources, references = raw.setdefault(item.lang, ([], []))
        for source, target in textio.iter_pairs(item.source, item.target, on_bad_utf8):
            report.read += 1
            sources.append(source)
            references.append(target)
            source_out.add(prefix + tokenizer.encode(normalize(source, source_rules)))
            target_out.add(tokenizer.encode(normalize(target, target_rules)))
        report.kept = report.read
        report.removed = {rule: 0 for rule in RULES}
        reports.append(report)
    for lang, (sources, references) in raw.items():
        textio.write_lines_atomically(staging / f"{split}.{lang}.src.txt", sources)
        textio.write_lines_atomically(staging / f"{split}.{lang}.ref.txt", references)
    count = source_out.close()
    target_out.close()
    return count


def _print_report(reports: list[CorpusReport], folder: Path) -> None:
    rows = [[*r.label.split(":", 1), r.lang, r.read, *(r.removed.get(rule, 0) for rule in RULES), r.kept]
            for r in reports]
    total = ["total", "", "", sum(r.read for r in reports),
             *(sum(r.removed.get(rule, 0) for r in reports) for rule in RULES), sum(r.kept for r in reports)]
    headers = ["split", "corpus", "lang", "read", "empty", "too long", "ratio", "dup", "kept"]
    console.out.print(console.table(f"prepared {folder}: pairs removed by each rule", headers, rows + [total],
                                    numeric_from=3))
    replaced = sum(r.replaced_utf8_lines for r in reports)
    if replaced:
        console.warn(f"{replaced} lines had invalid UTF-8 bytes replaced by U+FFFD")
