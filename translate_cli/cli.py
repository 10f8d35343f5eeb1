"""The tcli command line: one function per subcommand, each a thin layer over a step.

Heavy imports (torch) happen inside the command bodies so `tcli --help` stays instant. Every TcliError
becomes one red line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Callable, List, Optional

import typer

from translate_cli import console
from translate_cli.errors import TcliError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train and run English→Hindi/Japanese neural machine translation.")

EXIT_USER_ERROR, EXIT_BELOW_THRESHOLD, EXIT_INTERRUPTED = 2, 1, 130


class BadUtf8(str, Enum):
    error = "error"
    replace = "replace"


class Backend(str, Enum):
    native = "native"
    ctranslate2 = "ctranslate2"


class ExportFormat(str, Enum):
    ctranslate2 = "ctranslate2"


class Quantization(str, Enum):
    none = "none"
    int8 = "int8"


class NbestFormat(str, Enum):
    tsv = "tsv"
    jsonl = "jsonl"


def user_errors(command: Callable) -> Callable:
    """Run a command; a TcliError becomes one line and exit code 2 (130 for an interrupted training)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TcliError as exc:
            console.error_line(str(exc))
            code = EXIT_INTERRUPTED if type(exc).__name__ == "Interrupted" else EXIT_USER_ERROR
            raise typer.Exit(code) from None
        except KeyboardInterrupt:
            console.error_line("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:  # e.g. `tcli translate ... | head`: the reader left; not an error of ours
            # Point stdout at /dev/null so the interpreter's final flush does not fail (exit status 120).
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except OSError as exc:  # disk full, permission denied, a folder where a file was expected...
            where = f"{exc.filename}: " if exc.filename else ""
            console.error_line(f"{where}{exc.strerror or exc}; check the path, its permissions and free space")
            raise typer.Exit(EXIT_USER_ERROR) from None

    return wrapper


ConfigArg = typer.Argument(..., help="YAML experiment config, e.g. configs/en-ja.yaml")
OverridesArg = typer.Argument(None, help="key=value overrides, e.g. train.max_steps=2000 data_root=../shared/data")


@app.command()
@user_errors
def prepare(config: Path = ConfigArg, overrides: Optional[List[str]] = OverridesArg,
            on_bad_utf8: BadUtf8 = typer.Option(BadUtf8.error, help="error: stop at invalid UTF-8; replace: "
                                                "replace bad bytes with U+FFFD and count them"),
            force: bool = typer.Option(False, help="redo even when inputs and settings are unchanged")) -> None:
    """Normalise and clean corpora, train SentencePiece, binarise."""
    from translate_cli import config as config_module
    from translate_cli.steps import prepare as step

    step.run(config_module.load(config, overrides or []), on_bad_utf8=on_bad_utf8.value, force=force)


@app.command()
@user_errors
def train(config: Path = ConfigArg, overrides: Optional[List[str]] = OverridesArg,
          resume: bool = typer.Option(False, "--resume", help="continue from the run's `last` checkpoint"),
          overwrite: bool = typer.Option(False, "--overwrite", help="start over, replacing an earlier run's "
                                         "checkpoints and log in the same work_dir")) -> None:
    """Train a model on prepared data (run `tcli prepare` first)."""
    from translate_cli import config as config_module
    from translate_cli.steps import train as step

    if resume and overwrite:
        raise TcliError("--resume continues a run and --overwrite replaces it; choose one")
    step.run(config_module.load(config, overrides or []), resume=resume, overwrite=overwrite)


def _decode_options(model_dir: Optional[Path], beam_size: Optional[int], length_penalty: Optional[float],
                    max_len_a: Optional[float], max_len_b: Optional[int], batch_tokens: Optional[int], nbest: int = 1):
    """Command-line options over the model's own decode defaults (from its training config)."""
    from translate_cli.core.checkpoint import read_info
    from translate_cli.core.translator import DecodeOptions

    defaults = dict(read_info(model_dir).decode) if model_dir is not None else {}
    known = DecodeOptions.__dataclass_fields__
    options = DecodeOptions(**{k: v for k, v in defaults.items() if k in known})
    for name, value in (("beam_size", beam_size), ("length_penalty", length_penalty), ("max_len_a", max_len_a),
                        ("max_len_b", max_len_b), ("batch_tokens", batch_tokens)):
        if value is not None:
            setattr(options, name, value)
    options.nbest = nbest
    if nbest > options.beam_size:
        raise TcliError(f"--nbest {nbest} needs a beam at least as wide; add --beam-size {nbest}")
    return options


def _set_threads(threads: Optional[int]) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


BeamOpt = typer.Option(None, "--beam-size", "-b", min=1, help="1 = greedy; default from the model's config")
PenaltyOpt = typer.Option(None, "--length-penalty", min=0.0, help="GNMT length penalty alpha for beam search")
MaxLenAOpt = typer.Option(None, "--max-len-a", min=0.0, help="output limit: a * source tokens + b")
MaxLenBOpt = typer.Option(None, "--max-len-b", min=1, help="output limit: a * source tokens + b")
BatchOpt = typer.Option(None, "--batch-tokens", min=16, help="source tokens x beams per batch")
ThreadsOpt = typer.Option(None, "--threads", min=1, help="CPU threads for PyTorch")
ToOpt = typer.Option(None, "--to", help="target language (for a model trained on several)")


@app.command()
@user_errors
def translate(model_dir: Path = typer.Argument(..., help="a model directory, e.g. runs/en-ja/best"),
              input_path: Optional[Path] = typer.Argument(None, metavar="[INPUT]", help="text file; default stdin"),
              output: Optional[Path] = typer.Option(None, "--output", "-o", help="output file; default stdout"),
              to: Optional[str] = ToOpt, beam_size: Optional[int] = BeamOpt, length_penalty: Optional[float] = PenaltyOpt,
              max_len_a: Optional[float] = MaxLenAOpt, max_len_b: Optional[int] = MaxLenBOpt,
              batch_tokens: Optional[int] = BatchOpt, threads: Optional[int] = ThreadsOpt,
              nbest: int = typer.Option(1, "--nbest", min=1, help="write the N best hypotheses with scores"),
              nbest_format: NbestFormat = typer.Option(NbestFormat.tsv, help="with --nbest: tsv (line, rank, score, "
                                                       "text) or jsonl"),
              on_bad_utf8: BadUtf8 = typer.Option(BadUtf8.error, help="error or replace invalid UTF-8 input"),
              backend: Backend = typer.Option(Backend.native, help="native PyTorch, or a CTranslate2 export "
                                              "(tcli export ... --format ctranslate2)"),
              quantize: Quantization = typer.Option(Quantization.none, "--quantize",
                                                    help="native backend: int8 dynamic quantization of linear layers")) -> None:
    """Translate a file or stdin, one output line per input line."""
    from translate_cli.steps import translate as step

    _set_threads(threads)
    options = _decode_options(model_dir, beam_size, length_penalty, max_len_a, max_len_b, batch_tokens, nbest)
    step.run(model_dir, input_path, output, to, options, on_bad_utf8.value,
             nbest_format.value if nbest > 1 else None, backend=backend.value, quantize=quantize.value, threads=threads)


@app.command()
@user_errors
def evaluate(model_dir: Optional[Path] = typer.Argument(None, help="model directory (not needed with --hyp)"),
             src: Optional[Path] = typer.Option(None, "--src", help="source file to translate"),
             ref: Path = typer.Option(..., "--ref", help="reference translation, line-aligned"),
             hyp: Optional[Path] = typer.Option(None, "--hyp", help="score this translation instead of translating"),
             to: Optional[str] = typer.Option(None, "--to", help="target language; chooses the BLEU tokenizer"),
             json_path: Optional[Path] = typer.Option(None, "--json", help="write a JSON report here"),
             output: Optional[Path] = typer.Option(None, "--output", "-o", help="also save the translation here"),
             min_bleu: Optional[float] = typer.Option(None, "--min-bleu", help="exit 1 if BLEU is below this"),
             min_chrf: Optional[float] = typer.Option(None, "--min-chrf", help="exit 1 if chrF is below this"),
             beam_size: Optional[int] = BeamOpt, length_penalty: Optional[float] = PenaltyOpt,
             batch_tokens: Optional[int] = BatchOpt, threads: Optional[int] = ThreadsOpt) -> None:
    """Score a model (or an existing translation) with sacreBLEU BLEU and chrF."""
    from translate_cli.steps import evaluate as step

    _set_threads(threads)
    options = _decode_options(model_dir, beam_size, length_penalty, None, None, batch_tokens)
    scores = step.run(model_dir, src, ref, hyp, to, options, json_path, output)
    failed = [f"{name} {value:.2f} < {floor}" for name, value, floor in
              (("BLEU", scores.bleu, min_bleu), ("chrF", scores.chrf, min_chrf)) if floor is not None and value < floor]
    if failed:
        console.error_line("below threshold: " + ", ".join(failed))
        raise typer.Exit(EXIT_BELOW_THRESHOLD)


@app.command()
@user_errors
def export(model_dir: Path = typer.Argument(..., help="a model directory, e.g. runs/en-ja/best"),
           output: Path = typer.Option(..., "--output", "-o", help="folder to write the exported model to"),
           format: ExportFormat = typer.Option(ExportFormat.ctranslate2, "--format", help="export format"),
           quantization: Quantization = typer.Option(Quantization.none, help="weight quantization of the export")
           ) -> None:
    """Export a model for another inference engine (CTranslate2)."""
    from translate_cli import console as ui
    from translate_cli.core.checkpoint import load_model
    from translate_cli.core.export_ct2 import export as export_ct2

    folder = export_ct2(load_model(model_dir), output, None if quantization == Quantization.none else quantization.value)
    ui.info(f"exported {model_dir} to {folder} ({format.value}, {quantization.value}); translate with "
            f"`tcli translate {folder} --backend ctranslate2`")


@app.command()
@user_errors
def average(run_dir: Path = typer.Argument(..., help="a run directory trained with train.keep_checkpoints=N"),
            last: int = typer.Option(5, "--last", min=1, help="how many of the newest checkpoints to average"),
            output: Path = typer.Option(..., "--output", "-o", help="model directory to write")) -> None:
    """Average the weights of a run's last N checkpoints into a model directory."""
    from translate_cli import console as ui
    from translate_cli.steps.averaging import average_run

    folder = average_run(run_dir, last, output)
    ui.info(f"averaged the last {last} checkpoints of {run_dir} into {folder}")


@app.command()
@user_errors
def plot(run_dirs: List[Path] = typer.Argument(..., help="one or more run directories (runs/NAME)"),
         output: Path = typer.Option(Path("curves.png"), "--output", "-o", help="PNG file to write"),
         label: Optional[List[str]] = typer.Option(None, "--label", help="a legend label per run (default: folder names)")
         ) -> None:
    """Draw training and dev loss, dev BLEU and chrF, and learning rate against step (PNG)."""
    from translate_cli.steps import visualize

    if label and len(label) != len(run_dirs):
        raise TcliError(f"--label given {len(label)} times for {len(run_dirs)} runs; give one per run or none")
    visualize.plot_runs(run_dirs, output, label)


@app.command()
@user_errors
def attention(model_dir: Path = typer.Argument(..., help="a model directory, e.g. runs/en-ja/best"),
              sentence: str = typer.Argument(..., help="the English sentence to translate"),
              output: Path = typer.Option(Path("attention.png"), "--output", "-o", help="PNG file to write"),
              to: Optional[str] = ToOpt,
              layer: int = typer.Option(-1, "--layer", help="decoder layer (0-based; -1 = the last)"),
              self_attention: bool = typer.Option(False, "--self", help="the decoder's masked self-attention "
                                                  "instead of cross-attention"),
              font: Optional[List[Path]] = typer.Option(None, "--font", help="a font file to draw labels with")) -> None:
    """Translate a sentence and draw a decoder layer's attention, averaged over heads (PNG)."""
    from translate_cli.steps import visualize

    visualize.attention_map(model_dir, sentence, output, to, layer, self_attention, font or [])


def main() -> None:
    app()
