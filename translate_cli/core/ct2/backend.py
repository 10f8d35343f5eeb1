"""Which backend translates a model directory, and loading it: the native PyTorch model (core/native.py)
or its CTranslate2 export (core/ct2/runtime.py). The one place that decides; steps print its note.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from translate_cli.core.checkpoint import MODEL_JSON, LoadedModel
from translate_cli.core.ct2.runtime import is_ct2_export, load_ct2
from translate_cli.errors import TcliError

EXPORT_SUBDIR = "ctranslate2"  # where `tcli export MODEL_DIR` (no -o) writes, and where --backend auto looks


@dataclass(frozen=True)
class BackendChoice:
    backend: str  # "native" or "ctranslate2"
    folder: Path  # what to load: the model directory, or its CTranslate2 export
    note: str | None = None  # why auto did not take an export it saw (for the step to print)


def choose_backend(model_dir: Path, backend: str, quantize: str = "none") -> BackendChoice:
    """Resolve --backend: "auto" takes a CTranslate2 export if MODEL_DIR is one, or holds one in EXPORT_SUBDIR
    made from these very weights (its copy of model.json, which records the weights' sha256, is identical),
    else the native backend; --quantize int8 asks for the native backend's quantization, so auto takes native
    then. "ctranslate2" also finds the export inside MODEL_DIR, but refuses one made from other weights."""
    model_dir = Path(model_dir)
    inner = model_dir / EXPORT_SUBDIR
    if backend == "native" or (backend == "auto" and quantize != "none"):
        return BackendChoice("native", model_dir)
    if is_ct2_export(model_dir) or not is_ct2_export(inner):
        return BackendChoice("ctranslate2" if backend == "ctranslate2" or is_ct2_export(model_dir) else "native",
                             model_dir)
    try:
        fresh = (inner / MODEL_JSON).read_bytes() == (model_dir / MODEL_JSON).read_bytes()
    except OSError:
        fresh = False
    stale = f"{inner} was exported from other weights than {model_dir}'s"
    if backend == "ctranslate2":
        if not fresh:
            raise TcliError(f"{stale}; export again: tcli export {model_dir}")
        return BackendChoice("ctranslate2", inner)
    if not fresh:
        return BackendChoice("native", model_dir, f"{stale}; using the native backend (export again: "
                             f"tcli export {model_dir})")
    if importlib.util.find_spec("ctranslate2") is None:
        return BackendChoice("native", model_dir, f"{inner} needs CTranslate2, which is not installed; using the "
                             "native backend (pip install -e \".[ct2]\" for the fast path)")
    return BackendChoice("ctranslate2", inner)


def load_for_translation(choice: BackendChoice, quantize: str = "none", threads: int | None = None) -> LoadedModel:
    """The chosen backend's model, ready to translate. torch is imported only for the native backend."""
    if choice.backend == "ctranslate2":
        if quantize != "none":
            raise TcliError("--quantize applies to the native backend; quantize a CTranslate2 model when "
                            "exporting it (tcli export ... --quantization int8)")
        return load_ct2(choice.folder, threads)
    from translate_cli.core.native import load_native

    return load_native(choice.folder, quantize, threads)
