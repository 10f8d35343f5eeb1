"""Shared fixtures: tiny models, the real corpora in ../shared/data, a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from translate_cli.core.model import ModelConfig, Seq2SeqTransformer

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TCLI_SHARED_DATA", REPO.parent / "shared" / "data"))


def tiny_model(vocab_size: int = 40, seed: int = 0, **overrides) -> Seq2SeqTransformer:
    torch.manual_seed(seed)
    settings = dict(vocab_size=vocab_size, d_model=32, heads=4, encoder_layers=2, decoder_layers=2, ff_dim=64,
                    dropout=0.0)
    settings.update(overrides)
    return Seq2SeqTransformer(ModelConfig(**settings)).eval()


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "en-ja" / "tanaka50k" / "train.en").is_file():
        pytest.fail(f"real corpora not found at {SHARED_DATA}; set TCLI_SHARED_DATA")
    return SHARED_DATA
