"""Which resampler the recogniser prefers: right answers on held-out questions, per resampler.

Usage: .venv/bin/python benchmarks/bench_resample.py [--every N]

Speaks `tests/data/heldout.tsv` (every Nth line) with three espeak-ng voices through pyttsx3 at 22.05 kHz,
brings it to 16 kHz with each candidate, decodes with the default engine and runs the dialogue as
`voicecoach answer` does. Prints right answers, right-topic confirmations and wrong-topic advice.
soxr is measured when installed (pip install soxr); it is not a dependency.

Measured (x86-64, 2 cores, PocketSphinx, --every 3: 159 utterances, 2026-11-29):
  linear (voicecoach.audio.resample)  right 76  confirmed 18  wrong 6
  soxr QQ                             right 70  confirmed 19  wrong 7
  soxr HQ                             right 53  confirmed 22  wrong 6
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voicecoach.audio.chunks import samples_to_chunks
from voicecoach.audio.resample import resample
from voicecoach.recognizer import open_recognizer, transcribe_chunks
from voicecoach.recognizer.base import heard_and_sure
from voicecoach.text import knowledge
from voicecoach.text.dialogue import Dialogue
from voicecoach.text.domain import build_domain
from voicecoach.voice import Pyttsx3Synthesizer, VoiceSettings

HELD_OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "heldout.tsv"
VOICES = (
    VoiceSettings(rate=165),
    VoiceSettings(voice="gmw/en-us", rate=140),
    VoiceSettings(voice="gmw/en-GB-x-rp", rate=180),
)
Resampler = Callable[[np.ndarray, int], np.ndarray]


def candidates() -> dict[str, Resampler]:
    found: dict[str, Resampler] = {"linear": lambda samples, rate: resample(samples, rate, 16_000)}
    try:
        import soxr
    except ImportError:
        print("soxr not installed: measuring linear interpolation only (pip install soxr)")
        return found
    for quality in ("QQ", "HQ"):

        def run(samples: np.ndarray, rate: int, quality: str = quality) -> np.ndarray:
            out = soxr.resample(samples.astype(np.float32), rate, 16_000, quality=quality)
            return np.asarray(np.clip(np.round(out), -32768, 32767), dtype="<i2")

        found[f"soxr {quality}"] = run
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=3, help="take every Nth held-out line (1: all)")
    args = parser.parse_args()
    rows = [line.rstrip("\n").split("\t") for line in HELD_OUT.read_text().splitlines() if "\t" in line]
    rows = [row for row in rows if not row[0].startswith("#")][:: args.every]
    kb = knowledge.load()
    recognizer = open_recognizer(build_domain(kb))
    synth = Pyttsx3Synthesizer()
    methods = candidates()
    scores = {name: [0, 0, 0] for name in methods}
    for voice in VOICES:
        for expected, text in rows:
            clip = synth.render(text, voice)
            samples = np.frombuffer(clip.audio, "<i2")
            for name, method in methods.items():
                audio = np.concatenate([method(samples, clip.rate), np.zeros(16_000, "<i2")])
                recognizer.reset()
                heard, sure = heard_and_sure(transcribe_chunks(recognizer, samples_to_chunks(audio)))
                reply = Dialogue(kb, confirm_unnamed=not recognizer.open_vocabulary).turn(heard, sure=sure)
                right = reply.intent == expected
                confirmed = reply.intent == "clarify" and reply.topic == expected
                wrong = not right and reply.intent != "clarify" and reply.topic not in (None, expected)
                for i, flag in enumerate((right, confirmed, wrong)):
                    scores[name][i] += flag
    total = len(rows) * len(VOICES)
    print(f"{recognizer.name}, {total} utterances ({len(rows)} questions x {len(VOICES)} voices)")
    for name, (right, confirmed, wrong) in scores.items():
        print(f"  {name:8}  right {right:3}  confirmed {confirmed:3}  wrong {wrong:3}")


if __name__ == "__main__":
    main()
