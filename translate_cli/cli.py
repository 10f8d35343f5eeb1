"""The tcli command line: one function per subcommand, each a thin layer over a step.

Heavy imports (torch) happen inside the command bodies so `tcli --help` stays instant. Every TcliError
becomes one red line on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import typer
from annotated_types import Ge, Gt, Le

from translate_cli import console
from translate_cli.core.decoding import Backend, DecodeOptions, DecodeOverrides, Quantization
from translate_cli.core.documents.options import BadRowChoice, DocumentFormat, LineOptions, NbestFormat
from translate_cli.core.evaluate.settings import GateSettings, Method
from translate_cli.core.files import OnBadUtf8
from translate_cli.core.serving.batcher import BatchSettings
from translate_cli.core.serving.limits import ServerLimits
from translate_cli.errors import Interrupted, TcliError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train and run English→Hindi/Japanese neural machine translation.")

EXIT_USER_ERROR, EXIT_BELOW_THRESHOLD, EXIT_INTERRUPTED = 2, 1, 130


def choices(name: str, literal: Any) -> type[Enum]:
    """A str Enum (Typer shows and checks its values) of a Literal the library defines."""
    return Enum(name, {value: value for value in typing.get_args(literal)}, type=str)


def _field_type(owner: type, name: str) -> Any:
    hint = typing.get_type_hints(owner, include_extras=True)[name]
    if typing.get_origin(hint) is typing.Union:  # Optional[X] -> X
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def field_default(owner: type, name: str) -> Any:
    """The default of a library dataclass's field (an empty list for a list factory)."""
    field = next(f for f in dataclasses.fields(owner) if f.name == name)
    return field.default_factory() if field.default is dataclasses.MISSING else field.default


def field_bounds(owner: type, name: str) -> dict:
    """Typer's min/max from a field's Annotated bounds (Ge, Le; Gt of an int)."""
    bounds = {}
    for bound in getattr(_field_type(owner, name), "__metadata__", ()):
        if isinstance(bound, Ge):
            bounds["min"] = bound.ge
        elif isinstance(bound, Le):
            bounds["max"] = bound.le
        elif isinstance(bound, Gt) and isinstance(bound.gt, int):
            bounds["min"] = bound.gt + 1
    return bounds


def field_option(owner: type, name: str, *flags: str, help: str, keep: bool = False) -> Any:
    """A Typer option for a field of a library dataclass: the field's default (None with `keep`: the model's
    own setting stays) and bounds, so that neither is ever written twice."""
    default = None if keep else field_default(owner, name)
    return typer.Option(default, *flags, help=help, **field_bounds(owner, name))


# Choices of the options below, from the library's Literals.
BadUtf8 = choices("BadUtf8", OnBadUtf8)
BackendChoice = choices("Backend", Backend)
ExportFormat = Enum("ExportFormat", {"ctranslate2": "ctranslate2"}, type=str)  # the only export format
QuantizationChoice = choices("Quantization", Quantization)
NbestFormatChoice = choices("NbestFormat", NbestFormat)
Split = choices("Split", _field_type(DecodeOptions, "split"))
BadRow = choices("BadRow", BadRowChoice)
DocumentFormatChoice = choices("DocumentFormat", DocumentFormat)
Significance = choices("Significance", Method)


def user_errors(command: Callable) -> Callable:
    """Run a command; a TcliError becomes one line and exit code 2 (130 for an interrupted training)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TcliError as exc:
            console.error_line(str(exc))
            code = EXIT_INTERRUPTED if isinstance(exc, Interrupted) else EXIT_USER_ERROR
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
            on_bad_utf8: BadUtf8 = typer.Option(BadUtf8("error"), help="error: stop at invalid UTF-8; replace: "
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


# Decoding: None keeps the model's own setting (model.json); bounds are DecodeOptions'.
@app.command()
@user_errors
def distill(config: Path = ConfigArg, overrides: Optional[List[str]] = OverridesArg,
            threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads for the teacher "
                                                  "(default: all cores)")) -> None:
    """Translate the training corpora with the config's distill.teacher, for a student to train on."""
    from translate_cli import config as config_module
    from translate_cli.steps import distill as step

    step.run(config_module.load(config, overrides or []), threads=threads)


BeamOpt = field_option(DecodeOptions, "beam_size", "--beam-size", "-b", keep=True,
                       help="1 = greedy; default from the model's config")
PenaltyOpt = field_option(DecodeOptions, "length_penalty", "--length-penalty", keep=True,
                          help="length penalty alpha for beam search (GNMT's; imported models: Hugging Face's "
                          "score / length**alpha)")
MaxLenAOpt = field_option(DecodeOptions, "max_len_a", "--max-len-a", keep=True, help="output limit: a * source tokens + b")
MaxLenBOpt = field_option(DecodeOptions, "max_len_b", "--max-len-b", keep=True, help="output limit: a * source tokens + b")
BatchOpt = field_option(DecodeOptions, "batch_tokens", "--batch-tokens", keep=True,
                        help="source tokens x beams per batch (native backend; CTranslate2 takes batches of up to "
                        "64 sentences)")
ThreadsOpt = typer.Option(None, "--threads", min=1, help="CPU threads for PyTorch")
SearchThreadsOpt = typer.Option(None, "--threads", min=1, help="CPU threads (default: all cores), each searching "
                                "its own batches (both backends)")
BackendOpt = typer.Option(BackendChoice("auto"), help="auto: the CTranslate2 export in the model directory (tcli export "
                          "MODEL_DIR) if there is one, else native PyTorch; native; or ctranslate2 (MODEL_DIR is an "
                          "export)")
ToOpt = typer.Option(None, "--to", help="target language (for a model trained on several)")
SplitOpt = typer.Option(None, "--split", help="sentences: translate each sentence of a line on its own and join "
                        "the translations; none: whole lines. Default: the model's decode.split (sentences)")


@app.command()
@user_errors
def translate(model_dir: Path = typer.Argument(..., help="a model directory, e.g. runs/en-ja/best"),
              input_path: Optional[Path] = typer.Argument(None, metavar="[INPUT]", help="text file; default stdin"),
              output: Optional[Path] = typer.Option(None, "--output", "-o", help="output file; default stdout"),
              to: Optional[str] = ToOpt, beam_size: Optional[int] = BeamOpt, length_penalty: Optional[float] = PenaltyOpt,
              max_len_a: Optional[float] = MaxLenAOpt, max_len_b: Optional[int] = MaxLenBOpt,
              batch_tokens: Optional[int] = BatchOpt, threads: Optional[int] = SearchThreadsOpt,
              nbest: int = field_option(LineOptions, "nbest", "--nbest", help="write the N best hypotheses with scores"),
              nbest_format: NbestFormatChoice = typer.Option(NbestFormatChoice(field_default(LineOptions, "nbest_format")),
                                                             help="with --nbest: tsv (line, rank, score, text) or jsonl"),
              on_bad_utf8: BadUtf8 = typer.Option(BadUtf8(field_default(LineOptions, "on_bad_utf8")),
                                                  help="error or replace invalid UTF-8 input"),
              backend: BackendChoice = BackendOpt,
              quantize: QuantizationChoice = typer.Option(QuantizationChoice("none"), "--quantize",
                                                          help="native backend: int8 dynamic quantization of linear "
                                                          "layers"),
              split: Optional[Split] = SplitOpt,
              tsv_column: Optional[int] = field_option(LineOptions, "tsv_column", "--tsv-column",
                                                       help="translate column N (1 = first) of tab-separated rows; "
                                                       "other columns pass through"),
              jsonl_field: Optional[str] = typer.Option(None, "--jsonl-field", help="translate this string field of "
                                                        "each JSON-object line; other fields pass through"),
              on_bad_row: BadRow = typer.Option(BadRow(field_default(LineOptions, "on_bad_row")), "--on-bad-row",
                                                help="with --tsv-column or --jsonl-field: error (stop, naming the "
                                                "line) or skip-copy (copy the row untranslated and count it)"),
              format: DocumentFormatChoice = typer.Option(DocumentFormatChoice(field_default(LineOptions, "format")),
                                                          "--format", help="auto: by the file's extension (.md, .html, "
                                                          ".srt, .vtt, .po; text otherwise and for stdin); text: "
                                                          "one output line per input line; markdown, html, srt, vtt, "
                                                          "po: translate the prose, keep the structure"),
              glossary: Optional[Path] = typer.Option(None, "--glossary", help="a TSV file of 'source term<TAB>"
                                                      "target term' lines: the given translation is used wherever "
                                                      "the term occurs"),
              retranslate: bool = typer.Option(False, "--retranslate", help="po: also translate entries that "
                                               "already have a translation")) -> None:
    """Translate a file or stdin: lines (one output line per input line) or a document (Markdown, HTML,
    subtitles, gettext PO) with its structure kept."""
    from translate_cli.steps import translate as step

    decode = DecodeOverrides(beam_size=beam_size, length_penalty=length_penalty, max_len_a=max_len_a,
                             max_len_b=max_len_b, batch_tokens=batch_tokens, split=split.value if split else None)
    lines = LineOptions(nbest=nbest, nbest_format=nbest_format.value, on_bad_utf8=on_bad_utf8.value,
                        tsv_column=tsv_column, jsonl_field=jsonl_field, on_bad_row=on_bad_row.value,
                        format=format.value, glossary=glossary, retranslate=retranslate)
    step.run(model_dir, input_path=input_path, output_path=output, lang=to, decode=decode, lines=lines,
             backend=backend.value, quantize=quantize.value, threads=threads)


EVALUATE_HELP = (
    "Score a model (or an existing translation) with sacreBLEU BLEU, chrF and chrF++.\n\n"
    "One test set: MODEL_DIR --src F --ref F, or --hyp F --ref F --to LANG. "
    "Every data.test set of a config: MODEL_DIR --config CONFIG.\n\n"
    "--baseline REPORT.json (an earlier --json report) compares the new translations with the baseline's on "
    "the same references: the difference, 95% confidence intervals and a paired significance test "
    "(sacreBLEU, fixed seed). --fail-if-worse MARGIN turns a significant loss into a failure.\n\n"
    "Exit codes: 0 every gate passed, 1 a gate failed, 2 bad input.")


@app.command(help=EVALUATE_HELP)
@user_errors
def evaluate(model_dir: Optional[Path] = typer.Argument(None, help="model directory (not needed with --hyp)"),
             src: Optional[Path] = typer.Option(None, "--src", help="source file to translate"),
             ref: Optional[Path] = typer.Option(None, "--ref", help="reference translation, line-aligned"),
             hyp: Optional[Path] = typer.Option(None, "--hyp", help="score this translation instead of translating"),
             to: Optional[str] = typer.Option(None, "--to", help="target language; chooses the BLEU tokenizer"),
             config: Optional[Path] = typer.Option(None, "--config", help="score every data.test set of this "
                                                   "config (source_lang side translated, per-set target language)"),
             override: Optional[List[str]] = typer.Option(None, "--override", metavar="KEY=VALUE",
                                                          help="with --config: a config override, e.g. "
                                                          "data_root=../shared/data (repeatable)"),
             json_path: Optional[Path] = typer.Option(None, "--json", help="write a JSON report here (with the "
                                                      "hypotheses: a later --baseline)"),
             output: Optional[Path] = typer.Option(None, "--output", "-o", help="also save the translation here"),
             min_bleu: Optional[float] = field_option(GateSettings, "min_bleu", "--min-bleu",
                                                      help="exit 1 if BLEU is below this"),
             min_chrf: Optional[float] = field_option(GateSettings, "min_chrf", "--min-chrf",
                                                      help="exit 1 if chrF is below this"),
             confidence: bool = typer.Option(False, "--confidence", help="95% bootstrap confidence intervals "
                                             "(sacreBLEU, 1000 resamples), shown as 29.2 ± 1.1"),
             baseline: Optional[Path] = typer.Option(None, "--baseline", metavar="REPORT.json",
                                                     help="compare with the hypotheses of this --json report"),
             baseline_hyp: Optional[Path] = typer.Option(None, "--baseline-hyp", metavar="FILE",
                                                         help="compare with this translation of the same --ref"),
             significance: Significance = typer.Option(Significance(field_default(GateSettings, "method")),
                                                       "--significance",
                                                       help="paired test: bs = paired bootstrap resampling "
                                                       "(1000 resamples), ar = approximate randomization "
                                                       "(10000 trials)"),
             fail_if_worse: Optional[float] = field_option(GateSettings, "fail_if_worse", "--fail-if-worse",
                                                           help="exit 1 if BLEU, chrF or chrF++ is significantly "
                                                           "worse than the baseline (p < --alpha) by more than "
                                                           "MARGIN (points); 0 = any significant loss"),
             alpha: float = field_option(GateSettings, "alpha", "--alpha", help="significance level of --fail-if-worse"),
             junit: Optional[Path] = typer.Option(None, "--junit", metavar="FILE",
                                                  help="JUnit XML: a test case per test set and gate"),
             markdown: Optional[Path] = typer.Option(None, "--markdown", metavar="FILE",
                                                     help="a Markdown table, e.g. $GITHUB_STEP_SUMMARY"),
             beam_size: Optional[int] = BeamOpt, length_penalty: Optional[float] = PenaltyOpt,
             batch_tokens: Optional[int] = BatchOpt, threads: Optional[int] = ThreadsOpt,
             split: Optional[Split] = SplitOpt,
             glossary: Optional[Path] = typer.Option(None, "--glossary", help="translate with this glossary (TSV "
                                                     "of 'source term<TAB>target term'); prints the term accuracy")
             ) -> None:
    from translate_cli import config as config_module
    from translate_cli.steps import evaluate as step

    if override and config is None:
        raise TcliError("--override changes a --config; add --config CONFIG or drop --override")
    loaded_config = config_module.load(config, override or []) if config is not None else None
    passed = step.run(model_dir, reference=ref, source=src, hypothesis=hyp, lang=to, config=loaded_config,
                      output=output, threads=threads, confidence=confidence,
                      gates=GateSettings(min_bleu=min_bleu, min_chrf=min_chrf, fail_if_worse=fail_if_worse,
                                         alpha=alpha, method=significance.value),
                      baseline=baseline, baseline_hyp=baseline_hyp, json_path=json_path, junit=junit,
                      markdown=markdown, glossary_path=glossary, decode=DecodeOverrides(beam_size=beam_size, length_penalty=length_penalty,
                                                                batch_tokens=batch_tokens,
                                                                split=split.value if split else None))
    if not passed:
        raise typer.Exit(EXIT_BELOW_THRESHOLD)


@app.command()
@user_errors
def export(model_dir: Path = typer.Argument(..., help="a model directory, e.g. runs/en-ja/best"),
           output: Optional[Path] = typer.Option(None, "--output", "-o", help="folder to write the export to; "
                                                 "default MODEL_DIR/ctranslate2, where --backend auto finds it"),
           format: ExportFormat = typer.Option(ExportFormat("ctranslate2"), "--format", help="export format"),
           quantization: QuantizationChoice = typer.Option(QuantizationChoice("none"),
                                                           help="weight quantization of the export"),
           check_with: Optional[Tuple[Path, Path]] = typer.Option(
               None, "--check-with", metavar="SRC REF", help="translate SRC with the model and with the export, "
               "score both against REF, and record the BLEU/chrF change in the export's JSON"),
           to: Optional[str] = ToOpt, threads: Optional[int] = SearchThreadsOpt) -> None:
    """Export a model for another inference engine (CTranslate2)."""
    from translate_cli.steps import export as step

    step.run(model_dir, output=output, format=format.value, quantization=quantization.value,
             check_with=check_with if check_with and check_with[0] is not None else None, lang=to, threads=threads)


@app.command()
@user_errors
def average(run_dir: Path = typer.Argument(..., help="a run directory trained with train.keep_checkpoints=N"),
            last: int = typer.Option(5, "--last", min=1, help="how many of the newest checkpoints to average"),
            output: Path = typer.Option(..., "--output", "-o", help="model directory to write")) -> None:
    """Average the weights of a run's last N checkpoints into a model directory."""
    from translate_cli.steps import average as step

    step.run(run_dir, last=last, output=output)


@app.command()
@user_errors
def plot(run_dirs: List[Path] = typer.Argument(..., help="one or more run directories (runs/NAME)"),
         output: Path = typer.Option(Path("curves.png"), "--output", "-o", help="PNG file to write"),
         label: Optional[List[str]] = typer.Option(None, "--label", help="a legend label per run (default: folder names)")
         ) -> None:
    """Draw training and dev loss, dev BLEU, chrF and chrF++, and learning rate against step (PNG)."""
    from translate_cli.steps import plot as step

    step.run(run_dirs, output=output, labels=label)


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
    from translate_cli.steps import attention as step

    step.run(model_dir, sentence, output=output, lang=to, layer=layer, self_attention=self_attention, fonts=font or [])


@app.command("import")
@user_errors
def import_model(source: str = typer.Argument(..., help="a Hugging Face model folder, or a hub id such as "
                                              "Helsinki-NLP/opus-mt-en-hi (needs network once; then cached)"),
                 output: Path = typer.Option(..., "--output", "-o", help="model directory to write"),
                 source_lang: Optional[str] = typer.Option(None, "--from", help="source language (many-to-many "
                                                           "models: M2M100, NLLB); default: the model's, or en"),
                 target_lang: Optional[str] = typer.Option(None, "--to", help="the target language of a one-target "
                                                           "model whose files do not name it"),
                 revision: Optional[str] = typer.Option(None, "--revision", help="hub revision (branch, tag, commit)")
                 ) -> None:
    """Import a pretrained OPUS-MT (Marian), M2M100 or NLLB model as a tcli model directory."""
    from translate_cli.steps import import_model as step

    step.run(source, output=output, source_lang=source_lang, target_lang=target_lang, revision=revision)


@app.command()
@user_errors
def serve(model_dir: Path = typer.Argument(..., help="a model directory, e.g. runs/en-ja/best"),
          host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0: every interface)"),
          port: int = typer.Option(5000, "--port", min=0, max=65535, help="TCP port (0: any free port)"),
          backend: BackendChoice = BackendOpt,
          quantize: QuantizationChoice = typer.Option(QuantizationChoice("none"), "--quantize",
                                                      help="native backend: int8 weights"),
          threads: Optional[int] = SearchThreadsOpt, beam_size: Optional[int] = BeamOpt,
          length_penalty: Optional[float] = PenaltyOpt, max_len_a: Optional[float] = MaxLenAOpt,
          max_len_b: Optional[int] = MaxLenBOpt, batch_tokens: Optional[int] = BatchOpt,
          split: Optional[Split] = SplitOpt,
          enabled: bool = typer.Option(field_default(BatchSettings, "enabled"), "--batching/--no-batching",
                                       help="decode concurrent requests together"),
          wait_ms: float = field_option(BatchSettings, "wait_ms", "--batch-wait-ms",
                                        help="how long a request may wait for others"),
          max_queue: int = field_option(BatchSettings, "max_queue", "--max-queue",
                                        help="sentences waiting before requests get 503 + Retry-After"),
          max_body_bytes: int = field_option(ServerLimits, "max_body_bytes", "--max-body-bytes",
                                             help="larger bodies get 413"),
          max_strings: int = field_option(ServerLimits, "max_strings", "--max-strings", help="strings per request"),
          max_chars: int = field_option(ServerLimits, "max_chars", "--max-chars", help="characters per string"),
          api_key: Optional[str] = typer.Option(None, "--api-key", envvar="TCLI_API_KEY",
                                                help="require this key on POST /translate (or set TCLI_API_KEY)"),
          cors_origins: Optional[List[str]] = typer.Option(None, "--cors-origin", help="allow browser pages from "
                                                           "this origin (repeatable; '*' for any); default none"),
          access_log: bool = typer.Option(False, "--access-log", help="log every request"),
          glossary: Optional[Path] = typer.Option(None, "--glossary", help="a TSV file of 'source term<TAB>target "
                                                  "term' lines, used in every request")) -> None:
    """Serve a model over HTTP: LibreTranslate API, /health, /info, /docs and a web page at /."""
    from translate_cli.steps import serve as step

    step.run(model_dir, host=host, port=port, backend=backend.value, quantize=quantize.value, threads=threads,
             decode=DecodeOverrides(beam_size=beam_size, length_penalty=length_penalty, max_len_a=max_len_a,
                                    max_len_b=max_len_b, batch_tokens=batch_tokens, split=split.value if split else None),
             batching=BatchSettings(enabled=enabled, wait_ms=wait_ms, max_queue=max_queue),
             limits=ServerLimits(max_body_bytes=max_body_bytes, max_strings=max_strings, max_chars=max_chars,
                                 api_key=api_key or None, cors_origins=cors_origins or []),
             access_log=access_log, glossary=glossary)


def main() -> None:
    app()
