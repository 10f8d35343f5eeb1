"""SentencePiece: train one joint model, encode/decode; special ids come from the model itself."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Iterator

import sentencepiece as spm

from translate_cli.errors import ConfigError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


def lang_tag(lang: str) -> str:
    """The source-side token that asks a multi-target model for `lang`."""
    return f"<2{lang}>"


def train_sentencepiece(sentences: Iterable[str], model_path: Path, vocab_size: int, model_type: str,
                        character_coverage: float, max_sentences: int, user_symbols: list[str],
                        seed: int = 1) -> None:
    """Train a joint model with byte fallback, so no input character is ever unknown."""
    buffer = io.BytesIO()
    spm.set_random_generator_seed(seed)  # sampling of training sentences is then reproducible
    try:
        _train(sentences, buffer, vocab_size, model_type, character_coverage, max_sentences, user_symbols)
    except RuntimeError as exc:
        detail = str(exc).split("]")[-1].strip()
        raise ConfigError(f"vocab: SentencePiece cannot train with vocab.size={vocab_size}, "
                          f"character_coverage={character_coverage}: {detail}") from None
    model_path.write_bytes(buffer.getvalue())


def _train(sentences: Iterable[str], buffer: io.BytesIO, vocab_size: int, model_type: str,
           character_coverage: float, max_sentences: int, user_symbols: list[str]) -> None:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        byte_fallback=True,
        # tcli normalises text itself (core/text.py, per language); SentencePiece's own default (NFKC)
        # would silently undo choices such as keeping Japanese full-width "？" and digits.
        normalization_rule_name="identity",
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        user_defined_symbols=user_symbols,
        input_sentence_size=max_sentences,
        shuffle_input_sentence=True,
        max_sentence_length=1 << 14,
        hard_vocab_limit=False,  # a small corpus gets a smaller vocabulary instead of an error
        num_threads=2,
        minloglevel=2,
    )


class Tokenizer:
    """A loaded SentencePiece model."""

    def __init__(self, model_path: Path | str):
        self.path = Path(model_path)
        self.sp = spm.SentencePieceProcessor(model_file=str(self.path))
        if (self.sp.pad_id(), self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id()) != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise ValueError(f"{self.path}: special ids are not pad=0, unk=1, bos=2, eos=3 (not made by tcli)")

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self.sp.encode(texts)

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode(ids)

    def pieces(self, ids: list[int]) -> list[str]:
        return [self.sp.id_to_piece(i) for i in ids]

    def token_id(self, piece: str) -> int:
        """Id of a whole-token symbol such as a language tag; -1 when the model lacks it."""
        token = self.sp.piece_to_id(piece)
        return -1 if token == UNK_ID and piece != self.sp.id_to_piece(UNK_ID) else token

    def iter_encode(self, lines: Iterable[str], chunk: int = 2048) -> Iterator[list[int]]:
        """Encode a stream in chunks (the batch call is much faster than one line at a time)."""
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == chunk:
                yield from self.sp.encode(batch)
                batch = []
        if batch:
            yield from self.sp.encode(batch)
