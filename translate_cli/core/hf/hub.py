"""Fetching a model folder from the Hugging Face hub (huggingface_hub: its cache, its progress bars).

Only what an import needs is downloaded: config, generation config, tokenizer files, and one weights format
(safetensors when the repository has it, else PyTorch .bin). HF_HUB_OFFLINE=1 uses the cache alone;
HF_ENDPOINT points at another hub (a mirror).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from translate_cli.errors import TcliError, reason

FILES = ["config.json", "generation_config.json", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json",
         "vocab.json", "target_vocab.json", "*.spm", "sentencepiece.bpe.model"]
WEIGHT_FORMATS = (["model.safetensors", "model.safetensors.index.json", "model-*.safetensors"],
                  ["pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*.bin"])
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def looks_like_hub_id(source: str) -> bool:
    """`owner/name` (or `name`) that is not an existing path."""
    return not Path(source).exists() and bool(HUB_ID.match(source)) and not source.endswith((".json", ".bin"))


def has_weights(folder: Path) -> bool:
    return any((folder / name).is_file() for patterns in WEIGHT_FORMATS for name in patterns if "*" not in name)


def download(repo_id: str, revision: str | None = None) -> Path:
    """The local folder of `repo_id` at `revision` (from the cache, or downloaded into it)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise TcliError(f"{repo_id}: fetching from the Hugging Face hub needs huggingface_hub (pip install "
                        f"huggingface_hub); or pass a local model folder instead") from None
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    folder = None
    try:
        for weights in WEIGHT_FORMATS:  # safetensors first; .bin only when the repository has no safetensors
            folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=FILES + weights,
                                            local_files_only=offline))
            if has_weights(folder):
                return folder
    except Exception as exc:  # network, authentication, unknown repository, not cached while offline...
        where = "is not in the local hub cache and HF_HUB_OFFLINE is set" if offline else \
            f"cannot be fetched from the Hugging Face hub ({type(exc).__name__}: {reason(exc)})"
        raise TcliError(f"{repo_id}: not a local folder, and {where}; without network access, download the model "
                        f"folder elsewhere and pass that local folder instead") from None
    return folder
