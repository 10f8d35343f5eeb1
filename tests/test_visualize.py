"""Pictures: training curves and attention maps are real PNGs of the expected size; the weights drawn
are the model's own (rows sum to 1, the causal mask leaves the upper triangle empty)."""

import json
import sys

import matplotlib.image as matplotlib_image  # the viz extra is part of .[dev]
import numpy as np
import pytest
import torch
from conftest import run_cli, tiny_model

from translate_cli.core.model import _merge_heads, _split_heads, decoder_attention
from translate_cli.core.tokenizer import BOS_ID, EOS_ID, PAD_ID
from translate_cli.errors import TcliError


def png(path) -> np.ndarray:
    return matplotlib_image.imread(str(path))


def not_blank(pixels: np.ndarray) -> bool:
    return float(pixels[..., :3].std()) > 0.05


def fake_run(folder, offset: float) -> None:
    folder.mkdir()
    lines = []
    for step in range(10, 101, 10):
        lines.append({"type": "train", "step": step, "loss": 8 - step / 20 + offset, "lr": 1e-3 * min(1, step / 30)})
        if step % 30 == 0:
            lines.append({"type": "dev", "step": step, "dev_loss": 7 - step / 25, "bleu": step / 5 + offset,
                          "chrf": step / 3, **({"chrfpp": step / 4} if offset else {})})  # older logs lack chrF++
    lines.insert(5, {"type": "resume", "step": 30})
    (folder / "log.jsonl").write_text("\n".join(json.dumps(e) for e in lines) + "\n")


def test_plot_overlays_runs(tmp_path):
    fake_run(tmp_path / "run-a", 0.0)
    fake_run(tmp_path / "run-b", 1.0)
    result = run_cli("plot", str(tmp_path / "run-a"), str(tmp_path / "run-b"), "-o", str(tmp_path / "c.png"),
                     "--label", "हिन्दी run", "--label", "日本語 run")
    assert result.exit_code == 0, result.output
    pixels = png(tmp_path / "c.png")
    assert pixels.shape[:2] == (800, 1200) and not_blank(pixels)
    missing = run_cli("plot", str(tmp_path / "nowhere"), "-o", str(tmp_path / "d.png"))
    assert missing.exit_code == 2 and "log.jsonl: not found" in missing.stderr


def test_attention_pictures(single_model_dir, tmp_path):
    for flag in ([], ["--self"]):
        out = tmp_path / f"a{len(flag)}.png"
        result = run_cli("attention", str(single_model_dir), "The model translates one sentence.", "-o", str(out),
                         "--layer", "0", *flag)
        assert result.exit_code == 0, result.output
        pixels = png(out)
        assert pixels.shape[0] >= 300 and pixels.shape[1] >= 400 and not_blank(pixels)
    bad_layer = run_cli("attention", str(single_model_dir), "Hello.", "--layer", "7", "-o", str(tmp_path / "x.png"))
    assert bad_layer.exit_code == 2 and "decoder layers" in bad_layer.stderr


def test_weights_are_the_models_own():
    model = tiny_model()
    source = torch.tensor([[5, 9, 13, 7, EOS_ID, PAD_ID]])
    target_in = torch.tensor([[BOS_ID, 8, 22, 31, 4]])
    cross = decoder_attention(model, source, target_in, layer=-1, kind="cross")[0]
    self_weights = decoder_attention(model, source, target_in, layer=0, kind="self")[0]
    assert torch.allclose(cross.sum(-1), torch.ones(cross.shape[:2]), atol=1e-6)
    assert torch.all(cross[..., -1] == 0)  # the padded source position gets no attention
    assert torch.all(torch.triu(self_weights, diagonal=1) == 0)  # the causal mask: nothing from the future
    assert torch.allclose(self_weights.sum(-1), torch.ones(self_weights.shape[:2]), atol=1e-6)
    # Weighted values through the output projection reproduce the layer's own self-attention output.
    block = model.decoder_layers[0]
    with torch.no_grad():
        hidden = block.self_norm(model._embed(target_in))
        _, _, value = block.self_attention.qkv(hidden).chunk(3, dim=-1)
        rebuilt = block.self_attention.out(_merge_heads(self_weights.unsqueeze(0) @ _split_heads(value, 4)))
        actual = block.self_attention(hidden, causal=True)
    assert torch.allclose(rebuilt, actual, atol=1e-5)


def test_missing_fonts_fail_clearly(monkeypatch):
    from matplotlib import font_manager

    from translate_cli.core.pictures import fonts

    latin_only = [f for f in font_manager.fontManager.ttflist if f.name == "DejaVu Sans"]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", latin_only)
    with pytest.raises(TcliError, match="no installed font can draw .*DEVANAGARI.*apt install"):
        fonts.choose_fonts("नमस्ते world")
    assert fonts.choose_fonts("hello") == ["DejaVu Sans"]


def test_without_matplotlib_the_commands_say_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    fake_run(tmp_path / "run", 0.0)
    result = run_cli("plot", str(tmp_path / "run"), "-o", str(tmp_path / "c.png"))
    assert result.exit_code == 2 and 'pip install -e ".[viz]"' in result.stderr


def test_tensorboard_logging(tiny_project):
    import subprocess

    done = subprocess.run([sys.executable, "-m", "translate_cli", "train", "c.yaml", "train.max_steps=10",
                           "train.tensorboard=true"], cwd=tiny_project, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    events = list((tiny_project / "runs/tiny/tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 100
