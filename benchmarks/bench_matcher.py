#!/usr/bin/env python3
"""Matcher figures: accuracy (held-out, CLINC150 test splits) and speed (per utterance, CLI start-up).

Run from the repository root: .venv/bin/python benchmarks/bench_matcher.py [--clinc PATH]
(CLINC150 is read from ../shared beside the checkout by default; without it that part is skipped.)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from voicecoach.text import knowledge
from voicecoach.text.evaluation import (
    accuracy,
    command_rate,
    knee_advice_rate,
    load_clinc,
    read_labelled,
    unrelated_acted_on,
    unrelated_commanded,
)
from voicecoach.text.matcher import Matcher

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLINC = ROOT.parent / "shared" / "datasets" / "clinc150" / "data_full.json"
FIRST_QUESTION = "my knees hurt after squats"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clinc", type=Path, default=DEFAULT_CLINC)
    args = parser.parse_args()
    kb = knowledge.load()
    matcher = Matcher(kb)
    print(f"held-out top-1:        {accuracy(matcher, read_labelled(ROOT / 'tests' / 'data' / 'heldout.tsv'))}")
    if args.clinc.exists():
        queries = list(load_clinc(args.clinc, ["test", "oos_test"]))
        print(f"CLINC test knee advice: {knee_advice_rate(matcher, queries)}  (target <= 0.5%)")
        print(f"CLINC test commands:    {command_rate(matcher, queries)}  (target >= 90%)")
        print(f"CLINC test acted on:    {unrelated_acted_on(kb, queries)}  (knee advice or warm-up; target 0)")
        after = unrelated_acted_on(kb, queries, after=FIRST_QUESTION)
        print(f"  as follow-ups:        {after}  (asked right after a knee answer; target 0)")
        print(f"CLINC test commanded:   {unrelated_commanded(matcher, queries)}  (stop, pause, louder, goodbye, ...)")
        texts = [t for t, _ in queries]
    else:
        print(f"CLINC150 not found at {args.clinc}: accuracy on it skipped")
        texts = [line.text for _, line in kb.phrasings()]
    texts += [t for _, t in read_labelled(ROOT / "tests" / "data" / "heldout.tsv")]
    for text in texts[:200]:
        matcher.match(text)  # warm caches as a running coach would have them
    timings = []
    for text in texts:
        start = time.perf_counter_ns()
        matcher.match(text)
        timings.append((time.perf_counter_ns() - start) / 1e6)
    timings.sort()
    p99 = timings[int(len(timings) * 0.99)]
    print(
        f"per utterance ({len(timings)}): p50 {statistics.median(timings):.3f} ms, p99 {p99:.3f} ms (p99 target 1 ms)"
    )
    runs = []
    for _ in range(10):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "voicecoach", "ask", "my knees hurt after squats"], check=True, capture_output=True
        )
        runs.append((time.perf_counter() - start) * 1000)
    print(
        f"`voicecoach ask` start-up to answer: median {statistics.median(runs):.0f} ms, "
        f"best {min(runs):.0f} ms over 10 runs (target <= 300 ms)"
    )


if __name__ == "__main__":
    main()
