"""Barge-in in the echo room (benchmarks/bargein_room.py in its own private PulseAudio): the microphone hears
the coach's playback at full level mixed with the lifter, and the warm-up is steered by voice while it counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voicecoach.audio.echo import load_canceller

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.audio]


def test_warmup_steered_by_voice_in_the_echo_room() -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import _missing_audio_parts

    reason = _missing_audio_parts()
    if reason:
        pytest.skip(reason)
    if load_canceller() is None:
        pytest.skip("no echo canceller loads here (pip install pywebrtc-audio, or apt-get install libspeexdsp1)")
    run = subprocess.run(
        [sys.executable, "benchmarks/bargein_room.py", "--trials", "3", "--quiet-seconds", "30",
         "--voices", "espeak en-us", "--json"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    # What holds today (benchmarks/bargein_room.py has the figures): the coach's own voice, cancelled, hardly
    # ever interrupts it (without cancellation: ~17 false commands a minute), and "stop" said while it counts
    # stops the warm-up. Not yet: 9 of 10 for pause/resume/skip, so barge-in stays opt-in.
    assert len(figures["false"]) <= 2, figures
    stops = figures["acted"]["espeak en-us 150"]["stop"]
    assert any(d is not None and d <= 1.0 for d in stops), figures
