"""Warm-up timing against the real monotonic clock: drift at the end and per-event lateness.

Run from the repository root:
    .venv/bin/python benchmarks/bench_warmup.py             # default squats, rests cut to 10 s
    .venv/bin/python benchmarks/bench_warmup.py --full      # the ~10 minute routine in real time
    .venv/bin/python benchmarks/bench_warmup.py --fast 20   # the clock runs 20x faster
    .venv/bin/python benchmarks/bench_warmup.py --pulse     # play for real into a PulseAudio null sink

Lateness is "handed to the voice" minus "due", in real milliseconds. With --pulse the figures include
the player's own cost of starting each clip (it runs in the scheduler thread). Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voicecoach.voice.base import SpeechClip, Voice, VoiceSettings
from voicecoach.warmup.plan import WarmupPlan
from voicecoach.warmup.runner import WarmupRunner, runner_for_voice

FULL_REST = 110.0
"""Seconds of rest that make the default squat routine last about ten minutes."""


class TimestampVoice:
    """A voice that only notes when each clip was handed over: the scheduler's own timing."""

    def __init__(self) -> None:
        self.settings = VoiceSettings()
        self.played: list[float] = []

    def play(self, clip: SpeechClip, *, wait: bool = True) -> bool:
        self.played.append(time.monotonic())
        return True

    def say(self, text: str, *, wait: bool = True) -> bool:
        return True

    def stop(self) -> None:
        pass

    @property
    def speaking(self) -> bool:
        return False

    def add_listener(self, listener: object) -> None:
        pass


class SilentSynth:
    def render(self, text: str, settings: VoiceSettings) -> SpeechClip:
        return SpeechClip(text, b"\x10\x27" * 1600, 16000)


class ScaledClock:
    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.zero = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self.zero) * self.scale

    def wait(self, deadline: float, interrupt: threading.Event) -> bool:
        while True:
            left = (deadline - self.monotonic()) / self.scale
            if left <= 0:
                return interrupt.is_set()
            if interrupt.wait(left):
                return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exercise", default="squats")
    parser.add_argument("--rest", type=float, default=10.0, help="seconds between sets (default 10)")
    parser.add_argument("--full", action="store_true", help=f"rest {FULL_REST:g} s: about ten minutes")
    parser.add_argument("--fast", type=float, default=1.0, help="run the clock this many times faster")
    parser.add_argument("--pulse", action="store_true", help="real pyttsx3 + player into a PulseAudio null sink")
    args = parser.parse_args()
    plan = WarmupPlan.make(args.exercise, rest=FULL_REST if args.full else args.rest)
    stop_pulse = None
    voice: Voice
    if args.pulse:
        import os

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from conftest import _missing_audio_parts, start_pulse_room

        if missing := _missing_audio_parts():
            sys.exit(f"bench_warmup: --pulse {missing}")
        env, stop_pulse = start_pulse_room()
        os.environ.update(env)
        from voicecoach.voice import Pyttsx3Synthesizer, open_voice

        synth = Pyttsx3Synthesizer(cache_size=256)
        voice = open_voice(settings=VoiceSettings(), out=None, synthesizer=synth)
        runner = runner_for_voice(plan, voice, synth, clock=ScaledClock(args.fast))
        voice.play(SpeechClip("", bytes(3200), 16000), wait=True)  # as the CLI does: open the device once
    else:
        voice = TimestampVoice()
        runner = WarmupRunner(plan, voice, SilentSynth(), clock=ScaledClock(args.fast))
    try:
        t0 = time.monotonic()
        runner.prepare()
        prepared = time.monotonic() - t0
        planned = runner.events[-1].t / args.fast
        print(
            f"{plan.exercise.key}: {plan.sets}x{plan.reps} tempo {plan.tempo} rest {plan.rest:g}s, "
            f"{len(runner.events)} events, {planned:.1f} s planned (x{args.fast:g}); "
            f"rendered {len(runner.clips)} clips in {prepared * 1000:.0f} ms",
            flush=True,
        )
        started = runner.run()
    finally:
        if stop_pulse is not None:
            stop_pulse()
    late = sorted(s.late / args.fast * 1000 for s in started)
    drift = (started[-1].actual - started[-1].event.t) / args.fast * 1000
    q = statistics.quantiles(late, n=100)
    print(f"events started: {len(started)}/{len(runner.events)}")
    print(f"drift at end:   {drift:.2f} ms (last event vs. its plan slot)")
    print(
        f"lateness:       p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, worst {late[-1]:.2f} ms, "
        f"over 50 ms: {sum(v > 50 for v in late)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
