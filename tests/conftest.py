"""Shared fixtures: tiny models, the real corpora in ../shared/data, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from translate_cli.core.architecture import ModelConfig
from translate_cli.core.model import Seq2SeqTransformer

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TCLI_SHARED_DATA", REPO.parent / "shared" / "data"))


def tiny_model(vocab_size: int = 40, seed: int = 0, **overrides) -> Seq2SeqTransformer:
    torch.manual_seed(seed)
    settings = dict(vocab_size=vocab_size, d_model=32, heads=4, encoder_layers=2, decoder_layers=2, ff_dim=64,
                    dropout=0.0)
    settings.update(overrides)
    return Seq2SeqTransformer(ModelConfig(**settings)).eval()


def translate_stream(translator, lines, sink, options, chunk_lines: int = 2000):
    """`tcli translate` on a file, in the library: lines in batches of chunk_lines, each batch's outputs
    written to `sink` at once; returns the translation counts."""
    from translate_cli.core.documents.lines import LineTranslation, write_stream
    from translate_cli.core.documents.stream import batched

    job = LineTranslation(translator, options)
    write_stream(job.outputs(batched(lines, chunk_lines)), sink)
    return job.stats


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "en-ja" / "tanaka50k" / "train.en").is_file():
        pytest.fail(f"real corpora not found at {SHARED_DATA}; set TCLI_SHARED_DATA")
    return SHARED_DATA


def build_model_dir(folder: Path, target_langs: list[str], seed: int = 0) -> Path:
    """An untrained but complete model directory (SentencePiece on the sample corpus, random weights)."""
    from translate_cli.core.checkpoint import ModelInfo, save_model
    from translate_cli.core.decoding import DecodeOptions
    from translate_cli.core.text import Normalization
    from translate_cli.core.tokenizer import SentencePieceTokenizer, VocabSettings, lang_tag, train_sentencepiece

    sample = REPO / "data" / "sample"
    sentences = [line for lang in ["en", *target_langs] if (sample / f"train.{lang}").is_file()
                 for line in (sample / f"train.{lang}").read_text(encoding="utf-8").splitlines()]
    folder.mkdir(parents=True, exist_ok=True)
    spm_path = folder / "source.spm"
    symbols = [lang_tag(lang) for lang in target_langs] if len(target_langs) > 1 else []
    train_sentencepiece(sentences, spm_path, VocabSettings(size=2000, max_sentences=100000), symbols)
    vocab = SentencePieceTokenizer(spm_path).vocab_size
    model = tiny_model(vocab_size=vocab, seed=seed)
    model.config.max_source_tokens = 64
    info = ModelInfo(model=model.config, source_lang="en", target_langs=target_langs,
                     normalize={lang: Normalization() for lang in ["en", *target_langs]},
                     decode=DecodeOptions(beam_size=2, max_len_a=1.0, max_len_b=5))
    save_model(folder / "model", info, model, spm_path)
    return folder / "model"


@pytest.fixture(scope="session")
def multi_model_dir(tmp_path_factory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("multi"), ["hi", "ja"])


@pytest.fixture(scope="session")
def single_model_dir(tmp_path_factory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("single"), ["ja"])


def run_tcli(*args: str, cwd: Path, stdin: str | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `python -m translate_cli ARGS` in its own process (signals, exit codes, torch state of its own)."""
    return subprocess.run([sys.executable, "-m", "translate_cli", *args], cwd=cwd, input=stdin, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="session")
def tcli():
    """`tcli(*args, cwd=folder, stdin=None)`: the CLI in a subprocess (see run_tcli)."""
    return run_tcli


def one_line_error(result, *fragments: str) -> str:
    """A bad-input result: exit code 2 and exactly one line on stderr holding every fragment."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def run_cli(*args: str, stdin: str | None = None):
    """Run tcli in-process; returns typer's Result (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from translate_cli.cli import app

    return CliRunner().invoke(app, list(args), input=stdin)


TINY_CONFIG = """\
# tiny test config: tcli prepare c.yaml; tcli train c.yaml
name: tiny
target_langs: [ja]
data_root: {data_root}
data:
  train: [{{prefix: train}}]
  dev: [{{prefix: dev}}]
normalize:
  ja: {{unicode_form: NFC}}
clean: {{max_length_ratio: 6.0}}
vocab: {{size: 1600, character_coverage: 0.999}}
model: {{d_model: 32, heads: 2, encoder_layers: 1, decoder_layers: 1, ff_dim: 64, dropout: 0.1}}
train: {{max_steps: 40, batch_tokens: 400, lr: 0.002, warmup_steps: 10, threads: 1, log_every: 5,
        eval_every: 10, eval_sentences: 5, best_metric: loss}}
decode: {{beam_size: 2, max_len_b: 5, max_len_a: 0.5}}
"""


@pytest.fixture
def tiny_project(tmp_path) -> Path:
    """A folder with c.yaml (a tiny en→ja config on the sample corpus), already prepared."""
    from translate_cli import config
    from translate_cli.steps import prepare

    (tmp_path / "c.yaml").write_text(TINY_CONFIG.format(data_root=REPO / "data" / "sample"), encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        prepare.run(config.load("c.yaml"))
    finally:
        os.chdir(cwd)
    return tmp_path


# Adam steps on data/sample: after 600 the Marian, M2M100 and NLLB fixtures' outputs depend on the input and
# mostly end before the test's limit (after 150 they never ended; random weights rarely do).
HF_TRAIN_STEPS = 600


class HfModels:
    """Tiny Hugging Face models built offline by scripts/make_hf_model.py (marian, marian-mul, m2m100, nllb),
    each built and imported into tcli once per test session."""

    def __init__(self, root: Path):
        self.root = root
        self.folders: dict[str, Path] = {}
        self.imports: dict[str, Path] = {}

    def folder(self, kind: str) -> Path:
        if kind not in self.folders:
            sys.path.insert(0, str(REPO / "scripts"))
            import make_hf_model

            self.folders[kind] = make_hf_model.build(kind, self.root / "hf" / kind, train_steps=HF_TRAIN_STEPS)
        return self.folders[kind]

    def imported(self, kind: str) -> Path:
        if kind not in self.imports:
            from translate_cli.core.hf.importer import import_folder

            self.imports[kind] = import_folder(self.folder(kind), self.root / "tcli" / kind).folder
        return self.imports[kind]


@pytest.fixture(scope="session")
def hf_models(tmp_path_factory) -> HfModels:
    return HfModels(tmp_path_factory.mktemp("hf_models"))


E2E_SLICE = {"train": 6000, "dev": 100, "test": 200}
E2E_CONFIG = """\
# e2e test config: tcli prepare c.yaml; tcli train c.yaml
name: e2e
target_langs: [ja]
data_root: data
data:
  train: [{prefix: tanaka/train}]
  dev: [{prefix: tanaka/dev}]
  test: [{prefix: tanaka/test}]
normalize:
  en: {lowercase: true}
  ja: {unicode_form: NFC}
clean: {max_length_ratio: 6.0}
vocab: {size: 2000, character_coverage: 0.995}
model: {d_model: 128, heads: 4, encoder_layers: 2, decoder_layers: 2, ff_dim: 256, dropout: 0.1}
train: {max_steps: 700, batch_tokens: 1500, lr: 0.002, warmup_steps: 100, threads: 2, log_every: 50,
        eval_every: 350, eval_sentences: 50, keep_checkpoints: 10, checkpoint_every: 100}
decode: {beam_size: 3, length_penalty: 0.6}
"""


def make_e2e_slice(shared_data: Path, root: Path) -> None:
    folder = root / "tanaka"
    folder.mkdir(parents=True)
    for split, count in E2E_SLICE.items():
        for lang in ("en", "ja"):
            lines = (shared_data / "en-ja" / "tanaka50k" / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
            (folder / f"{split}.{lang}").write_text("\n".join(lines[:count]) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def e2e_project(tmp_path_factory, shared_data) -> Path:
    """A folder with c.yaml and runs/e2e: a small en→ja model trained through the CLI on a tanaka50k slice
    (once per session; test_cli_e2e and test_evaluate share it). Kept checkpoints every 100 steps."""
    root = tmp_path_factory.mktemp("e2e")
    make_e2e_slice(shared_data, root / "data")
    (root / "c.yaml").write_text(E2E_CONFIG, encoding="utf-8")
    prepared = run_tcli("prepare", "c.yaml", cwd=root)
    assert prepared.returncode == 0, prepared.stderr
    assert "6,000" in prepared.stdout  # the cleaning table accounts for every training pair read
    again = run_tcli("prepare", "c.yaml", cwd=root)
    assert again.returncode == 0 and "reusing" in again.stderr
    result = run_tcli("train", "c.yaml", cwd=root)
    assert result.returncode == 0, result.stderr
    return root
