"""Pictures as PNG files: training curves of runs, and a decoder layer's attention over one sentence.

scaled_dot_product_attention never materialises its weights, so for pictures they are recomputed from
the layer's own projections, in a teacher-forced pass over a finished translation (which gives exactly
the weights the incremental decode used, see tests/test_model.py)."""

from __future__ import annotations

from pathlib import Path

import torch

from translate_cli.core.checkpoint import LoadedModel
from translate_cli.core.data import pad_sequences
from translate_cli.core.decoding import DecodeOptions
from translate_cli.core.model import decoder_attention
from translate_cli.core.pictures.fonts import choose_fonts, import_matplotlib
from translate_cli.core.train.run_dir import read_log
from translate_cli.core.translator import Translator
from translate_cli.errors import TcliError

PANELS = (("loss", "loss per target token (train: label-smoothed)"), ("bleu", "dev BLEU"),
          ("chrf", "dev chrF (dashed: chrF++)"),
          ("lr", "learning rate"))


def plot_runs(run_dirs: list[Path], output: Path, labels: list[str] | None = None) -> Path:
    """Training and dev loss, dev BLEU, chrF and chrF++, and learning rate against step, one colour per run."""
    pyplot, _, _ = import_matplotlib()
    labels = labels or [Path(r).name for r in run_dirs]
    logs = [read_log(run_dir) for run_dir in run_dirs]
    pyplot.rcParams["font.family"] = choose_fonts("".join(labels))
    figure, axes = pyplot.subplots(2, 2, figsize=(12, 8), dpi=100)
    for (train, dev), label in zip(logs, labels):
        line = axes[0, 0].plot([e["step"] for e in train], [e["loss"] for e in train], label=f"{label} train")[0]
        axes[0, 0].plot([e["step"] for e in dev if "dev_loss" in e], [e["dev_loss"] for e in dev if "dev_loss" in e],
                        "--o", color=line.get_color(), markersize=3, label=f"{label} dev")
        for axis, key, style, name in ((axes[0, 1], "bleu", "-o", label), (axes[1, 0], "chrf", "-o", label),
                                       (axes[1, 0], "chrfpp", "--s", f"{label} chrF++")):
            points = [(e["step"], e[key]) for e in dev if key in e]  # logs before chrF++ have no chrfpp
            if points or key != "chrfpp":
                axis.plot([p[0] for p in points], [p[1] for p in points], style, markersize=3,
                          color=line.get_color(), label=name)
        axes[1, 1].plot([e["step"] for e in train], [e["lr"] for e in train], color=line.get_color(), label=label)
    for axis, (_, title) in zip(axes.flat, PANELS):
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, output, pyplot)


def attention_map(loaded: LoadedModel, sentence: str, output: Path, lang: str | None = None, layer: int = -1,
                  self_attention: bool = False, fonts: list[Path] = ()) -> tuple[Path, torch.Tensor]:
    """Translate `sentence` greedily and draw one decoder layer's head-averaged attention."""
    pyplot, _, _ = import_matplotlib()
    layers = loaded.info.model.decoder_layers
    if not -layers <= layer < layers:
        raise TcliError(f"--layer {layer}: the model has {layers} decoder layers (0..{layers - 1}, or -1 for the last)")
    translator = Translator(loaded, lang)
    pieces = translator.encode(sentence)
    if len(pieces) != 1:
        raise TcliError("give one non-empty sentence that fits the model (at most "
                        f"{loaded.info.model.max_source_tokens} tokens)")
    config, tokenizer = loaded.info.model, loaded.tokenizer
    # A forced first target token (NLLB's language code) is part of what the decoder read and wrote.
    output_ids = translator.target_prefix + translator.search(pieces, DecodeOptions(beam_size=1))[0][0].tokens
    source = pad_sequences([pieces[0]], suffix=config.eos_id, pad=config.pad_id)
    target_in = torch.tensor([[config.bos_id] + output_ids])
    weights = decoder_attention(loaded.model, source, target_in, layer, "self" if self_attention else "cross")[0].mean(0)
    start, end = tokenizer.pieces([config.bos_id, config.eos_id])
    rows = tokenizer.pieces(output_ids) + [end]
    columns = ([start] + tokenizer.pieces(output_ids)) if self_attention else tokenizer.pieces(pieces[0]) + [end]
    pyplot.rcParams["font.family"] = choose_fonts("".join(rows + columns), list(fonts))
    figure = _heatmap(pyplot, weights.numpy(), rows, columns, layer % layers, self_attention, sentence)
    return _save(figure, output, pyplot), weights


def _heatmap(pyplot, weights, rows: list[str], columns: list[str], layer: int, self_attention: bool, sentence: str):
    width = max(4.0, 0.45 * len(columns) + 2.5)
    height = max(3.0, 0.4 * len(rows) + 2.0)
    figure, axis = pyplot.subplots(figsize=(width, height), dpi=100)
    image = axis.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axis.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=9)
    axis.set_yticks(range(len(rows)), rows, fontsize=9)
    axis.set_xlabel("decoder input (earlier output)" if self_attention else "source subwords")
    axis.set_ylabel("generated subword")
    kind = "masked self-attention" if self_attention else "cross-attention"
    axis.set_title(f"decoder layer {layer} {kind}, mean over heads\n{sentence[:80]}", fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.04)
    figure.tight_layout()
    return figure


def _save(figure, output: Path, pyplot) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    pyplot.close(figure)
    return output
