"""Imported Hugging Face models (tiny Marian, multilingual Marian, M2M100 and NLLB built offline by
scripts/make_hf_model.py) compute what Hugging Face computes: the same logits, the same greedy and beam outputs,
the same text; and they translate, export and quantize through the CLI like tcli's own models."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
import torch
from conftest import REPO, run_cli

from translate_cli.core.checkpoint import load_model
from translate_cli.core.data import pad_sequences
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.text import single_line
from translate_cli.core.translator import Translator

SENTENCES = (REPO / "data/sample/test.en").read_text(encoding="utf-8").splitlines()[:100] + \
    (REPO / "data/sample/dev.en").read_text(encoding="utf-8").splitlines()[:100]
LIMIT = 40  # output tokens after any forced prefix
HF_SOURCE = {"marian": ("", None), "marian-mul": (">>hin<< ", None), "m2m100": ("", "en"), "nllb": ("", "eng_Latn")}


def hugging_face(folder: Path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    logging.getLogger("transformers").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
    return model, tokenizer


def hf_inputs(tokenizer, kind: str, lines: list[str]):
    prefix, source_lang = HF_SOURCE[kind]
    if source_lang:
        tokenizer.src_lang = source_lang
    return tokenizer([prefix + line for line in lines], return_tensors="pt", padding=True)


def hf_generate(model, tokenizer, kind: str, lines: list[str], beams: int, forced: list[int]) -> list[list[int]]:
    """Hugging Face's outputs (ids after the decoder start and any forced token, up to end-of-sentence)."""
    outputs = []
    extra = {"forced_bos_token_id": forced[0]} if forced else {}
    for start in range(0, len(lines), 50):
        batch = hf_inputs(tokenizer, kind, lines[start:start + 50])
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            generated = model.generate(**batch, num_beams=beams, do_sample=False, length_penalty=1.0,
                                       early_stopping=True, max_new_tokens=LIMIT + 1 + len(forced), **extra)
        for row in generated[:, 1 + len(forced):].tolist():
            row = row[:row.index(model.config.eos_token_id)] if model.config.eos_token_id in row else row
            outputs.append([token for token in row if token != model.config.pad_token_id][:LIMIT])
    return outputs


@pytest.mark.parametrize("kind", ["marian", "marian-mul", "m2m100", "nllb"])
def test_logits_equal_hugging_face(hf_models, kind):
    model, tokenizer = hugging_face(hf_models.folder(kind))
    loaded = load_model(hf_models.imported(kind))
    translator = Translator(loaded, "hi")
    config = loaded.info.model
    lines = SENTENCES[:8]
    batch = hf_inputs(tokenizer, kind, lines)
    ours = [translator.encode(line)[0] + [config.eos_id] for line in lines]
    theirs = [[t for t, keep in zip(ids, mask) if keep] for ids, mask in
              zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist())]
    assert ours == theirs  # the same source ids, language tokens included
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(4, config.vocab_size - 20, (len(lines), 12), generator=generator)
    decoder_in = torch.cat([torch.full((len(lines), 1), config.bos_id),
                            torch.tensor([translator.target_prefix] * len(lines), dtype=torch.long), target], dim=1)
    source = pad_sequences(ours, pad=config.pad_id)
    with torch.no_grad():
        native = loaded.model.logits(loaded.model(source, decoder_in))
        reference = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                          decoder_input_ids=decoder_in).logits
    assert (native - reference).abs().max().item() <= 1e-4


# Distinct outputs (of 200) that make the parity check meaningful. The tiny multilingual Marian fixture learns
# to ignore its input in a few hundred steps (9 distinct outputs even after 1,200); its source-side >>hin<<
# token is checked token by token by test_logits_equal_hugging_face, and its search here still must agree.
MIN_DISTINCT = {"marian": 100, "marian-mul": 1, "m2m100": 20, "nllb": 20}


@pytest.mark.parametrize("kind", ["marian", "marian-mul", "nllb", "m2m100"])
def test_greedy_and_beam_outputs_equal_hugging_face(hf_models, kind):
    model, tokenizer = hugging_face(hf_models.folder(kind))
    translator = Translator(load_model(hf_models.imported(kind)), "hi")
    sources = [translator.encode(line)[0] for line in SENTENCES]
    for beams in (1, 5):
        options = DecodeOptions(beam_size=beams, max_len_a=0, max_len_b=LIMIT, length_penalty=1.0, length_norm="power")
        native = [hyps[0].tokens for hyps in translator.search(sources, options)]
        reference = hf_generate(model, tokenizer, kind, SENTENCES, beams, translator.target_prefix)
        same = sum(a == b for a, b in zip(native, reference))
        assert len({tuple(ids) for ids in native}) >= MIN_DISTINCT[kind], "outputs barely depend on the input"
        assert sum(len(ids) < LIMIT for ids in reference) >= 0.6 * len(SENTENCES), "outputs rarely end: a weak test"
        if beams == 1:
            assert same == len(SENTENCES)
            texts = [t.text for t in translator.translate(SENTENCES, options)]
            decoded = [single_line(tokenizer.decode(ids, skip_special_tokens=True)) for ids in reference]
            assert texts == decoded
        else:
            assert same >= 0.98 * len(SENTENCES), f"beam 5: {same} of {len(SENTENCES)} identical"


def test_imported_model_works_through_the_cli(hf_models, tmp_path):
    folder = str(hf_models.imported("marian-mul"))
    text = "Where is the station?\n\nI like tennis very much.\n"
    for lang in ("hi", "jpn", "ja"):  # tcli's language names, or the model's own
        result = run_cli("translate", folder, "--to", lang, stdin=text)
        assert result.exit_code == 0, result.output
        assert len(result.stdout.split("\n")[:-1]) == 3
    unknown = run_cli("translate", folder, "--to", "fr", stdin=text)
    assert unknown.exit_code == 2 and "it knows: hi, ja" in unknown.stderr
    nbest = run_cli("translate", folder, "--to", "hi", "--nbest", "3", "-b", "3", stdin="Good morning.\n")
    assert nbest.exit_code == 0 and len(nbest.stdout.splitlines()) == 3
    quantized = run_cli("translate", folder, "--to", "hi", "--quantize", "int8", stdin=text)
    assert quantized.exit_code == 0 and len(quantized.stdout.split("\n")[:-1]) == 3
    (tmp_path / "src.en").write_text("Where is the station?\nGood morning.\n", encoding="utf-8")
    (tmp_path / "ref.hi").write_text("स्टेशन कहाँ है?\nसुप्रभात।\n", encoding="utf-8")
    scored = run_cli("evaluate", folder, "--to", "hi", "--src", str(tmp_path / "src.en"), "--ref", str(tmp_path / "ref.hi"))
    assert scored.exit_code == 0, scored.output
    picture = run_cli("attention", str(hf_models.imported("nllb")), "Where is the station?", "--to", "hi",
                      "-o", str(tmp_path / "a.png"))
    assert picture.exit_code == 0, picture.output


@pytest.mark.parametrize("kind", ["marian", "nllb"])
def test_ctranslate2_export_of_an_imported_model(hf_models, kind, tmp_path):
    from translate_cli.core.ct2.export import export
    from translate_cli.core.ct2.runtime import load_ct2

    loaded = load_model(hf_models.imported(kind))
    exported = load_ct2(export(loaded, tmp_path / "ct2"))
    native, ct2 = Translator(loaded, "hi"), Translator(exported, "hi")
    sources = [native.encode(line)[0] for line in SENTENCES]
    for beams in (1, 4):
        options = DecodeOptions(beam_size=beams, max_len_a=0, max_len_b=LIMIT, length_penalty=1.0, length_norm="power")
        pairs = [(x[0].tokens, y[0].tokens) for x, y in zip(native.search(sources, options), ct2.search(sources, options))]
        different = [(x, y) for x, y in pairs if x != y]
        if beams == 1:  # the bar tcli's own models meet (tests/test_cli_e2e.py): greedy outputs agree
            assert not different, f"greedy: {len(different)} of {len(pairs)} differ"
            continue
        # Beam outputs differ only where a hypothesis reaches the length limit: there the native search ends it
        # with Hugging Face's free forced end-of-sentence, which CTranslate2 does not have.
        assert len(different) <= 0.05 * len(pairs), f"beam {beams}: {len(different)} of {len(pairs)} differ"
        assert all(LIMIT in (len(x), len(y)) for x, y in different), different
    a, b = native.translate(SENTENCES, options), ct2.translate(SENTENCES, options)
    assert sum(x.text == y.text for x, y in zip(a, b)) >= 0.95 * len(SENTENCES)
    made = run_cli("export", str(hf_models.imported(kind)), "-o", str(tmp_path / "int8"), "--quantization", "int8")
    assert made.exit_code == 0, made.output
    result = run_cli("translate", str(tmp_path / "int8"), "--backend", "ctranslate2", "--to", "hi",
                     stdin="Where is the station?\n\nGood morning.\n")
    assert result.exit_code == 0 and len(result.stdout.split("\n")[:-1]) == 3
