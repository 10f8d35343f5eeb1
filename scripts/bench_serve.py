"""Load test of `tcli serve`: dynamic batching against one-request-per-model-call, in the same run.

    python scripts/bench_serve.py --model runs/en-ja/best --src ../shared/data/en-ja/tanaka50k/test.en

`--clients` threads (32) send `--requests` requests (2,000) of 1-5 sentences drawn from SRC, over
keep-alive connections on loopback, first to `tcli serve` with batching on, then with --no-batching.
Every response is compared with what `tcli translate` gives for the same sentences (one run over the
whole file, same decode settings): a lost, swapped or mixed-up response counts as a mismatch. Both
servers are started with the real CLI, side by side, and stopped with SIGTERM (each must exit 0); the
requests go in --rounds slices with the modes alternating, because the machine is shared and its
other load drifts. Prints a table and writes JSON (--json). Bounded: each mode stops sending after
--max-seconds in all.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--src", required=True, help="source sentences, one per line")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-sentences", type=int, default=5, help="sentences per request: 1 to this")
    parser.add_argument("--threads", type=int, default=2, help="server's PyTorch threads")
    parser.add_argument("--beam-size", type=int, default=None, help="default: the model's")
    parser.add_argument("--backend", default="native", choices=["native", "ctranslate2"])
    parser.add_argument("--max-seconds", type=float, default=900, help="per mode: stop sending after this")
    parser.add_argument("--rounds", type=int, default=4, help="slices of the requests, modes alternating")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", default="batched,unbatched")
    parser.add_argument("--json", default=None, help="write the results here")
    return parser.parse_args()


def decode_flags(args: argparse.Namespace) -> list[str]:
    flags = ["--threads", str(args.threads), "--backend", args.backend]
    return flags + (["--beam-size", str(args.beam_size)] if args.beam_size else [])


def tcli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "translate_cli", *arguments]


def reference(args: argparse.Namespace, lines: list[str]) -> dict[str, str]:
    """`tcli translate` over the whole source file: sentence -> its translation."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "out.txt"
        subprocess.run(tcli("translate", args.model, args.src, "-o", str(output), *decode_flags(args)), check=True)
        translations = output.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(translations) == len(lines), "tcli translate must give one line per input line"
    table: dict[str, str] = {}
    for line, translation in zip(lines, translations):
        if table.setdefault(line, translation) != translation:
            raise SystemExit(f"tcli translate itself gave two translations of {line!r}")
    return table


def make_requests(lines: list[str], count: int, most: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    sentences = [line for line in lines if line.strip()]
    return [rng.sample(sentences, rng.randint(1, most)) for _ in range(count)]


def start_server(args: argparse.Namespace, batching: bool) -> tuple[subprocess.Popen, int]:
    command = tcli("serve", args.model, "--port", "0", *decode_flags(args))
    command += [] if batching else ["--no-batching"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        found = re.search(r" on http://127\.0\.0\.1:(\d+)$", line.strip())
        if found:
            # Keep reading stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, int(found.group(1))
    raise SystemExit(f"tcli serve exited with {process.wait()} before listening")


def post(connection: http.client.HTTPConnection, texts: list[str]) -> tuple[int, object]:
    body = json.dumps({"q": texts, "source": "en", "format": "text"}).encode()
    connection.request("POST", "/translate", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def wait_ready(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} not ready after {timeout} s")


def load(port: int, requests: list[list[str]], expected: dict[str, str], clients: int, max_seconds: float) -> dict:
    """`clients` threads, each on its own keep-alive connection, take the next request until none are left."""
    latencies: list[float] = []
    problems = {"mismatches": 0, "errors": 0}
    examples: list[str] = []
    position = iter(range(len(requests)))
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.monotonic() < deadline:
            with lock:
                index = next(position, None)
            if index is None:
                return
            texts = requests[index]
            started = time.perf_counter()
            try:
                status, answer = post(connection, texts)
            except (OSError, http.client.HTTPException) as exc:  # counted, and a new connection
                status, answer = 0, {"error": repr(exc)}
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elapsed = time.perf_counter() - started
            wanted = [expected[text] for text in texts]
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    problems["errors"] += 1
                    if len(examples) < 5:
                        examples.append(f"HTTP {status}: {answer}")
                elif answer.get("translatedText") != wanted:
                    problems["mismatches"] += 1
                    if len(examples) < 5:
                        examples.append(f"{texts} -> {answer.get('translatedText')} (tcli translate: {wanted})")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - started, "latencies": latencies, "count": len(latencies),
            **problems, "examples": examples}


def summary(rounds: list[dict], mode: str, clients: int, exit_code: int) -> dict:
    """One mode's rounds together: sentences/s over the time spent sending, latency percentiles over all requests."""
    latencies = [value for part in rounds for value in part["latencies"]]
    seconds = sum(part["seconds"] for part in rounds)
    sentences = sum(part["sentences"] for part in rounds)
    return {"mode": mode, "clients": clients, "requests": len(latencies), "sentences": sentences,
            "seconds": round(seconds, 2), "sentences_per_s": round(sentences / seconds, 1),
            "requests_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)) * 1000),
            "p99_ms": round(float(np.percentile(latencies, 99)) * 1000),
            "mismatches": sum(part["mismatches"] for part in rounds), "errors": sum(part["errors"] for part in rounds),
            "server_exit_code": exit_code, "examples": [e for part in rounds for e in part["examples"]][:5]}


def run_modes(args: argparse.Namespace, requests: list[list[str]], expected: dict[str, str]) -> list[dict]:
    """Both servers run side by side; the requests are sent in --rounds slices, alternating the modes,
    so that a change in the machine's other load hits both alike."""
    modes = args.modes.split(",")
    servers = {mode: start_server(args, batching=mode == "batched") for mode in modes}
    measured: dict[str, list[dict]] = {mode: [] for mode in modes}
    exit_codes = {}
    try:
        for mode, (_, port) in servers.items():
            wait_ready(port)
            warm = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for texts in requests[:10]:  # first-call allocations, outside the measurement
                post(warm, texts)
            warm.close()
        size = -(-len(requests) // args.rounds)
        for start in range(0, len(requests), size):
            part = requests[start:start + size]
            for mode in modes:
                result = load(servers[mode][1], part, expected, args.clients, args.max_seconds / args.rounds)
                result["sentences"] = sum(len(texts) for texts in part[:result["count"]])  # the first `count`
                measured[mode].append(result)
    finally:
        for mode, (process, _) in servers.items():
            process.send_signal(signal.SIGTERM)
            exit_codes[mode] = process.wait(timeout=120)
    return [summary(measured[mode], mode, args.clients, exit_codes[mode]) for mode in modes]


def main() -> None:
    args = parse_args()
    lines = Path(args.src).read_text(encoding="utf-8").splitlines()
    expected = reference(args, lines)
    requests = make_requests(lines, args.requests, args.max_sentences, args.seed)
    results = run_modes(args, requests, expected)
    columns = ["mode", "clients", "requests", "sentences", "seconds", "sentences_per_s", "requests_per_s", "p50_ms",
               "p99_ms", "mismatches", "errors", "server_exit_code"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for result in results:
        print("| " + " | ".join(str(result[column]) for column in columns) + " |")
    if len(results) == 2 and results[1]["sentences_per_s"]:
        print(f"batched / unbatched throughput: {results[0]['sentences_per_s'] / results[1]['sentences_per_s']:.2f}x")
    for result in results:
        for example in result["examples"]:
            print(f"{result['mode']}: {example}")
    if args.json:
        record = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), "cpu_count": os.cpu_count(),
                  "settings": vars(args), "results": results}
        Path(args.json).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
