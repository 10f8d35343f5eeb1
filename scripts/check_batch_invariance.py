"""Does a sentence's translation depend on the other sentences in its batch? (The server's batches differ
from `tcli translate`'s, so its answers are only identical if it does not.)

    python scripts/check_batch_invariance.py --model runs/en-ja/best --src ../shared/data/en-ja/tanaka50k/test.en

Translates the first --lines sentences once as `tcli translate` batches them, then again in random groups
of 1 to --max-group sentences in shuffled order (as concurrent requests merge in the server), for greedy
and beam search, and prints how many translations differ.
"""

from __future__ import annotations

import argparse
import random

import torch

from translate_cli.core.checkpoint import load_model
from translate_cli.core.translator import Translator


def random_groups(count: int, most: int, rng: random.Random) -> list[list[int]]:
    order = list(range(count))
    rng.shuffle(order)
    groups, start = [], 0
    while start < count:
        size = rng.randint(1, most)
        groups.append(order[start:start + size])
        start += size
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--lines", type=int, default=150)
    parser.add_argument("--max-group", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_model(args.model)
    translator = Translator(loaded)
    with open(args.src, encoding="utf-8") as source:
        lines = source.read().splitlines()[:args.lines]
    for beam in (1, 5):
        options = loaded.info.decode.updated(beam_size=beam)
        together = [t.text for t in translator.translate(lines, options)]
        grouped: dict[int, str] = {}
        for group in random_groups(len(lines), args.max_group, random.Random(0)):
            for index, translation in zip(group, translator.translate([lines[i] for i in group], options)):
                grouped[index] = translation.text
        differ = [i for i in range(len(lines)) if grouped[i] != together[i]]
        print(f"beam {beam}: {len(differ)} of {len(lines)} translations differ between batchings")
        for index in differ[:5]:
            print(f"  {lines[index]!r}: {together[index]!r} vs {grouped[index]!r}")


if __name__ == "__main__":
    main()
