"""Spoken-question benchmark of the whole speech-in pipeline: accuracy, noise, off-domain, wake, latency, idle CPU.

Usage (from the repository root; datasets and tools come from ../shared beside the checkout):
    .venv/bin/python benchmarks/bench_speech.py [--part accuracy,noise,ood,wake,latency,idle] [--quick]
                                                [--jobs 2] [--workdir DIR] [--model VOSK_DIR] [--verbose]
                                                [--room-engine moonshine]

Parts (each prints its figures; a summary table and the command line come last):
  accuracy  held-out knee questions (tests/data/heldout.tsv, knee topics only) spoken by pyttsx3 in 3 voices,
            through the `voicecoach answer` path (WAV -> recogniser -> Dialogue): % with the right topic;
            again prefixed "hey coach, " through the same path, and through the listening loop in wake-word
            mode (a `Listener` with a simulated half-duplex voice and a clock driven by chunk timestamps).
  noise     the same with gym noise (shared tools/gym_noise.py) mixed in at 10 dB SNR: plain questions through
            the answer path (mix, then 1 s of silence as `answer` pads), "hey coach, ..." through the listen loop
            with the noise going on 0.5 s before and 2.5 s after the question (a gym does not fall silent).
  ood       ~150 CLINC150 test/oos_test queries (seeded sample) + tests/data/not_knee.txt, spoken: % that got
            a knee topic (Reply.topic set, which includes "did you mean ..." clarifications); target <= 1%.
  wake      gym noise through a Listener (wake word / always-on), clock driven by chunk timestamps: false turns
            per hour. Gated noise (8 s on, 2 s off; 10 min wake word, 5 min always-on) lets utterances end;
            2 min of continuous noise shows that none ever ends (and how the open utterance grows memory).
  latency   `voicecoach listen --json` in a private PulseAudio room; "hey coach, ..." questions played with
            paplay; the room recording goes through shared tools/reply_gaps.py: end of question to first reply
            sound, minus the endpointer's closing silence (voicecoach.recognizer.endpoint) ("beyond endpoint").
  idle      `voicecoach listen` in the room, 30 s of silence then 30 s of gym noise: CPU % of one core
            (/proc/PID/stat utime+stime) and peak memory (VmHWM) of the listen process.

Offline parts decode in `--jobs` worker processes (one recogniser each); room parts run alone afterwards so
their timing and CPU figures are not disturbed. Engines: PocketSphinx always; Vosk only when an English
model is installed (else "n/a"). The room parts run whatever `voicecoach listen` picks (the default engine).
The parts live in benchmarks/speech/ (one module each); this file runs them in order and prints the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import shlex
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's voicecoach, not whichever one is installed

from speech import accuracy, ood, room, wake  # noqa: E402
from speech.common import PARTS, VOICES, Speaker, Summary, find_engines, header, heldout_knee, missing_parts  # noqa: E402
from speech.jobs import Job, Result, run_job  # noqa: E402
from speech.noise import SNR_DB, make_noise  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", default=",".join(PARTS), help=f"comma-separated, from {','.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="small samples (about 2 minutes)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="decoding worker processes")
    parser.add_argument("--workdir", help="keep the WAVs here (default: a temporary folder, removed)")
    parser.add_argument("--model", help="Vosk English model folder (default: the installed one, if any)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ood-count", type=int, default=150, help="CLINC150 queries in the off-domain sample")
    parser.add_argument("--noise-seconds", type=float, default=600.0, help="gym noise for the false-wake part")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--latency-count", type=int, default=5)
    parser.add_argument(
        "--room-engine", help="the engine `voicecoach listen` runs in the latency and idle parts (default: its own)"
    )
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    parts = [p.strip() for p in args.part.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {','.join(PARTS)}")
    if missing := missing_parts(parts):
        sys.exit(f"bench_speech: --part {','.join(parts)} {missing}")
    if args.quick:
        args.ood_count, args.noise_seconds = min(args.ood_count, 30), min(args.noise_seconds, 120.0)
        args.idle_seconds, args.latency_count = min(args.idle_seconds, 10.0), min(args.latency_count, 3)
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        workdir = Path(args.workdir) if args.workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        run(args, parts, workdir)
    print(f"\ncommand: {command}\nelapsed: {time.monotonic() - began:.0f} s", flush=True)


def run(args: argparse.Namespace, parts: list[str], workdir: Path) -> None:
    from voicecoach.text import knowledge

    kb = knowledge.load()
    topics = {t.id for t in kb.topics}
    engines = find_engines(args.model)
    usable = [e for e in engines if e.unavailable is None]
    summary = Summary()
    speaker = Speaker(workdir / "spoken")
    questions = heldout_knee(topics)
    voices = list(VOICES)
    if args.quick:
        per_topic: Counter[str] = Counter()
        questions = [q for q in questions if (per_topic.update([q[1]]) or per_topic[q[1]] <= 2)]
    print(
        f"engines: {', '.join(e.name + (': ' + e.unavailable if e.unavailable else '') for e in engines)}; "
        f"{len(questions)} held-out knee questions x {len(voices)} voices; parts {','.join(parts)}"
        + (" (quick)" if args.quick else ""),
        flush=True,
    )
    noise: Path | None = None
    if {"noise", "wake", "idle"} & set(parts):
        noise = make_noise(workdir, args.noise_seconds, args.idle_seconds, args.seed)

    t = time.monotonic()
    wake_jobs: list[Job] = []
    if "wake" in parts and noise is not None:
        wake_jobs = wake.wake_jobs(usable, noise, workdir, args.noise_seconds)
    results: list[Result] = []
    context = multiprocessing.get_context("spawn")  # espeak-ng threads live in this process: never fork it
    with context.Pool(max(1, args.jobs)) as pool:
        # The long false-wake decodes start at once and run while this process synthesises the questions.
        waking = pool.map_async(run_job, wake_jobs, chunksize=1)
        jobs: list[Job] = []
        if "accuracy" in parts:
            jobs += accuracy.accuracy_jobs(
                usable, speaker, questions, voices, noise=None, group="accuracy", seed=args.seed
            )
        if "noise" in parts:
            jobs += accuracy.accuracy_jobs(
                usable, speaker, questions, voices, noise=noise, group="noise", seed=args.seed
            )
        if "ood" in parts:
            jobs += ood.ood_jobs(usable, speaker, ood.ood_texts(args.ood_count, args.seed))
        if jobs or wake_jobs:
            print(
                f"{speaker.count} utterances synthesised, {len(jobs) + len(wake_jobs)} decodes "
                f"(prepared in {time.monotonic() - t:.1f} s)",
                flush=True,
            )
        results = pool.map(run_job, jobs, chunksize=2) + waking.get()
    if results:
        audio = sum(r.seconds for r in results)
        cpu = sum(r.decode_seconds for r in results)
        print(
            f"decoded {audio / 60:.1f} min of audio in {time.monotonic() - t:.0f} s wall (synthesis included), "
            f"{cpu:.0f} s CPU (RTF {cpu / max(audio, 1e-9):.3f} incl. dialogue) on {args.jobs} workers",
            flush=True,
        )
    if "accuracy" in parts:
        accuracy.report_accuracy(
            "1. spoken held-out knee questions: right topic", "accuracy", results, engines, summary, args.verbose
        )
    if "noise" in parts:
        accuracy.report_accuracy(
            f"2. the same with gym noise at {SNR_DB:g} dB SNR: right topic",
            "noise",
            results,
            engines,
            summary,
            args.verbose,
        )
    if "ood" in parts:
        ood.report_ood(results, engines, summary, args.verbose)
    if "wake" in parts:
        wake.report_wake(results, engines, summary)
    default_engine = "vosk" if usable[-1].name == "vosk" else "pocketsphinx"
    if "latency" in parts:
        rng = random.Random(args.seed)
        picks = [rng.choice([q for q in questions if q[1] == topic]) for topic in sorted(topics)]
        room.run_latency(speaker, picks[: args.latency_count], workdir, summary, args.room_engine or default_engine,
                         chosen=args.room_engine is not None)  # fmt: skip
    if "idle" in parts and noise is not None:
        room.run_idle(noise, args.idle_seconds, workdir, summary, args.room_engine or default_engine,
                      chosen=args.room_engine is not None)  # fmt: skip
    header("summary")
    summary.print([e.name for e in engines])
    for engine in engines:
        if engine.unavailable:
            print(f"{engine.name}: {engine.unavailable}")


if __name__ == "__main__":
    main()
