"""Triage speed, single process, on the corpus's texts (run: .venv/bin/python bench/triage.py).

Measures, in one run:
- per request: every corpus text classified one at a time by the whole engine (cue rules, rjieba,
  the linear model, the transfer-list matcher over the shipped province template), p50/p99 latency;
- batch: the same texts classified in chunks of 1,000 (Engine.classify_many, as the batch command
  does: the model scores a chunk in one numpy pass), requests per second;
- segmentation: rjieba against jieba (the baseline) on the same texts, and the ratio.
Goals (issue 5): p99 <= 0.5 ms, >= 20,000 requests/s, segmentation >= 20x jieba.
The model is trained on the corpus's training part first (not timed)."""
from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import percentile  # noqa: E402
from modules.triage import corpus  # noqa: E402
from modules.triage.engine import Engine  # noqa: E402
from modules.triage.matcher import Matcher  # noqa: E402
from modules.triage.model import train  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the texts (default 20)")
    args = parser.parse_args()
    texts = [e.text for e in corpus.load()] + [e.text for e in corpus.fresh()]
    engine = Engine(train(corpus.training()), Matcher.from_template())
    for text in texts:  # warm: caches, automata, allocator
        engine.classify(text)

    gc.disable()
    latencies = []
    for _ in range(max(1, args.rounds // 4)):
        for text in texts:
            start = time.perf_counter_ns()
            engine.classify(text)
            latencies.append((time.perf_counter_ns() - start) / 1e6)
    chunks = [texts[i:i + 1000] for i in range(0, len(texts), 1000)]
    start = time.perf_counter()
    for _ in range(args.rounds):
        for chunk in chunks:
            engine.classify_many(chunk)
    batch_seconds = time.perf_counter() - start
    gc.enable()
    batch_rate = args.rounds * len(texts) / batch_seconds

    import jieba
    import rjieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    rounds = max(1, args.rounds // 4)
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            rjieba.cut(text)
    fast = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            jieba.lcut(text)
    slow = time.perf_counter() - start

    p50, p99 = percentile(latencies, .50), percentile(latencies, .99)
    n = rounds * len(texts)
    print(f"texts {len(texts)} (mean {statistics.mean(len(t) for t in texts):.0f} characters)")
    print(f"per request  p50 {p50 * 1000:.0f} us   p99 {p99 * 1000:.0f} us   (goal p99 <= 500 us)")
    print(f"batch        {batch_rate:,.0f} requests/s   (goal >= 20,000)")
    print(f"segmentation rjieba {fast / n * 1e6:.1f} us/text, jieba {slow / n * 1e6:.1f} us/text: "
          f"ratio {slow / fast:.1f}x   (goal >= 20x)")
    per_request = batch_seconds / (args.rounds * len(texts))
    print(f"engine vs jieba segmentation alone: the whole engine is {slow / n / per_request:.1f}x "
          "faster than jieba only cutting the words")
    ok = p99 <= 0.5 and batch_rate >= 20_000 and slow / fast >= 20
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
