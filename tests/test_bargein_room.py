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
         "--voices", "espeak en-us", "--verbose", "--json"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    # What holds today (benchmarks/bargein_room.py has the figures): the coach's own voice, cancelled, hardly
    # ever interrupts it (without cancellation: ~17 false commands a minute), and "stop" said while it counts
    # stops the warm-up. Not yet: 9 of 10 for pause/resume/skip, so barge-in stays opt-in.
    # What it heard and why it acted, should it fail again: the warm-up with no lifter comes first.
    quiet = run.stdout.split("no lifter")[0][-6000:] + run.stderr[-2000:]
    assert len(figures["false"]) <= 2, quiet
    stops = figures["acted"]["espeak en-us 150"]["stop"]
    assert any(d is not None and d <= 1.0 for d in stops), run.stdout[-6000:]


def test_stop_cuts_long_answers_with_one_stream_in_the_echo_room() -> None:
    """Barge-in as `voicecoach listen` runs it on one-clock hardware (a USB speakerphone, a sound HAT): Moonshine,
    the microphone and speaker in one full-duplex stream, speex with its residual-echo suppressor. The coach's
    voice plays straight into the microphone's sink at full level; the lifter (both espeak-ng voices: the ones every
    machine has) says "stop" 4 s into each of three long answers per voice and during the warm-up."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import _missing_audio_parts

    from voicecoach.audio.echo import make_canceller
    from voicecoach.recognizer.moonshine_model import bundled_model_dir

    reason = _missing_audio_parts()
    if reason:
        pytest.skip(reason)
    try:
        make_canceller("speex-residual")
    except OSError:
        pytest.skip("needs Debian package libspeexdsp1 (apt-get install libspeexdsp1)")
    if bundled_model_dir() is None:
        pytest.skip("no Moonshine model (pip install moonshine-voice==0.1.0)")
    run = subprocess.run(
        [sys.executable, "benchmarks/bargein_room.py", "--engine", "moonshine", "--canceller", "speex-residual",
         "--echo-path", "direct", "--streams", "duplex", "--trials", "1", "--answers", "3", "--quiet-seconds", "10",
         "--voices", "espeak", "--json"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["streams"] == "duplex", figures
    answers = [d for per_voice in figures["answers"].values() for d in per_voice]
    assert len(answers) == 6, figures
    # The room measured 10-12 of 12 "stop"s over answers this way and no false interruption (README); two
    # streams stamped by the clock, 1-7 of 12.
    assert sum(1 for d in answers if d is not None and d <= 0.5) >= 4, figures
    assert not figures["false"], figures
    stops = [d for acted in figures["acted"].values() for d in acted["stop"]]
    assert any(d is not None and d <= 1.0 for d in stops), figures
