"""Build a random Hugging Face translation model folder offline, as the hub would serve it (for tests and benchmarks).

    python scripts/make_hf_model.py marian -o /tmp/opus-like --d-model 512 --layers 6 --heads 8 --ffn 2048

Kinds: marian (OPUS-MT en-hi), marian-mul (OPUS-MT with >>hin<< / >>jpn<< target tokens), m2m100 (__en__ /
__hi__ language codes), nllb (eng_Latn / hin_Deva). The SentencePiece models are trained on a corpus folder
(default data/sample); weights are random (seeded), or with --train-steps briefly trained on the corpus's
en-hi (and en-ja) pairs so that outputs depend on the input and end, and written with save_pretrained together
with the tokenizer files and a generation_config.json, so `tcli import FOLDER` sees what a hub download holds.
Needs transformers (the `bench` or `dev` extra).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import sentencepiece as spm
import torch

REPO = Path(__file__).resolve().parent.parent
KINDS = ("marian", "marian-mul", "m2m100", "nllb")


def _lines(corpus: Path, lang: str) -> list[str]:
    return (corpus / f"train.{lang}").read_text(encoding="utf-8").splitlines()


def train_spm(sentences: list[str], path: Path, vocab_size: int, model_type: str = "unigram") -> list[str]:
    """A SentencePiece model with its own default special ids (unk 0, bos 1, eos 2), as OPUS-MT and fairseq
    models have; returns its pieces."""
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_prefix=str(path.with_suffix("")),
                                   vocab_size=vocab_size, model_type=model_type, character_coverage=0.995,
                                   hard_vocab_limit=False, num_threads=2, minloglevel=2)
    path.with_suffix(".model").rename(path)
    path.with_suffix(".vocab").unlink()
    sp = spm.SentencePieceProcessor(model_file=str(path))
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def randomize(model: torch.nn.Module, pad_id: int, std: float, eos_id: int, eos_bias: float) -> None:
    """Random weights large enough that outputs vary with the input (std); LayerNorm gains near 1; the pad
    embedding row zero, as in converted checkpoints. `eos_bias` shifts the end-of-sentence logit so that
    outputs end after a few tokens (through Marian's final_logits_bias, or M2M100's final LayerNorm bias
    and the end-of-sentence embedding)."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "layer_norm" in name and name.endswith("weight"):
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            else:
                parameter.normal_(0, std)
        embedding = model.get_input_embeddings().weight
        embedding[pad_id].zero_()
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.normal_(0, 0.2)
            model.final_logits_bias[0, pad_id] = 0
            model.final_logits_bias[0, eos_id] += eos_bias
        else:
            norm = model.model.decoder.layer_norm
            direction = torch.randn_like(norm.bias)
            direction /= direction.norm()
            norm.bias.add_(direction)
            embedding[eos_id] += eos_bias * direction


def train_briefly(model: torch.nn.Module, tokenizer, corpus: Path, targets: list[tuple[str, str]], steps: int,
                  seed: int, lr: float = 3e-3, batch_size: int = 32) -> None:
    """A few Adam steps on the corpus's pairs (every target language, `targets` = (lang, source prefix)),
    so the random model's outputs depend on its input and end with </s> at plausible lengths."""
    pairs = [(prefix + source, target, lang) for lang, prefix in targets
             for source, target in zip(_lines(corpus, "en"), _lines(corpus, lang))]
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        chosen = [pairs[i] for i in torch.randint(len(pairs), (batch_size,), generator=generator).tolist()]
        lang = chosen[0][2]
        chosen = [pair for pair in chosen if pair[2] == lang]  # one target language per batch (M2M100's labels)
        if hasattr(tokenizer, "tgt_lang"):
            tokenizer.tgt_lang = {"hi": "hin_Deva", "ja": "jpn_Jpan"}[lang] if "Nllb" in type(tokenizer).__name__ else lang
        batch = tokenizer([p[0] for p in chosen], text_target=[p[1] for p in chosen], return_tensors="pt",
                          padding=True, truncation=True, max_length=64)
        batch["labels"][batch["labels"] == tokenizer.pad_token_id] = -100
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def build_marian(folder: Path, corpus: Path, dims: dict, multilingual: bool, vocab_size: int, seed: int,
                 std: float, eos_bias: float, train_steps: int) -> None:
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        source_pieces = train_spm(_lines(corpus, "en"), work / "source.spm", vocab_size)
        target_text = _lines(corpus, "hi") + (_lines(corpus, "ja") if multilingual else [])
        target_pieces = train_spm(target_text, work / "target.spm", vocab_size * (2 if multilingual else 1))
        vocab = {"</s>": 0, "<unk>": 1}  # Marian's order; the Hugging Face converter appends <pad> last
        for piece in source_pieces + target_pieces:
            if piece not in ("<s>", "</s>", "<unk>"):
                vocab.setdefault(piece, len(vocab))
        for tag in ((">>hin<<", ">>jpn<<") if multilingual else ()):
            vocab[tag] = len(vocab)
        pad = vocab["<pad>"] = len(vocab)
        (work / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        tokenizer = MarianTokenizer(source_spm=str(work / "source.spm"), target_spm=str(work / "target.spm"),
                                    vocab=str(work / "vocab.json"), source_lang="en",
                                    target_lang="mul" if multilingual else "hi")
        config = MarianConfig(vocab_size=len(vocab), decoder_vocab_size=len(vocab), activation_function="swish",
                              scale_embedding=True, pad_token_id=pad, eos_token_id=0, bos_token_id=0,
                              decoder_start_token_id=pad, forced_eos_token_id=0, share_encoder_decoder_embeddings=True,
                              tie_word_embeddings=True, architectures=["MarianMTModel"], **_dims(dims))
        torch.manual_seed(seed)
        model = MarianMTModel(config)
        if train_steps:  # a random fixed output bias still (a buffer: never trained)
            model.final_logits_bias.normal_(0, 0.2)
            model.final_logits_bias[0, pad] = 0
            targets = [("hi", ">>hin<< "), ("ja", ">>jpn<< ")] if multilingual else [("hi", "")]
            train_briefly(model, tokenizer, corpus, targets, train_steps, seed)
        else:
            randomize(model, pad, std, 0, eos_bias)
        model.generation_config = GenerationConfig(
            bad_words_ids=[[pad]], bos_token_id=0, decoder_start_token_id=pad, eos_token_id=0, forced_eos_token_id=0,
            max_length=512, num_beams=4, pad_token_id=pad, renormalize_logits=True)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)


def build_m2m100(folder: Path, corpus: Path, dims: dict, nllb: bool, vocab_size: int, seed: int, std: float,
                 eos_bias: float, train_steps: int) -> None:
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    sentences = _lines(corpus, "en") + _lines(corpus, "hi") + _lines(corpus, "ja")
    with tempfile.TemporaryDirectory() as scratch:
        model_path = (folder if nllb else Path(scratch)) / "sentencepiece.bpe.model"
        pieces = train_spm(sentences, model_path, vocab_size, "bpe")
        if nllb:
            tokenizer = _nllb_tokenizer(folder, len(pieces))
            rows, extra = len(tokenizer) + 2, {"tokenizer_class": "NllbTokenizer"}  # NLLB has 2 spare rows
        else:
            from transformers import M2M100Tokenizer

            vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}  # fairseq's dictionary order
            for piece in pieces:
                vocab.setdefault(piece, len(vocab))
            (Path(scratch) / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
            tokenizer = M2M100Tokenizer(vocab_file=str(Path(scratch) / "vocab.json"), spm_file=str(model_path),
                                        src_lang="en", tgt_lang="hi")
            rows, extra = tokenizer.encoder_size + len(tokenizer.lang_code_to_id) + tokenizer.num_madeup_words, {}
        config = M2M100Config(vocab_size=rows, encoder_layerdrop=0.0, decoder_layerdrop=0.0,
                              architectures=["M2M100ForConditionalGeneration"], **_dims(dims), **extra)
        torch.manual_seed(seed)
        model = M2M100ForConditionalGeneration(config)
        if train_steps:
            train_briefly(model, tokenizer, corpus, [("hi", ""), ("ja", "")], train_steps, seed)
        else:
            randomize(model, config.pad_token_id, std, config.eos_token_id, eos_bias)
        model.generation_config = GenerationConfig(bos_token_id=0, decoder_start_token_id=2, eos_token_id=2,
                                                   pad_token_id=1, max_length=200,
                                                   **({} if nllb else {"num_beams": 5, "early_stopping": True}))
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)


def _nllb_tokenizer(folder: Path, spm_size: int):
    """NLLB's id layout from a bare SentencePiece model: fairseq's offset, then the language codes, then <mask>
    (transformers 5 adds no codes by itself, and would put <mask> first if given them as extra tokens)."""
    from transformers import NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    tokenizer = NllbTokenizer.from_pretrained(str(folder), extra_special_tokens=list(FAIRSEQ_LANGUAGE_CODES),
                                              mask_token=None, src_lang="eng_Latn", tgt_lang="hin_Deva")
    tokenizer.add_special_tokens({"mask_token": "<mask>"})
    assert tokenizer.convert_tokens_to_ids("eng_Latn") == spm_size + 1 + FAIRSEQ_LANGUAGE_CODES.index("eng_Latn")
    return tokenizer


def _dims(dims: dict) -> dict:
    return dict(d_model=dims["d_model"], encoder_layers=dims["layers"], decoder_layers=dims["layers"],
                encoder_attention_heads=dims["heads"], decoder_attention_heads=dims["heads"],
                encoder_ffn_dim=dims["ffn"], decoder_ffn_dim=dims["ffn"], max_position_embeddings=dims["positions"],
                dropout=0.1)


def build(kind: str, folder: Path, corpus: Path = REPO / "data" / "sample", d_model: int = 32, layers: int = 2,
          heads: int = 4, ffn: int = 64, vocab_size: int = 500, seed: int = 0, std: float = 0.15,
          eos_bias: float = 2.0, positions: int = 256, train_steps: int = 0) -> Path:
    """Write one random model folder of `kind` (see KINDS) into `folder` (replaced)."""
    assert kind in KINDS, kind
    shutil.rmtree(folder, ignore_errors=True)
    dims = dict(d_model=d_model, layers=layers, heads=heads, ffn=ffn, positions=positions)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind.startswith("marian"):
            build_marian(folder, corpus, dims, kind == "marian-mul", vocab_size, seed, std, eos_bias, train_steps)
        else:
            build_m2m100(folder, corpus, dims, kind == "nllb", 2 * vocab_size, seed, std, eos_bias, train_steps)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("-o", "--output", required=True, type=Path)
    parser.add_argument("--corpus", type=Path, default=REPO / "data" / "sample", help="folder with train.{en,hi,ja}")
    for name, default in (("d-model", 32), ("layers", 2), ("heads", 4), ("ffn", 64), ("vocab", 500), ("seed", 0),
                          ("positions", 256), ("train-steps", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--std", type=float, default=0.15, help="standard deviation of the random weights")
    parser.add_argument("--eos-bias", type=float, default=2.0, help="raise the end-of-sentence logit by about this")
    args = parser.parse_args()
    build(args.kind, args.output, args.corpus, args.d_model, args.layers, args.heads, args.ffn, args.vocab, args.seed,
          args.std, args.eos_bias, args.positions, args.train_steps)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
