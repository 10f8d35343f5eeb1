"""Decoding speed of tcli against Hugging Face MarianMTModel (and tcli's CTranslate2 export), same run.

    python scripts/bench_decode.py --model runs/en-ja/best --src ../shared/data/en-ja/tanaka50k/test.en

For a model made by `tcli import`, --hf-folder names the Hugging Face folder it was imported from: the peer is
then that very model (its own generate(): decoder start, forced language token, suppressed <pad>), and every
system uses Hugging Face's length normalisation with penalty 1.0:

    python scripts/bench_decode.py --model models/opus --hf-folder hf/opus --src test.en --to hi

Every system translates the same sentences, tokenized by the tcli model's SentencePiece model, in the
same length-sorted batches, at the same thread count. Each measurement runs in its own process so its
peak resident memory is its own. Two modes:
  real   each system stops at its own end-of-sentence (the HF peer, randomly initialised, rarely does:
         its numbers are an upper bound on its work, so "real" ratios favour it less than they seem);
  equal  end-of-sentence is suppressed and every sentence gets exactly --tokens output tokens, so every
         system does the same work and a random peer is a fair match.
Every measurement is the best of --repeat passes in --rounds processes, the rounds interleaved across
systems, because the machines are shared and noisy. Prints a table and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEARCHES = {"greedy": 1, "beam5": 5}
# CTranslate2 rows: (model folder, compute type, threads layout). "tcli" is tcli's rule (core/ct2/runtime.py:
# one translator per thread); "1xN" is one translator with N threads (tcli's layout before issue 15).
# A "-w" suffix (tcli-w, tcli-int8-w, hf-w) runs a PyTorch system with --threads workers of one thread each,
# the layout of tcli's native backend; without it, one search with --threads torch threads.
CT2_SYSTEMS = {"ct2": ("fp32", "default", "tcli"), "ct2-1xN": ("fp32", "default", "1xN"),
               "ct2-int8": ("int8", "int8", "tcli"), "ct2-int8-1xN": ("int8", "int8", "1xN"),
               "ct2-int8f32": ("int8", "int8_float32", "tcli"),
               "hf-ct2": ("hf-fp32", "default", "tcli"), "hf-ct2-int8": ("hf-int8", "int8", "tcli")}


def translator_for(args: argparse.Namespace):
    from translate_cli.core.checkpoint import load_model
    from translate_cli.core.translator import Translator

    return Translator(load_model(args.model), args.to)


def source_batches(args: argparse.Namespace, beam: int) -> list[list[list[int]]]:
    """Token ids of every non-empty source line, in tcli's length-sorted token-budget batches."""
    from translate_cli.core.native import length_batches

    src, batch_tokens = args.src, args.batch_tokens
    translator = translator_for(args)
    lines = Path(src).read_text(encoding="utf-8").splitlines()
    sources = [pieces[0] for pieces in (translator.encode(line, "none") for line in lines) if pieces]
    return [[sources[i] for i in batch] for batch in length_batches(sources, batch_tokens // beam)]


def hf_model(model_dir: str, marian_pad: bool = False):
    """A MarianMTModel with the tcli model's dimensions and vocabulary, randomly initialised (no download).

    marian_pad: one more row, the pad token last, as Marian models have it; CTranslate2's converter removes
    that row, so the converted model has the tcli model's dimensions again."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    from translate_cli.core.checkpoint import read_info

    dims = read_info(Path(model_dir)).model
    vocab_size = dims.vocab_size + marian_pad
    pad = dims.vocab_size if marian_pad else dims.pad_id
    config = MarianConfig(vocab_size=vocab_size, d_model=dims.d_model, encoder_layers=dims.encoder_layers,
                          decoder_layers=dims.decoder_layers, encoder_attention_heads=dims.heads,
                          decoder_attention_heads=dims.heads, encoder_ffn_dim=dims.ff_dim, decoder_ffn_dim=dims.ff_dim,
                          activation_function="relu", max_position_embeddings=1024, pad_token_id=pad,
                          eos_token_id=dims.eos_id, decoder_start_token_id=pad if marian_pad else dims.bos_id,
                          forced_eos_token_id=None,
                          scale_embedding=True, share_encoder_decoder_embeddings=True, tie_word_embeddings=True,
                          decoder_vocab_size=vocab_size)
    torch.manual_seed(0)
    return MarianMTModel(config).eval()


def run_worker(args: argparse.Namespace) -> dict:
    """One system, one search, one mode: time it, count generated tokens, report peak RSS."""
    import torch

    torch.set_num_threads(args.threads)
    beam = SEARCHES[args.search]
    batches = source_batches(args, beam)
    run = workers_runner(args, beam) if args.system.endswith("-w") else make_runner(args, beam)
    run(batches[:2])  # warm-up: first-call allocations and kernels
    seconds = float("inf")
    for _ in range(args.repeat):  # best of --repeat passes: the least disturbed by other load
        started = time.perf_counter()
        outputs = run(batches)
        seconds = min(seconds, time.perf_counter() - started)
    sentences = sum(len(b) for b in batches)
    tokens = sum(len(o) for o in outputs)
    return {"system": args.system, "search": args.search, "mode": args.mode, "sentences": sentences,
            "generated_tokens": tokens, "seconds": round(seconds, 3), "sentences_per_s": round(sentences / seconds, 2),
            "tokens_per_s": round(tokens / seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def workers_runner(args: argparse.Namespace, beam: int):
    """A PyTorch system as `tcli translate` runs the native backend: --threads workers, one torch thread each,
    each searching its own batches, the batches cut so that every worker has one (core/translator.py)."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from translate_cli.core.native import length_batches, worker_budget

    torch.set_num_threads(1)
    inner = make_runner(argparse.Namespace(**{**vars(args), "system": args.system[:-2]}), beam)
    pool = ThreadPoolExecutor(args.threads)

    def run(batches):
        flat = [ids for batch in batches for ids in batch]
        budget = worker_budget(flat, args.batch_tokens // beam, args.threads)
        split = [[flat[i] for i in batch] for batch in length_batches(flat, budget)]
        return [out for outs in pool.map(lambda batch: inner([batch]), split) for out in outs]
    return run


def make_runner(args: argparse.Namespace, beam: int):
    import torch

    from translate_cli.core.data import pad_sequences

    equal = args.mode == "equal"
    translator = translator_for(args)
    config, prefix = translator.info.model, translator.target_prefix
    # An imported model is compared with its own Hugging Face model: their length normalisation, penalty 1.0.
    penalty, norm = (1.0, "power") if args.hf_folder else (0.6, "gnmt")

    def limits(batch):
        if equal:
            return [args.tokens] * len(batch), [args.tokens] * len(batch)
        return [int(len(ids) * 1.5) + 10 for ids in batch], [0] * len(batch)

    if args.system in ("tcli", "tcli-int8", "tcli-int8-torchao"):
        from translate_cli.core.checkpoint import load_model
        from translate_cli.core.native import beam_search, greedy_search, quantize_int8

        model = load_model(args.model).model
        if args.system == "tcli-int8":
            model = quantize_int8(model)
        elif args.system == "tcli-int8-torchao":
            model = torchao_int8(model)

        def run(batches):
            outputs = []
            for batch in batches:
                most, least = (torch.tensor(x) for x in limits(batch))
                source = pad_sequences(batch, suffix=config.eos_id, pad=config.pad_id)
                if beam == 1:
                    outputs += [h.tokens for h in greedy_search(model, source, most, least, prefix)]
                else:
                    outputs += [h[0].tokens for h in beam_search(model, source, most, beam, penalty, 1, least, prefix,
                                                                 norm)]
            return outputs
        return run
    if args.system in CT2_SYSTEMS:
        return ct2_runner(args, beam, limits, translator, penalty)
    model = hf_model(args.model) if not args.hf_folder else hf_pretrained(args.hf_folder)
    forced = {"forced_bos_token_id": prefix[0]} if prefix else {}
    skip = {model.config.eos_token_id, model.config.pad_token_id, *prefix}

    def run(batches):
        outputs = []
        with torch.inference_mode():
            for batch in batches:
                most, least = limits(batch)
                source = pad_sequences(batch, suffix=config.eos_id, pad=config.pad_id)
                generated = model.generate(input_ids=source, attention_mask=source != config.pad_id, num_beams=beam,
                                           do_sample=False, max_new_tokens=max(most) + len(prefix),
                                           min_new_tokens=max(least) + len(prefix),
                                           length_penalty=penalty if beam > 1 else 1.0, early_stopping=True, **forced)
                for row in generated[:, 1:].tolist():  # drop the decoder start token
                    outputs.append([t for t in row if t not in skip])
        return outputs
    return run


def hf_pretrained(folder: str):
    """The Hugging Face model a tcli model was imported from."""
    import logging

    from transformers import AutoModelForSeq2SeqLM

    logging.getLogger("transformers").setLevel(logging.ERROR)
    return AutoModelForSeq2SeqLM.from_pretrained(folder).eval()


def ct2_runner(args: argparse.Namespace, beam: int, limits, translator, penalty: float):
    """All sentences in one asynchronous translate_batch call per length limit, as tcli's backend does
    (with its forced target prefix and suppressed tokens)."""
    import ctranslate2

    from translate_cli.core.architecture import suppressed_ids
    from translate_cli.core.ct2.runtime import CT2Threads, batch_size, threads_for

    kind, compute_type, layout = CT2_SYSTEMS[args.system]
    config, tokenizer = translator.info.model, translator.tokenizer
    pieces = tokenizer.pieces(range(tokenizer.vocab_size))
    forced = [pieces[i] for i in translator.target_prefix]
    # The converted HF peer calls tcli's <pad> "<tcli-pad>" (see marian_tokenizer).
    renamed = {config.pad_id: "<tcli-pad>"} if kind.startswith("hf-") else {}
    suppress = [[renamed.get(i, pieces[i])] for i in suppressed_ids(config)]
    threads = threads_for(args.threads) if layout == "tcli" else CT2Threads(1, args.threads)
    ct2 = ctranslate2.Translator(str(Path(args.ct2) / kind), device="cpu", compute_type=compute_type,
                                 inter_threads=threads.inter_threads, intra_threads=threads.intra_threads)

    def run(batches):
        flat = [ids for batch in batches for ids in batch]
        most, least = limits(flat)
        groups: dict[tuple, list[int]] = {}
        for index, key in enumerate(zip(most, least)):
            groups.setdefault(key, []).append(index)
        size = batch_size(len(flat), threads.inter_threads) if layout == "tcli" else 64
        pending = []
        for (limit, minimum), indices in groups.items():
            tokens = [[pieces[i] for i in flat[index]] + [pieces[config.eos_id]] for index in indices]
            pending.append(ct2.translate_batch(tokens, beam_size=beam, max_decoding_length=limit + len(forced),
                                               min_decoding_length=minimum + len(forced), length_penalty=penalty,
                                               target_prefix=[forced] * len(indices) if forced else None,
                                               suppress_sequences=suppress, max_batch_size=size, asynchronous=True))
        return [found.result().hypotheses[0][len(forced):] for results in pending for found in results]
    return run


def torchao_int8(model):
    """int8 weights and dynamically quantized int8 activations through torchao (the successor of
    torch.ao.quantization.quantize_dynamic), with the tied output projection copied as quantize_int8 does."""
    from torch import nn
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    config = model.config
    projection = nn.Linear(config.d_model, config.vocab_size, bias=False)
    projection.weight = nn.Parameter(model.embedding.weight.detach().clone())
    model.output_projection = projection
    quantize_(model.eval(), Int8DynamicActivationInt8WeightConfig())
    return model


def export_ct2_models(model: str, folder: Path, systems: list[str]) -> None:
    """tcli's exports (fp32, int8) and, for hf-ct2 rows, the HF peer converted by CTranslate2's own converter."""
    kinds = {CT2_SYSTEMS[s][0] for s in systems if s in CT2_SYSTEMS}
    for kind, option in (("fp32", "none"), ("int8", "int8")):
        if kind in kinds:
            subprocess.run([sys.executable, "-m", "translate_cli", "export", model, "-o", str(folder / kind),
                            "--quantization", option], check=True)
    if kinds & {"hf-fp32", "hf-int8"}:
        import ctranslate2

        hf_dir = folder / "hf"
        hf_model(model, marian_pad=True).save_pretrained(hf_dir)
        marian_tokenizer(model, hf_dir)
        for kind, quantization in (("hf-fp32", None), ("hf-int8", "int8")):
            if kind in kinds:
                ctranslate2.converters.TransformersConverter(str(hf_dir)).convert(str(folder / kind),
                                                                                 quantization=quantization)


def marian_tokenizer(model: str, folder: Path) -> None:
    """A MarianTokenizer over tcli's SentencePiece model and pieces, in tcli's id order, so the converted
    model's vocabulary is the same as the export's (CTranslate2's converter reads it from the tokenizer).
    tcli's <pad> (id 0, never in an input) is renamed: Marian's <pad> is the extra last row."""
    from transformers import MarianTokenizer

    from translate_cli.core.tokenizer import SentencePieceTokenizer

    spm_path = Path(model) / "spm.model"
    tokenizer = SentencePieceTokenizer(spm_path)
    vocab = {piece: i for i, piece in enumerate(tokenizer.pieces(range(tokenizer.vocab_size))) if i}
    vocab.update({"<tcli-pad>": 0, "<pad>": tokenizer.vocab_size})
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    MarianTokenizer(str(spm_path), str(spm_path), str(folder / "vocab.json")).save_pretrained(folder)


def spawn(args: argparse.Namespace, system: str, search: str, mode: str, ct2_dir: str | None) -> dict:
    command = [sys.executable, __file__, "--worker", "--system", system, "--search", search, "--mode", mode,
               "--model", args.model, "--src", args.src, "--threads", str(args.threads), "--tokens", str(args.tokens),
               "--batch-tokens", str(args.batch_tokens), "--repeat", str(args.repeat)]
    if ct2_dir:
        command += ["--ct2", ct2_dir]
    if args.hf_folder:
        command += ["--hf-folder", args.hf_folder]
    if args.to:
        command += ["--to", args.to]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{system}/{search}/{mode} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=20, help="output tokens per sentence in the equal mode")
    parser.add_argument("--batch-tokens", type=int, default=6000)
    parser.add_argument("--systems", default="tcli,tcli-int8,hf,ct2")
    parser.add_argument("--modes", default="equal,real")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per process (the best counts)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="every measurement runs this many times, interleaved with the others; the best counts")
    parser.add_argument("--searches", default="greedy,beam5")
    parser.add_argument("--json", default="docs/bench_decode.json")
    parser.add_argument("--hf-folder", help="the Hugging Face folder --model was imported from (the peer)")
    parser.add_argument("--to", help="target language, for a model with several")
    parser.add_argument("--models", help="NAME=DIR,NAME=DIR: compare several models (a teacher and its student) "
                        "through the same systems, in one run; ratios are against the first")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--search", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--ct2", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args)))
        return
    systems = args.systems.split(",")
    if args.models:
        compare_models(args, systems)
        return
    with tempfile.TemporaryDirectory() as scratch:
        ct2_dir = None
        if any(system in CT2_SYSTEMS for system in systems):
            ct2_dir = str(Path(scratch) / "ct2")
            export_ct2_models(args.model, Path(ct2_dir), systems)
        plan = [(system, search, mode) for mode in args.modes.split(",") for search in args.searches.split(",")
                for system in systems]
        best: dict[tuple, dict] = {}
        for _ in range(args.rounds):  # interleaved, so a slow spell of the machine hits every system alike
            for key in plan:
                row = spawn(args, *key, ct2_dir)
                if key not in best or row["seconds"] < best[key]["seconds"]:
                    best[key] = row
        rows = [best[key] for key in plan]
    report(rows, args)


def compare_models(args: argparse.Namespace, systems: list[str]) -> None:
    """Every model through every system (their own exports), interleaved; sentences/s against the first."""
    from rich.console import Console
    from rich.table import Table

    models = [item.split("=", 1) for item in args.models.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        exports = {}
        for name, folder in models:
            exports[name] = str(Path(scratch) / name)
            if any(system in CT2_SYSTEMS for system in systems):
                export_ct2_models(folder, Path(exports[name]), systems)
        plan = [(name, folder, system, search, mode) for mode in args.modes.split(",")
                for search in args.searches.split(",") for system in systems for name, folder in models]
        best: dict[tuple, dict] = {}
        for _ in range(args.rounds):
            for name, folder, system, search, mode in plan:
                row = spawn(argparse.Namespace(**{**vars(args), "model": folder}), system, search, mode, exports[name])
                key = (name, system, search, mode)
                if key not in best or row["seconds"] < best[key]["seconds"]:
                    best[key] = {**row, "model": name, "model_dir": folder}
    rows = list(best.values())
    first = models[0][0]
    table = Table(title=f"{rows[0]['sentences']} sentences, {args.threads} threads (ratios vs {first})")
    for column in ("mode", "search", "system", "model", "sent/s", "tok/s", f"sent/s ÷ {first}"):
        table.add_column(column)
    for row in rows:
        base = best[(first, row["system"], row["search"], row["mode"])]
        row["sentences_per_s_vs_first"] = round(row["sentences_per_s"] / base["sentences_per_s"], 2)
        table.add_row(row["mode"], row["search"], row["system"], row["model"], f"{row['sentences_per_s']:.1f}",
                      f"{row['tokens_per_s']:.0f}", str(row["sentences_per_s_vs_first"]))
    Console().print(table)
    Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "threads": args.threads, "rows": rows},
                                          indent=2))


def report(rows: list[dict], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    baseline = {(r["search"], r["mode"]): r for r in rows if r["system"] == "hf"}
    table = Table(title=f"decoding {rows[0]['sentences']} sentences, {args.threads} threads, batches of "
                        f"{args.batch_tokens} tokens (ratios vs hf)")
    for column in ("mode", "search", "system", "sent/s", "tok/s", "peak RSS MB", "sent/s ÷ hf", "tok/s ÷ hf"):
        table.add_column(column, justify="right" if column not in ("mode", "search", "system") else "left")
    for row in rows:
        peer = baseline.get((row["search"], row["mode"]))
        row["sentences_per_s_vs_hf"] = round(row["sentences_per_s"] / peer["sentences_per_s"], 2) if peer else None
        row["tokens_per_s_vs_hf"] = round(row["tokens_per_s"] / peer["tokens_per_s"], 2) if peer else None
        table.add_row(row["mode"], row["search"], row["system"], f"{row['sentences_per_s']:.1f}",
                      f"{row['tokens_per_s']:.0f}", f"{row['peak_rss_mb']:.0f}", str(row["sentences_per_s_vs_hf"]),
                      str(row["tokens_per_s_vs_hf"]))
    Console().print(table)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "threads": args.threads,
                                           "batch_tokens": args.batch_tokens, "equal_tokens": args.tokens,
                                           "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
