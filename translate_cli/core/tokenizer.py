"""Subword tokenizers behind one small interface, and training tcli's own joint SentencePiece model.

Two kinds, named in model.json ("tokenizer") and in a prepared data folder's meta.json:
  sentencepiece  tcli's own: one joint SentencePiece model (spm.model) whose piece ids are the model ids
  spm+vocab      imported models: SentencePiece models that segment the source and the target text
                 (source.spm, target.spm) and a vocabulary that maps their pieces to model ids
                 (vocabulary.json), as OPUS-MT (Marian) and M2M100/NLLB tokenizers do
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Annotated, Iterable, Iterator, Literal, Sequence

import numpy as np
import sentencepiece as spm
from annotated_types import Ge, Gt, Le

from translate_cli.errors import ConfigError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


def lang_tag(lang: str) -> str:
    """The source-side token that asks a multi-target model for `lang`."""
    return f"<2{lang}>"


@dataclass(frozen=True)
class VocabSettings:
    """The joint SentencePiece model prepare trains (the config's `vocab:` section)."""

    __pydantic_config__ = {"extra": "forbid"}
    size: Annotated[int, Ge(300), Le(65000)] = 8000  # byte fallback alone takes 256 pieces
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: Annotated[float, Gt(0.0), Le(1.0)] = 0.9995
    max_sentences: Annotated[int, Gt(0)] = 1_000_000  # sampled for SentencePiece training
    # Subword regularisation (unigram models): > 0 trains on sampled segmentations (Kudo, 2018); a
    # smaller alpha samples more varied ones. 0 = one fixed segmentation.
    sampling_alpha: Annotated[float, Ge(0.0), Le(1.0)] = 0.0
    sampled_copies: Annotated[int, Ge(1)] = 8  # sampled segmentations prepared; epoch e trains on copy e % N

    def __post_init__(self) -> None:
        if self.sampling_alpha and self.model_type != "unigram":
            raise ValueError("vocab.sampling_alpha samples segmentations of a unigram model; set model_type: unigram")


SAMPLING_ADDED_LATER = {"sampling_alpha": 0.0, "sampled_copies": 8}  # left out of prepare's fingerprint
SAMPLING_NBEST = 64  # segmentations a sampled one is drawn from (Kudo, 2018, used l = 64)


def train_sentencepiece(sentences: Iterable[str], model_path: Path, settings: VocabSettings,
                        user_symbols: list[str], seed: int = 1) -> None:
    """Train a joint model with byte fallback, so no input character is ever unknown."""
    buffer = io.BytesIO()
    spm.set_random_generator_seed(seed)  # sampling of training sentences is then reproducible
    try:
        _train(sentences, buffer, settings, user_symbols)
    except RuntimeError as exc:
        detail = str(exc).split("]")[-1].strip()
        raise ConfigError(f"vocab: SentencePiece cannot train with vocab.size={settings.size}, "
                          f"character_coverage={settings.character_coverage}: {detail}") from None
    model_path.write_bytes(buffer.getvalue())


def _train(sentences: Iterable[str], buffer: io.BytesIO, settings: VocabSettings, user_symbols: list[str]) -> None:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        vocab_size=settings.size,
        model_type=settings.model_type,
        character_coverage=settings.character_coverage,
        byte_fallback=True,
        # tcli normalises text itself (core/text.py, per language); SentencePiece's own default (NFKC)
        # would silently undo choices such as keeping Japanese full-width "？" and digits.
        normalization_rule_name="identity",
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        user_defined_symbols=user_symbols,
        input_sentence_size=settings.max_sentences,
        shuffle_input_sentence=True,
        max_sentence_length=1 << 14,
        hard_vocab_limit=False,  # a small corpus gets a smaller vocabulary instead of an error
        num_threads=2,
        minloglevel=2,
    )


class Tokenizer:
    """Text <-> model ids. Source text is segmented by `encode`, target text by `encode_target` (the same
    model for a joint vocabulary), and model output is turned back into text by `decode`."""

    kind: str
    files: list[Path]  # what defines the tokenizer; copied into every model directory
    unk_id: int

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_target(self, text: str) -> list[int]:
        return self.encode(text)

    def encode_batch(self, lines: list[str], target: bool = False) -> list[list[int]]:
        encode = self.encode_target if target else self.encode
        return [encode(line) for line in lines]

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def pieces(self, ids: Iterable[int]) -> list[str]:
        raise NotImplementedError

    def token_id(self, piece: str) -> int:
        """Id of a whole-token symbol such as a language tag; -1 when the model lacks it."""
        raise NotImplementedError

    def encode_sampled(self, lines: list[str], alpha: float, rng: np.random.Generator) -> list[list[int]]:
        """One sampled segmentation per line (subword regularisation); only tcli's own unigram models."""
        raise NotImplementedError(f"subword sampling needs tcli's own SentencePiece model, not {self.kind}")

    def iter_encode(self, lines: Iterable[str], sampling: tuple[float, np.random.Generator] | None = None,
                    chunk: int = 2048, target: bool = False) -> Iterator[list[int]]:
        """Encode a stream in chunks (the batch call is much faster than one line at a time).

        sampling=(alpha, rng): each line gets a segmentation sampled from its SAMPLING_NBEST best ones with
        probability proportional to P(segmentation) ** alpha (Kudo, 2018). tcli draws with its own seeded
        generator: SentencePiece's built-in sampler differs from process to process under a fixed seed."""
        lines = iter(lines)
        while batch := list(islice(lines, chunk)):
            yield from self.encode_batch(batch, target) if sampling is None else self.encode_sampled(batch, *sampling)


class SentencePieceTokenizer(Tokenizer):
    """tcli's own: one joint SentencePiece model (spm.model) whose piece ids are the model ids."""

    kind = "sentencepiece"

    def __init__(self, model_path: Path | str):
        self.path = Path(model_path)
        self.files = [self.path]
        self.sp = spm.SentencePieceProcessor(model_file=str(self.path))
        if (self.sp.pad_id(), self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id()) != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise ValueError(f"{self.path}: special ids are not pad=0, unk=1, bos=2, eos=3 (not made by tcli)")
        self.unk_id = UNK_ID

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def encode_batch(self, lines: list[str], target: bool = False) -> list[list[int]]:
        return self.sp.encode(lines)

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode(ids)

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.sp.id_to_piece(i) for i in ids]

    def token_id(self, piece: str) -> int:
        token = self.sp.piece_to_id(piece)
        return -1 if token == UNK_ID and piece != self.sp.id_to_piece(UNK_ID) else token

    def encode_sampled(self, lines: list[str], alpha: float, rng: np.random.Generator) -> list[list[int]]:
        chosen = []
        for proto in self.sp.nbest_encode_as_proto(lines, nbest_size=SAMPLING_NBEST):
            if not proto.nbests:
                chosen.append([])
                continue
            weights = alpha * np.array([nbest.score for nbest in proto.nbests])
            weights = np.exp(weights - weights.max())
            pick = rng.choice(len(weights), p=weights / weights.sum())
            chosen.append([piece.id for piece in proto.nbests[pick].pieces])
        return chosen


SOURCE_SPM, TARGET_SPM, VOCABULARY = "source.spm", "target.spm", "vocabulary.json"
VOCABULARY_FORMAT = "tcli-vocabulary"


def write_vocabulary(path: Path, pieces: Sequence[str], unk_id: int, control_ids: Iterable[int]) -> None:
    """vocabulary.json: the model's pieces in id order, its unknown id, and the ids decode leaves out."""
    record = {"format": VOCABULARY_FORMAT, "unk_id": unk_id, "control_ids": sorted(set(control_ids)),
              "pieces": list(pieces)}
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")


class VocabTokenizer(Tokenizer):
    """Source and target SentencePiece models over a separate vocabulary (OPUS-MT, M2M100, NLLB): text is
    segmented into piece strings, which the vocabulary maps to model ids (an unknown piece is <unk>)."""

    kind = "spm+vocab"

    def __init__(self, folder: Path | str):
        folder = Path(folder)
        self.files = [folder / SOURCE_SPM, folder / TARGET_SPM, folder / VOCABULARY]
        self.source = spm.SentencePieceProcessor(model_file=str(folder / SOURCE_SPM))
        self.target = spm.SentencePieceProcessor(model_file=str(folder / TARGET_SPM))
        record = json.loads((folder / VOCABULARY).read_text(encoding="utf-8"))
        if record.get("format") != VOCABULARY_FORMAT:
            raise ValueError(f"{folder / VOCABULARY}: not a tcli vocabulary")
        self.vocab: list[str] = list(record["pieces"])
        self.index = {piece: i for i, piece in enumerate(self.vocab)}
        self.unk_id = int(record["unk_id"])
        self.control = set(record["control_ids"]) | {self.unk_id}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _ids(self, pieces: list[str]) -> list[int]:
        return [self.index.get(piece, self.unk_id) for piece in pieces]

    def encode(self, text: str) -> list[int]:
        return self._ids(self.source.encode(text, out_type=str))

    def encode_target(self, text: str) -> list[int]:
        return self._ids(self.target.encode(text, out_type=str))

    def encode_batch(self, lines: list[str], target: bool = False) -> list[list[int]]:
        return [self._ids(pieces) for pieces in (self.target if target else self.source).encode(lines, out_type=str)]

    def decode(self, ids: list[int]) -> str:
        # Pieces the target model does not know (from the source side of a joint vocabulary) keep their
        # word-boundary marks, so those are turned into spaces afterwards.
        pieces = [self.vocab[i] for i in ids if i not in self.control]
        return self.target.decode_pieces(pieces).replace("\u2581", " ").strip()

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.vocab[i] for i in ids]

    def token_id(self, piece: str) -> int:
        return self.index.get(piece, -1)


TOKENIZER_KINDS = {SentencePieceTokenizer.kind: ("spm.model",), VocabTokenizer.kind: (SOURCE_SPM, TARGET_SPM, VOCABULARY)}


def tokenizer_files(kind: str) -> tuple[str, ...]:
    """The file names that make up a tokenizer of this kind."""
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r} (known: {', '.join(TOKENIZER_KINDS)})")
    return TOKENIZER_KINDS[kind]


def load_tokenizer(folder: Path, kind: str = SentencePieceTokenizer.kind) -> Tokenizer:
    """The tokenizer of a model directory or prepared data folder (raises ValueError/OSError/RuntimeError)."""
    tokenizer_files(kind)
    if kind == VocabTokenizer.kind:
        return VocabTokenizer(folder)
    return SentencePieceTokenizer(Path(folder) / "spm.model")
