"""The tokenizer side of an imported Hugging Face model: its vocabulary in model-id order, its SentencePiece
models, and the tokens that ask it for each language (core/hf/importer.py builds the model side).

  Marian (OPUS-MT)  vocab.json maps the pieces of source.spm and target.spm to ids (</s> 0, <unk> 1, ...,
                    <pad> last); a multilingual model starts the source with a >>xxx<< token
  M2M100            vocab.json (fairseq order: <s> <pad> </s> <unk>, then pieces), then the __xx__ language
                    codes and 8 "madeupword" rows; source [__en__] x </s>, output forced to start with __hi__
  NLLB              sentencepiece.bpe.model with fairseq's offset (spm id k >= 3 -> k + 1 after <s> <pad>
                    </s> <unk>), then the language codes and <mask> (ids from tokenizer.json or
                    tokenizer_config.json); source [eng_Latn] x </s>, output forced to start with hin_Deva
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import sentencepiece as spm

from translate_cli.core.checkpoint import LangTokens
from translate_cli.core.languages import find_code, name_languages, short_code
from translate_cli.errors import CheckpointError

M2M100_CODES = {  # the language codes of M2M100 tokenizers, in their id order (tokenizer_config "language_codes")
    "m2m100": "af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd gl gu ha he hi "
              "hr ht hu hy id ig ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg mk ml mn mr ms my ne nl no ns oc "
              "or pa pl ps pt ro ru sd si sk sl so sq sr ss su sv sw ta th tl tn tr uk ur uz vi wo xh yi yo zh zu",
    "wmt21": "en ha is ja cs ru zh de"}
NLLB_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
MARIAN_TAG = re.compile(r"^>>(.+)<<$")
MAX_SPARE_ROWS = 64  # model rows past the tokenizer's (real NLLB has 2); more means another tokenizer


@dataclass
class Vocabulary:
    pieces: list[str]  # model ids -> piece strings
    unk_id: int
    control_ids: list[int]  # never part of decoded text
    source_spm: Path
    target_spm: Path
    source_lang: str
    lang_tokens: dict[str, LangTokens]  # tcli's name of each target language -> how to ask for it
    kind: str  # what the model is, in words
    notes: list[str] = field(default_factory=list)  # what the user should know (shown by tcli import)


def read_json(path: Path, required: bool = True) -> dict:
    if not path.is_file():
        if required:
            raise CheckpointError(f"{path}: missing; a Hugging Face model folder needs it (download the complete "
                                  f"folder, or pass the hub id)")
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc}); download the file again") from None


def _spm(path: Path) -> spm.SentencePieceProcessor:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; the model's SentencePiece model is needed to import it")
    try:
        return spm.SentencePieceProcessor(model_file=str(path))
    except (RuntimeError, OSError) as exc:
        raise CheckpointError(f"{path}: not a SentencePiece model ({str(exc)[:120]}); download it again") from None


def _ordered(path: Path, mapping: dict) -> list[str]:
    """vocab.json's pieces in id order; the ids must be 0..N-1."""
    pieces = [piece for piece, _ in sorted(mapping.items(), key=lambda item: item[1])]
    if sorted(mapping.values()) != list(range(len(mapping))):
        raise CheckpointError(f"{path}: ids are not 0..{len(mapping) - 1}; not a vocabulary tcli can read")
    return pieces


def _check_coverage(sp: spm.SentencePieceProcessor, path: Path, index: dict[str, int], vocab_path: Path,
                    notes: list[str]) -> None:
    """A SentencePiece model of this vocabulary produces pieces the vocabulary holds."""
    normal = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not (sp.is_control(i) or sp.is_unknown(i))]
    missing = sum(piece not in index for piece in normal)
    if missing * 2 > len(normal):
        raise CheckpointError(f"{path}: {missing} of its {len(normal)} pieces are not in {vocab_path.name}; the "
                              f"tokenizer files do not belong together; download the model folder again")
    if missing:
        notes.append(f"{missing} pieces of {path.name} are not in {vocab_path.name}; they become <unk>, as in "
                     f"Hugging Face's tokenizer")


def _expect_size(pieces: list[str], vocab_size: int, path: Path) -> None:
    if len(pieces) != vocab_size:
        raise CheckpointError(f"{path}: gives {len(pieces)} vocabulary entries but config.json's vocab_size is "
                              f"{vocab_size}; the tokenizer does not belong to these weights")


def _name_source(source_lang: str, codes: list[str], where: Path) -> str:
    code = find_code(source_lang, codes)
    if code is None:
        raise CheckpointError(f"{where}: the model knows no source language '{source_lang}'; choose one of its "
                              f"languages with --from")
    return code


def marian_vocabulary(folder: Path, config: dict, source_lang: str | None, target_lang: str | None) -> Vocabulary:
    settings = read_json(folder / "tokenizer_config.json", required=False)
    if settings.get("separate_vocabs") or (folder / "target_vocab.json").is_file():
        raise CheckpointError(f"{folder / 'target_vocab.json'}: separate source and target vocabularies are not "
                              f"supported (tcli ties one embedding matrix to both sides)")
    vocab_path = folder / "vocab.json"
    index = read_json(vocab_path)
    pieces = _ordered(vocab_path, index)
    _expect_size(pieces, config["vocab_size"], vocab_path)
    source, target = _spm(folder / "source.spm"), _spm(folder / "target.spm")
    notes: list[str] = []
    _check_coverage(source, folder / "source.spm", index, vocab_path, notes)
    _check_coverage(target, folder / "target.spm", index, vocab_path, notes)
    for piece in ("</s>", "<unk>"):
        if piece not in index:
            raise CheckpointError(f"{vocab_path}: has no {piece}; not an OPUS-MT vocabulary")
    control = [index["</s>"], index["<unk>"], config["pad_token_id"]]
    source_lang = source_lang or short_code(settings.get("source_lang") or "en") or settings["source_lang"]
    tags = [match.group(1) for piece in pieces if (match := MARIAN_TAG.match(piece))]
    if tags:  # multilingual: the source starts with >>xxx<<
        tokens = {name: LangTokens([f">>{code}<<"], [], code) for name, code in name_languages(tags).items()}
    else:
        target_lang = target_lang or settings.get("target_lang")
        if not target_lang:
            raise CheckpointError(f"{folder / 'tokenizer_config.json'}: names no target language; pass --to LANG")
        tokens = {short_code(target_lang) or target_lang: LangTokens([], [], target_lang)}
    kind = "OPUS-MT (Marian)" + (", multilingual" if tags else "")
    return Vocabulary(pieces, index["<unk>"], control, folder / "source.spm", folder / "target.spm", source_lang,
                      tokens, kind, notes)


def _added_tokens(folder: Path) -> dict[int, str]:
    """Tokens added to an NLLB tokenizer past its SentencePiece pieces (language codes, <mask>), by id."""
    added = {int(t["id"]): t["content"] for t in read_json(folder / "tokenizer.json", required=False).get("added_tokens", [])}
    if not added:
        decoder = read_json(folder / "tokenizer_config.json", required=False).get("added_tokens_decoder", {})
        added = {int(i): t["content"] for i, t in decoder.items()}
    return added


def _language_tokens(codes: list[str], source_code: str, wrap) -> dict[str, LangTokens]:
    return {name: LangTokens([wrap(source_code)], [wrap(code)], code)
            for name, code in name_languages(codes).items() if code != source_code}


def nllb_vocabulary(folder: Path, config: dict, source_lang: str | None) -> Vocabulary:
    settings = read_json(folder / "tokenizer_config.json", required=False)
    if settings.get("legacy_behaviour"):
        raise CheckpointError(f"{folder / 'tokenizer_config.json'}: legacy_behaviour (the language code after the "
                              f"source sentence) is not supported")
    path = folder / "sentencepiece.bpe.model"
    sp = _spm(path)
    if (sp.unk_id(), sp.bos_id(), sp.eos_id()) != (0, 1, 2):
        raise CheckpointError(f"{path}: special ids are not unk 0, bos 1, eos 2; not an NLLB SentencePiece model")
    pieces = ["<s>", "<pad>", "</s>", "<unk>"] + [sp.id_to_piece(i) for i in range(3, sp.get_piece_size())]
    added = {i: token for i, token in _added_tokens(folder).items() if i >= len(pieces)}
    if not added:
        raise CheckpointError(f"{folder / 'tokenizer.json'}: missing or lists no language codes; NLLB needs "
                              f"tokenizer.json or tokenizer_config.json beside {path.name}")
    if sorted(added) != list(range(len(pieces), len(pieces) + len(added))):
        raise CheckpointError(f"{folder / 'tokenizer.json'}: its added tokens do not follow {path.name}'s pieces; "
                              f"the tokenizer files do not belong together")
    pieces += [added[i] for i in sorted(added)]
    spare = config["vocab_size"] - len(pieces)
    if not 0 <= spare <= MAX_SPARE_ROWS:
        raise CheckpointError(f"{path}: with its language codes it gives {len(pieces)} vocabulary entries for "
                              f"config.json's vocab_size {config['vocab_size']}; the tokenizer does not belong to "
                              f"these weights")
    pieces += [f"<spare{i}>" for i in range(spare)]
    codes = [token for token in pieces if NLLB_CODE.match(token)]
    source_code = _name_source(source_lang or "en", codes, folder / "tokenizer.json")
    control = [0, 1, 2, 3] + list(range(sp.get_piece_size() + 1, len(pieces)))
    return Vocabulary(pieces, 3, control, path, path, short_code(source_code) or source_code,
                      _language_tokens(codes, source_code, lambda code: code), "NLLB (M2M100 architecture)")


def m2m100_vocabulary(folder: Path, config: dict, source_lang: str | None) -> Vocabulary:
    settings = read_json(folder / "tokenizer_config.json", required=False)
    vocab_path = folder / "vocab.json"
    index = read_json(vocab_path)
    pieces = _ordered(vocab_path, index)
    listed = [t.strip("_") for t in settings.get("additional_special_tokens", []) if re.match(r"^__\w+__$", t)]
    codes = listed or M2M100_CODES.get(settings.get("language_codes", "m2m100"), "").split()
    if not codes:
        raise CheckpointError(f"{folder / 'tokenizer_config.json'}: unknown language_codes "
                              f"{settings.get('language_codes')!r}")
    sp = _spm(folder / "sentencepiece.bpe.model")
    notes: list[str] = []
    _check_coverage(sp, folder / "sentencepiece.bpe.model", index, vocab_path, notes)
    first_code = len(pieces)
    pieces += [f"__{code}__" for code in codes]
    pieces += [f"madeupword{i}" for i in range(int(settings.get("num_madeup_words", 8)))]
    _expect_size(pieces, config["vocab_size"], vocab_path)
    source_code = _name_source(source_lang or "en", codes, folder / "tokenizer_config.json")
    control = [index[p] for p in ("<s>", "<pad>", "</s>", "<unk>") if p in index] + list(range(first_code, len(pieces)))
    return Vocabulary(pieces, index.get("<unk>", 3), control, folder / "sentencepiece.bpe.model",
                      folder / "sentencepiece.bpe.model", short_code(source_code) or source_code,
                      _language_tokens(codes, source_code, lambda code: f"__{code}__"), "M2M100", notes)
