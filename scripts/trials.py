"""Run training trials of a config, one after another, each for its full time budget, and record them.

    python scripts/trials.py configs/en-hi.yaml --trial vocab4k vocab.size=4000 --trial drop3 model.dropout=0.3 \\
        --eval iitb-dev=en-hi/iitb18k/dev:hi:1000 --eval iitb-test=en-hi/iitb18k/test:hi --eval flores=flores200/devtest:hi

Each trial prepares its own data folder and trains in /work/trials/CONFIG/TRIAL (override with --root), then
`tcli evaluate`s its best model (the config's decoding settings) on every --eval set (NAME=PREFIX:LANG[:LINES]
under ../shared/data) and appends one JSON line to docs/trials/CONFIG.jsonl: the overrides, the exact
commands, steps and minutes trained, and every score, with the count of degenerate outputs (empty lines,
and lines stuck in a loop, see is_degenerate).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

TCLI = [sys.executable, "-m", "translate_cli"]


def run(command: list[str], log) -> str:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}")
    return done.stdout


def is_degenerate(line: str) -> bool:
    """Empty, or stuck in a loop: a token, or a run of 2-4 tokens, repeated 3 times in a row (tokens are
    words; characters for text without spaces)."""
    tokens = line.split() if " " in line.strip() else list(line.strip())
    if not tokens:
        return True
    for n in range(1, 5):
        for start in range(len(tokens) - 3 * n + 1):
            gram = tokens[start:start + n]
            if tokens[start + n:start + 2 * n] == gram and tokens[start + 2 * n:start + 3 * n] == gram:
                return n > 1 or gram[0].isalpha()  # "...", "!!!" or "000" repeat legitimately
    return False


def degenerate(lines: list[str]) -> int:
    return sum(map(is_degenerate, lines))


def evaluate(model: Path, name: str, spec: str, shared: Path, folder: Path, log) -> dict:
    prefix, lang, *limit = spec.split(":")
    source, reference = (shared / f"{prefix}.en", shared / f"{prefix}.{lang}")
    if limit:
        for path in (source, reference):
            lines = path.read_text(encoding="utf-8").splitlines()[:int(limit[0])]
            (folder / f"{name}{path.suffix}").write_text("\n".join(lines) + "\n", encoding="utf-8")
        source, reference = folder / f"{name}.en", folder / f"{name}.{lang}"
    hypothesis, report = folder / f"{name}.hyp", folder / f"{name}.json"
    command = [*TCLI, "evaluate", str(model), "--to", lang, "--src", str(source), "--ref", str(reference),
               "-o", str(hypothesis), "--json", str(report)]
    started = time.time()
    run(command, log)
    scores = json.loads(report.read_text(encoding="utf-8"))
    outputs = hypothesis.read_text(encoding="utf-8").splitlines()
    return {"bleu": scores["bleu"], "chrf": scores["chrf"], "lines": len(outputs), "degenerate": degenerate(outputs),
            "seconds": round(time.time() - started), "command": " ".join(command[2:])}


def trial(config: Path, name: str, overrides: list[str], args: argparse.Namespace) -> dict:
    folder = Path(args.root) / config.stem / name
    folder.mkdir(parents=True, exist_ok=True)
    settings = [f"data_root={args.shared}", f"work_dir={folder}", f"data_dir={folder}/data", *overrides]
    with open(folder / "trial.log", "a", encoding="utf-8") as log:
        started = time.time()
        run([*TCLI, "prepare", str(config), *settings], log)
        run([*TCLI, "train", str(config), *settings, "--overwrite"], log)
        minutes = round((time.time() - started) / 60, 1)
        entries = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
        last = [e for e in entries if e["type"] == "train"][-1]
        best = json.loads((folder / "best/model.json").read_text())["training"]["step"]
        record = {"config": str(config), "trial": name, "overrides": overrides, "steps": last["step"],
                  "train_minutes": round(last["elapsed_s"] / 60, 1), "wall_minutes": minutes, "best_step": best,
                  "commands": [f"tcli prepare {config} {' '.join(settings)}",
                               f"tcli train {config} {' '.join(settings)}"], "scores": {}}
        for spec in args.eval:
            set_name, set_spec = spec.split("=", 1)
            record["scores"][set_name] = evaluate(folder / "best", set_name, set_spec, Path(args.shared), folder, log)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path)
    parser.add_argument("--trial", nargs="+", action="append", required=True, metavar=("NAME", "KEY=VALUE"))
    parser.add_argument("--eval", action="append", default=[], metavar="NAME=PREFIX:LANG[:LINES]")
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("--root", default="/work/trials")
    parser.add_argument("--record", default=None, help="JSON lines file (default docs/trials/CONFIG.jsonl)")
    args = parser.parse_args()
    record_path = Path(args.record or f"docs/trials/{args.config.stem}.jsonl")
    record_path.parent.mkdir(parents=True, exist_ok=True)
    for name, *overrides in args.trial:
        result = trial(args.config, name, overrides, args)
        with open(record_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(result, ensure_ascii=False) + "\n")
        scores = "  ".join(f"{k} {v['bleu']}/{v['chrf']}" for k, v in result["scores"].items())
        print(f"{name}: {result['steps']} steps, best {result['best_step']}: {scores}", flush=True)


if __name__ == "__main__":
    main()
