"""tcli plot (training curves of one or more runs) and tcli attention (attention maps) as PNG files."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from translate_cli import console
from translate_cli.core.attention_maps import decoder_attention
from translate_cli.core.checkpoint import load_model
from translate_cli.core.data import pad_sequences
from translate_cli.core.tokenizer import BOS_ID, EOS_ID
from translate_cli.core.translator import DecodeOptions, Translator
from translate_cli.errors import DataError, TcliError
from translate_cli.steps.fonts import _import_matplotlib, choose_fonts

PANELS = (("loss", "loss per target token (train: label-smoothed)"), ("bleu", "dev BLEU"), ("chrf", "dev chrF"), ("lr", "learning rate"))


def read_log(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """(train entries, dev entries) of a run; a step logged twice (before a crash and after resume) keeps
    its latest entry."""
    path = Path(run_dir) / "log.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: not found; give a run directory written by `tcli train` (e.g. runs/en-ja)")
    entries: dict[tuple[str, int], dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise DataError(f"{path}:{number}: not a JSON line; the log is damaged") from None
        if entry.get("type") in ("train", "dev"):
            entries[(entry["type"], entry["step"])] = entry
    ordered = sorted(entries.values(), key=lambda e: e["step"])
    return [e for e in ordered if e["type"] == "train"], [e for e in ordered if e["type"] == "dev"]


def plot_runs(run_dirs: list[Path], output: Path, labels: list[str] | None = None) -> Path:
    pyplot, _, _ = _import_matplotlib()
    labels = labels or [Path(r).name for r in run_dirs]
    pyplot.rcParams["font.family"] = choose_fonts("".join(labels))
    figure, axes = pyplot.subplots(2, 2, figsize=(12, 8), dpi=100)
    for run_dir, label in zip(run_dirs, labels):
        train, dev = read_log(run_dir)
        line = axes[0, 0].plot([e["step"] for e in train], [e["loss"] for e in train], label=f"{label} train")[0]
        axes[0, 0].plot([e["step"] for e in dev if "dev_loss" in e], [e["dev_loss"] for e in dev if "dev_loss" in e],
                        "--o", color=line.get_color(), markersize=3, label=f"{label} dev")
        for axis, key in ((axes[0, 1], "bleu"), (axes[1, 0], "chrf")):
            points = [(e["step"], e[key]) for e in dev if key in e]
            axis.plot([p[0] for p in points], [p[1] for p in points], "-o", markersize=3, color=line.get_color(),
                      label=label)
        axes[1, 1].plot([e["step"] for e in train], [e["lr"] for e in train], color=line.get_color(), label=label)
    for axis, (_, title) in zip(axes.flat, PANELS):
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, output, pyplot)


def _save(figure, output: Path, pyplot) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    pyplot.close(figure)
    console.info(f"wrote {output}")
    return output


def attention_map(model_dir: Path, sentence: str, output: Path, lang: str | None = None, layer: int = -1,
                  self_attention: bool = False, fonts: list[Path] = ()) -> tuple[Path, torch.Tensor]:
    """Translate `sentence` greedily and draw one decoder layer's head-averaged attention."""
    pyplot, _, _ = _import_matplotlib()
    loaded = load_model(model_dir)
    layers = loaded.info.model.decoder_layers
    if not -layers <= layer < layers:
        raise TcliError(f"--layer {layer}: the model has {layers} decoder layers (0..{layers - 1}, or -1 for the last)")
    translator = Translator(loaded, lang)
    pieces = translator.encode(sentence)
    if len(pieces) != 1:
        raise TcliError("give one non-empty sentence that fits the model (at most "
                        f"{loaded.info.max_source_tokens} tokens)")
    output_ids = translator.search(pieces, DecodeOptions(beam_size=1))[0][0].tokens
    source = pad_sequences([pieces[0]], suffix=EOS_ID)
    target_in = torch.tensor([[BOS_ID] + output_ids])
    weights = decoder_attention(loaded.model, source, target_in, layer, "self" if self_attention else "cross").mean(0)
    tokenizer = loaded.tokenizer
    rows = tokenizer.pieces(output_ids) + ["</s>"]
    columns = (["<s>"] + tokenizer.pieces(output_ids)) if self_attention else tokenizer.pieces(pieces[0]) + ["</s>"]
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
