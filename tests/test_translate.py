"""translate as a filter: one line out per line in, target language choice, errors."""

from conftest import run_cli


def test_multi_target_model_needs_to_and_lists_its_languages(multi_model_dir):
    result = run_cli("translate", str(multi_model_dir), stdin="hello\n")
    assert result.exit_code == 2
    assert "choose one with --to" in result.stderr and "hi, ja" in result.stderr
    unknown = run_cli("translate", str(multi_model_dir), "--to", "fr", stdin="hello\n")
    assert unknown.exit_code == 2
    assert "not trained to translate into 'fr'" in unknown.stderr and "hi, ja" in unknown.stderr
    assert "Traceback" not in unknown.output


def test_single_target_model_needs_no_to(single_model_dir):
    result = run_cli("translate", str(single_model_dir), "-b", "1", stdin="one\n\ntwo\n")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.split("\n")[:-1]) == 3
    assert result.stdout.split("\n")[1] == ""


def test_language_tag_starts_every_source(multi_model_dir, single_model_dir):
    from translate_cli.core.checkpoint import load_model
    from translate_cli.core.tokenizer import lang_tag
    from translate_cli.core.translator import Translator

    loaded = load_model(multi_model_dir)
    inputs = {lang: Translator(loaded, lang).encode("Where is the station?") for lang in ("hi", "ja")}
    for lang, pieces in inputs.items():
        assert pieces[0][0] == loaded.tokenizer.token_id(lang_tag(lang)) > 3
    assert inputs["hi"][0][1:] == inputs["ja"][0][1:]
    single = load_model(single_model_dir)
    assert Translator(single).encode("Where is the station?")[0] == single.tokenizer.encode("Where is the station?")


def test_nbest_tsv_and_jsonl(multi_model_dir, tmp_path):
    import json

    result = run_cli("translate", str(multi_model_dir), "--to", "ja", "-b", "3", "--nbest", "3", stdin="a\nb c\n")
    rows = [line.split("\t") for line in result.stdout.split("\n")[:-1]]
    assert [(r[0], r[1]) for r in rows] == [("1", "1"), ("1", "2"), ("1", "3"), ("2", "1"), ("2", "2"), ("2", "3")]
    scores = [float(r[2]) for r in rows[:3]]
    assert scores == sorted(scores, reverse=True)
    result = run_cli("translate", str(multi_model_dir), "--to", "ja", "-b", "3", "--nbest", "2",
                     "--nbest-format", "jsonl", stdin="a\n")
    record = json.loads(result.stdout)
    assert record["line"] == 1 and len(record["nbest"]) == 2
    too_many = run_cli("translate", str(multi_model_dir), "--to", "ja", "-b", "2", "--nbest", "3", stdin="a\n")
    assert too_many.exit_code == 2 and "--beam-size 3" in too_many.stderr


def test_int8_quantization_replaces_linear_layers(single_model_dir):
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear

    from translate_cli.core.checkpoint import load_model
    from translate_cli.core.native import quantize_int8

    model = quantize_int8(load_model(single_model_dir).model)
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert sum(isinstance(m, DynamicQuantizedLinear) for m in model.modules()) > 10
    assert isinstance(model.output_projection, DynamicQuantizedLinear)
