"""Voice stage figures: reply text -> first audio sample, synthesis speed, peak memory.

Run from the repository root: .venv/bin/python benchmarks/bench_voice.py
Starts its own PulseAudio null sink (as tests/conftest.py does) when pulseaudio is installed;
playback figures print "n/a" otherwise. Takes ~15 s.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import _missing_audio_parts, start_pulse_room
from voicecoach.voice import Player, Pyttsx3Synthesizer, VoiceSettings

REPLIES = [
    "Pain at the front of the knee after squats often comes from the kneecap tracking.",
    "Keep your knees in line with your toes and push through the whole foot.",
    "Ice it for ten minutes and skip jumping today.",
    "If it swells or locks, stop training and see a physio.",
    "Three more reps, then rest ninety seconds.",
]


def render_figures(synth: Pyttsx3Synthesizer) -> None:
    synth.start()
    times, audio_seconds = [], 0.0
    for rate in (150, 165, 180):
        for text in REPLIES:
            started = time.perf_counter()
            clip = synth.render(text, VoiceSettings(rate=rate))
            times.append(time.perf_counter() - started)
            audio_seconds += clip.seconds
    cached = time.perf_counter()
    synth.render(REPLIES[0], VoiceSettings(rate=150))
    cached = time.perf_counter() - cached
    print(f"render latency: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    print(f"synthesis speed: {audio_seconds / sum(times):.0f}x real time ({audio_seconds:.1f} s audio)")
    print(f"cached render: {cached * 1e6:.0f} us")


def playback_figures(synth: Pyttsx3Synthesizer) -> None:
    player = Player(None)
    try:
        warm = time.perf_counter()
        ready = player.ready()
        print(f"output warm-up (first stream open -> real time): {time.perf_counter() - warm:.2f} s, ok={ready}")
        first: list[float] = []
        for text in REPLIES:
            started = time.perf_counter()
            clip = synth.render(text + " ", VoiceSettings(rate=171))  # uncached: count the render
            frames_before = player.frames
            player.play(clip, wait=False)
            # The first block containing the clip is handed to PortAudio when the frame count moves.
            while player.frames == frames_before and time.perf_counter() - started < 2:
                time.sleep(0.001)
            handed = time.perf_counter() - started
            first.append(handed + player.latency)
            time.sleep(0.3)
            stop_at = time.perf_counter()
            player.stop()
            stop_took = time.perf_counter() - stop_at
        print(
            f"reply text -> first sample audible: median {statistics.median(first) * 1000:.0f} ms "
            f"(render + next block + device latency {player.latency * 1000:.0f} ms)"
        )
        print(f"stop() returns in {stop_took * 1000:.0f} ms (+ device latency until silent)")
    finally:
        player.close()


def main() -> None:
    synth = Pyttsx3Synthesizer()
    render_figures(synth)
    reason = _missing_audio_parts()
    if reason:
        print(f"reply text -> first sample: n/a ({reason})")
    else:
        env, stop = start_pulse_room()
        os.environ.update(env)
        try:
            playback_figures(synth)
        finally:
            stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (maxrss): {peak:.0f} MB")


if __name__ == "__main__":
    main()
