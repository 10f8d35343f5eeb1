"""Paragraph-level translation: --split none against --split sentences against the oracle, in one run.

    python scripts/bench_paragraphs.py --model runs/en-ja/best --src ../shared/data/flores200/devtest.en \
        --ref ../shared/data/flores200/devtest.ja --to ja --json docs/bench_paragraphs_flores_ja.json

Runs of 2-5 consecutive lines (drawn with a fixed seed) are joined into one paragraph each, on both sides:
the source with one space, the reference by the target's convention (no space for Japanese). Three
systems translate the paragraphs with the same model and settings:
  none       each paragraph as one input (what tcli did before sentence splitting);
  sentences  each paragraph split into sentences by tcli, translated one by one and joined;
  oracle     the original lines translated one per line and joined (the true sentence boundaries).
Scores are sacreBLEU BLEU (MeCab tokens for Japanese) and chrF of the paragraphs. Prints a table and
writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path


def paragraphs(count: int, seed: int) -> list[range]:
    """Consecutive runs of 2-5 line indices covering 0..count-1 (the last run may be shorter)."""
    rng, runs, start = random.Random(seed), [], 0
    while start < count:
        size = rng.randint(2, 5)
        runs.append(range(start, min(start + size, count)))
        start += size
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a tcli model directory")
    parser.add_argument("--src", required=True, help="source lines (consecutive lines from the same documents)")
    parser.add_argument("--ref", required=True, help="reference lines, aligned with --src")
    parser.add_argument("--to", help="target language (for a model trained on several)")
    parser.add_argument("--beam-size", type=int, help="default: the model's")
    parser.add_argument("--limit", type=int, help="use only the first N lines (a quick look)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--json", default="docs/bench_paragraphs.json")
    args = parser.parse_args()

    import torch

    from translate_cli.core import metrics
    from translate_cli.core.checkpoint import load_model
    from translate_cli.core.sentences import joiner
    from translate_cli.core.translator import TranslationStats, Translator

    torch.set_num_threads(args.threads)
    sources = Path(args.src).read_text(encoding="utf-8").splitlines()[:args.limit]
    references = Path(args.ref).read_text(encoding="utf-8").splitlines()[:args.limit]
    if len(sources) != len(references):
        raise SystemExit(f"{args.src} has {len(sources)} lines but {args.ref} has {len(references)}")
    translator = Translator(load_model(args.model), args.to)
    lang = translator.lang
    runs = paragraphs(len(sources), args.seed)
    source_paragraphs = [" ".join(sources[i] for i in run) for run in runs]
    reference_paragraphs = [joiner(lang).join(references[i] for i in run) for run in runs]
    options = translator.info.decode.updated(beam_size=args.beam_size)

    rows = []
    for system in ("none", "sentences", "oracle"):
        stats, started = TranslationStats(), time.perf_counter()
        if system == "oracle":
            lines = [t.text for t in translator.translate(sources, options.updated(split="none"), stats)]
            hypotheses = [joiner(lang).join(lines[i] for i in run) for run in runs]
        else:
            hypotheses = [t.text for t in translator.translate(source_paragraphs, options.updated(split=system), stats)]
        seconds = time.perf_counter() - started
        print(f"{system}: {stats.lines} inputs translated in {seconds:.1f} s", file=sys.stderr, flush=True)
        scores = metrics.score(hypotheses, reference_paragraphs, lang)
        sentences = stats.sentences_in_them + (stats.lines - stats.sentence_lines - stats.empty)
        rows.append({"system": system, "bleu": scores.bleu, "chrf": scores.chrf, "seconds": round(seconds, 1),
                     "inputs": stats.lines, "sentences_found": sentences if system == "sentences" else None,
                     "cut_lines": stats.cut_lines, "output_tokens": stats.output_tokens,
                     "bleu_signature": scores.bleu_signature, "chrf_signature": scores.chrf_signature})
    report(rows, args, len(sources), len(runs), lang, translator.info.decode)


def report(rows: list[dict], args: argparse.Namespace, lines: int, count: int, lang: str, decode) -> None:
    from rich.console import Console
    from rich.table import Table

    oracle = next(r for r in rows if r["system"] == "oracle")
    table = Table(title=f"{count} paragraphs of 2-5 lines from {lines} lines of {args.src} → {lang}, "
                        f"beam {args.beam_size or decode.beam_size}")
    for column in ("system", "BLEU", "chrF", "BLEU − oracle", "inputs", "sentences found", "cut lines", "seconds"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for row in rows:
        row["bleu_minus_oracle"] = round(row["bleu"] - oracle["bleu"], 2)
        table.add_row(row["system"], f"{row['bleu']:.2f}", f"{row['chrf']:.2f}", f"{row['bleu_minus_oracle']:+.2f}",
                      str(row["inputs"]), str(row["sentences_found"] or ""), str(row["cut_lines"]), str(row["seconds"]))
    Console().print(table)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "model": args.model, "src": args.src,
                                           "ref": args.ref, "lang": lang, "lines": lines, "paragraphs": count,
                                           "seed": args.seed, "threads": args.threads, "rows": rows},
                                          indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
