"""Part 4: false wakes in gym noise through a `Listener` (wake word / always-on), per hour."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from speech.common import Engine, Summary, header, usable
from speech.jobs import Job, Result
from speech.noise import noise_excerpt

CONTINUOUS_SECONDS = 120.0
ALWAYS_GATED_SECONDS = 300.0
"""Always-on hears far more turns than wake-word mode, so 5 minutes of gated noise measure it well enough."""
GATE_ON, GATE_OFF = 8.0, 2.0
"""Gated noise: GATE_ON s of gym noise, GATE_OFF s of silence (music stops, lifters pause), repeated."""


def gate_noise(noise: Path, workdir: Path) -> Path:
    """The gym noise with regular pauses, so the endpointer can close utterances (continuous babble never ends)."""
    from voicecoach.audio.chunks import read_wav, write_wav

    gated = workdir / f"{noise.stem}-gated.wav"
    if not gated.exists():
        samples = read_wav(noise)
        t = np.arange(len(samples)) / 16_000
        write_wav(gated, np.where(t % (GATE_ON + GATE_OFF) < GATE_ON, samples, 0).astype("<i2"))
    return gated


def wake_jobs(engines: list[Engine], noise: Path, workdir: Path, noise_seconds: float) -> list[Job]:
    """Gated and continuous noise, wake word and always-on, for each engine."""
    gated = gate_noise(noise, workdir)
    # Continuous babble never lets the endpointer close: one utterance that grows for as long as the noise
    # lasts (decoding slows down and memory climbs), so a shorter stretch shows it well enough.
    continuous = noise_excerpt(noise, min(noise_seconds, CONTINUOUS_SECONDS))
    always_gated = noise_excerpt(gated, min(noise_seconds, ALWAYS_GATED_SECONDS))
    jobs = []
    for engine in engines:
        for mode, source, group in (
            ("wake", gated, "wake/wake-gated"),
            ("always", always_gated, "wake/always-gated"),
            ("wake", continuous, "wake/wake"),
            ("always", continuous, "wake/always"),
        ):
            jobs.append(Job(engine.name, engine.model, mode, str(source), group, tail="noise"))
    return jobs


def report_wake(results: list[Result], engines: list[Engine], summary: Summary) -> None:
    header("4. false wakes in gym noise (Listener, simulated voice, chunk-driven clock)")
    for engine in usable(engines, summary, "wake: false turns/h (wake word)"):
        for mode in ("wake", "always", "wake-gated", "always-gated"):
            r = next((r for r in results if r.job.engine == engine.name and r.job.group == f"wake/{mode}"), None)
            if r is None:
                continue
            if mode.endswith("gated"):
                print(f"  (gated: {GATE_ON:g} s noise / {GATE_OFF:g} s silence, so utterances can end)")
            hours = r.seconds / 3600
            yes = r.said.count("Yes?")
            print(
                f'{engine.name}: {mode}: {len(r.turns)} turns + {yes} bare-wake "Yes?" '
                f"in {r.seconds / 60:.1f} min of noise "
                f"= {len(r.turns) / hours:.1f} turns/h, {(len(r.turns) + yes) / hours:.1f} times the coach spoke/h; "
                f"{r.utterances} utterances, longest {r.longest_utterance:.1f} s; decoded in {r.decode_seconds:.0f} s, "
                f"worker memory +{r.rss_growth_mb:.0f} MB"
            )
            if r.finish_errors:
                print(
                    f"    recogniser finish() at the end of the noise raised {r.finish_errors[0]} "
                    "(stream ended mid-speech)"
                )
            for turn in r.turns[:6]:
                print(
                    f"    at {turn['start'] or 0:.0f} s heard {turn['heard']!r} -> {turn['intent']} ({turn['topic']})"
                )
            label = ("wake word" if mode.startswith("wake") else "always-on") + (", gated" if "gated" in mode else "")
            summary.add(f"wake: false turns/h ({label})", engine.name, f"{len(r.turns) / hours:.1f}")
            if mode.startswith("wake"):
                summary.add(
                    f'wake: coach spoke/h incl. "Yes?" ({label})', engine.name, f"{(len(r.turns) + yes) / hours:.1f}"
                )
