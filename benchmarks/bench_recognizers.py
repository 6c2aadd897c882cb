"""Speed, memory and accuracy of each recogniser on espeak-ng speech of held-out questions.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_recognizers.py [--voices en-us,en-gb,en-029] [--model VOSK_DIR]

Each engine runs in its own subprocess so `ru_maxrss` is that engine's peak memory alone. Speech is
synthesised with several espeak-ng voices from questions that are *not* knowledge-base phrasings (the
grammar must generalise) and from off-topic sentences (must not decode to knee words).
Reported: load seconds, real-time factor, peak RSS, word error rate on the knee questions, key-word
recall (knee/squat/... words of the reference found), and off-topic utterances that decoded to a knee word.

Measured (x86-64, 2 cores, shipped intents/, 63 utterances = 21 sentences x en-us/en-gb/en-029):
  pocketsphinx-lm:   WER 43.7%, key-word recall 75%, off-topic with knee words 0/18, RTF 0.032,
                     peak RSS 48 MB, load 0.16 s (2026-11-25; was WER 45.9%, recall 71%, 1/18 before the
                     garbage sentences of recognizer/chatter.py)
  (a JSGF loop of phrases + words + garbage gave no result within 600 s for the 21 en-us utterances,
  RTF > 8: the FSG search explodes, so it was removed and the n-gram is the only PocketSphinx search)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELD_OUT = (
    "my knees hurt when i do lunges",
    "my knee aches after heavy squats",
    "why does my knee hurt on the leg press",
    "my knees are sore after running",
    "how do i stop knee pain on the treadmill",
    "the leg extension machine hurts my knee",
    "how do i warm up my knees before squatting",
    "what exercise makes my knees stronger",
    "my kneecap hurts after leg day",
    "knee pain when i squat heavy",
    "should i do sissy squats for weak knees",
    "my knees hurt after jogging",
    "stop",
    "tell me more",
    "slow down",
)
OFF_TOPIC = (
    "what's the weather tomorrow",
    "my shoulder hurts when i bench",
    "play some rock music",
    "what time does the gym close",
    "my back is sore from deadlifts",
    "call my brother",
)
KEY_WORDS = frozenset("knee knees kneecap squat squats squatting lunges treadmill extension leg press".split())
ENGINES = ("pocketsphinx-lm", "vosk")


def synthesise(folder: Path, voices: list[str]) -> list[tuple[str, Path]]:
    out = []
    for voice in voices:
        for i, text in enumerate(HELD_OUT + OFF_TOPIC):
            path = folder / f"{voice}-{i:02d}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
            out.append((text, path))
    return out


def worker(engine: str, files: list[str], model: str | None) -> dict[str, object]:
    """Runs in the subprocess: load one engine, decode every file, report timings and transcripts."""
    from voicecoach.audio.chunks import read_wav, samples_to_chunks
    from voicecoach.recognizer import Recognizer, transcribe_chunks
    from voicecoach.text import knowledge
    from voicecoach.text.domain import build_domain

    domain = build_domain(knowledge.load())
    start = time.perf_counter()
    recognizer: Recognizer
    if engine == "vosk":
        from voicecoach.recognizer.vosk_engine import VoskRecognizer

        recognizer = VoskRecognizer(model or "", domain)
    else:
        from voicecoach.recognizer.pocketsphinx_engine import PocketSphinxRecognizer

        recognizer = PocketSphinxRecognizer(domain)
    load = time.perf_counter() - start
    audio_seconds = decode_seconds = 0.0
    texts = []
    for name in files:
        samples = read_wav(name)
        import numpy as np

        samples = np.concatenate([samples, np.zeros(8000, dtype="<i2")])
        audio_seconds += len(samples) / 16000
        recognizer.reset()
        t = time.perf_counter()
        results = transcribe_chunks(recognizer, samples_to_chunks(samples))
        decode_seconds += time.perf_counter() - t
        texts.append(" ".join(r.text for r in results if r.text))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "engine": engine,
        "description": recognizer.description,
        "load_s": load,
        "rtf": decode_seconds / audio_seconds,
        "rss_mb": rss_mb,
        "texts": texts,
        "missing": len(recognizer.missing_words),
    }


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def score(refs: list[str], hyps: list[str]) -> dict[str, float]:
    errors = words = keys = keys_found = false_hits = off = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        if ref in OFF_TOPIC:
            off += 1
            false_hits += bool(KEY_WORDS & set(hyp.split()))
            continue
        errors += edit_distance(ref.split(), hyp.split())
        words += len(ref.split())
        wanted = KEY_WORDS & set(ref.split())
        keys += len(wanted)
        keys_found += len(wanted & set(hyp.split()))
    return {
        "wer": errors / words,
        "key_recall": keys_found / max(1, keys),
        "off_topic_knee_hits": false_hits,
        "off_topic": off,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", default="en-us,en-gb,en-029")
    parser.add_argument("--model", help="Vosk English model folder (default: the installed one, if any)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.files, args.model)))
        return
    if shutil.which("espeak-ng") is None:
        sys.exit("bench_recognizers: needs espeak-ng to speak the questions (apt-get install espeak-ng)")
    from voicecoach.recognizer.models import find_model

    model = args.model or (str(find_model()[0]) if find_model()[0] else None)
    with tempfile.TemporaryDirectory() as tmp:
        samples = synthesise(Path(tmp), args.voices.split(","))
        refs = [text for text, _ in samples]
        print(f"{len(samples)} utterances, voices {args.voices}")
        for engine in args.engines.split(","):
            if engine == "vosk" and not model:
                print("vosk: skipped (no English Vosk model installed: voicecoach model download, or --model)")
                continue
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                engine,
                *(["--model", model] if model else []),
                *(str(p) for _, p in samples),
            ]
            try:
                done = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                    env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                )
            except subprocess.TimeoutExpired:
                print(f"{engine}: gave up after {args.timeout:.0f} s")
                continue
            if done.returncode:
                print(f"{engine}: failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            s = score(refs, result["texts"])
            print(
                f"{engine}: WER {s['wer']:.1%}, key-word recall {s['key_recall']:.1%}, off-topic with knee words "
                f"{s['off_topic_knee_hits']}/{s['off_topic']}, RTF {result['rtf']:.3f}, peak RSS "
                f"{result['rss_mb']:.0f} MB, load {result['load_s']:.2f} s, missing words {result['missing']}"
            )
            print(f"  ({result['description']})")
            if os.environ.get("BENCH_VERBOSE"):
                for ref, hyp in zip(refs, result["texts"], strict=True):
                    print(f"    {ref!r} -> {hyp!r}")


if __name__ == "__main__":
    main()
