"""The front end (`[audio] noise_suppression`): the real WebRTC suppressor on real speech, the stream it hands on,
and a suppressor that does not load: one line, and the coach hears the audio as it came."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voicecoach.audio.chunks import read_wav, samples_to_chunks
from voicecoach.audio.format import SAMPLE_RATE, AudioChunk
from voicecoach.audio.front_end import cleaned, load_front_end
from voicecoach.recognizer.moonshine_model import bundled_model_dir

needs_webrtc = pytest.mark.skipif(
    importlib.util.find_spec("webrtc_noise_gain") is None,
    reason="webrtc-noise-gain is not installed (pip install webrtc-noise-gain; wheels for x86-64 and aarch64)",
)
needs_moonshine = pytest.mark.skipif(
    bundled_model_dir() is None, reason="no Moonshine model: pip install moonshine-voice==0.1.0 onnxruntime"
)

QUESTION = "my knees are sore after running"


def answer(wav: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`voicecoach answer --json` on Moonshine (the engine the front end was measured with), suppression level 2."""
    command = ["answer", "--json", "--engine", "moonshine", "--noise-suppression", "2", str(wav)]
    return subprocess.run(
        [sys.executable, "-m", "voicecoach", *command], capture_output=True, text=True, env=env, timeout=120
    )


def level_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-9))


def noisy_question(audio_fixture: Callable[[str], Path], noise_dbfs: float = -40.0) -> tuple[np.ndarray, slice]:
    """The question with steady noise under it, 1 s of the noise alone before it (as on a gym floor) and 0.5 s after;
    and where the question stands."""
    speech = read_wav(audio_fixture(QUESTION)).astype(np.float64)
    lead, tail = SAMPLE_RATE, SAMPLE_RATE // 2
    noise = np.random.default_rng(7).normal(0.0, 32768 * 10 ** (noise_dbfs / 20), lead + len(speech) + tail)
    mixed = noise.copy()
    mixed[lead : lead + len(speech)] += speech
    return np.clip(mixed, -32768, 32767).astype(np.int16), slice(lead, lead + len(speech))


@needs_webrtc
def test_noise_suppression_takes_the_noise_out_and_leaves_the_question(audio_fixture: Callable[[str], Path]) -> None:
    mixed, question = noisy_question(audio_fixture)
    lines: list[str] = []
    front_end = load_front_end(2, lines.append)
    assert front_end is not None and lines == ["noise suppression: WebRTC level 2"]
    chunks = list(samples_to_chunks(mixed))
    out = list(cleaned(chunks, front_end))
    # The stream keeps its shape: the same chunks, in time.
    assert [(c.timestamp, c.samples) for c in out] == [(c.timestamp, c.samples) for c in chunks]
    result = np.frombuffer(b"".join(c.audio for c in out), "<i2")
    settled = slice(SAMPLE_RATE // 2, SAMPLE_RATE)  # the noise alone, once the suppressor has learnt it
    assert level_db(result[settled]) < level_db(mixed[settled]) - 10
    assert level_db(result[question]) > level_db(mixed[question]) - 3


@needs_webrtc
def test_a_short_last_chunk_keeps_its_length() -> None:
    front_end = load_front_end(1, lambda line: None)
    assert front_end is not None
    short = AudioChunk(b"\x10\x00" * 250, timestamp=1.5)  # 250 samples: one 10 ms frame and 90 samples over
    out = front_end.process(short)
    assert (out.samples, out.timestamp) == (250, 1.5)
    assert out.audio[320:] == short.audio[320:]  # the part short of a frame passes as it came


def test_no_front_end_hands_the_chunks_on_as_they_came() -> None:
    lines: list[str] = []
    assert load_front_end(0, lines.append) is None and lines == []
    chunks = [AudioChunk(b"\x01\x02" * 480, timestamp=0.03 * i) for i in range(3)]
    assert list(cleaned(chunks, None)) == chunks


def test_a_missing_suppressor_is_one_line_and_no_front_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "webrtc_noise_gain", None)  # import fails as if the wheel were missing
    lines: list[str] = []
    assert load_front_end(3, lines.append) is None
    assert len(lines) == 1 and lines[0].startswith("noise suppression off:") and "pip install" in lines[0]


@pytest.mark.slow
@needs_moonshine
def test_answer_with_a_suppressor_that_does_not_load_still_answers(
    audio_fixture: Callable[[str], Path], tmp_path: Path
) -> None:
    """`voicecoach answer --noise-suppression 2` where the wheel's library fails to load: one line says so, and the
    question is answered from the audio as it came (exit 0, no traceback)."""
    broken = tmp_path / "webrtc_noise_gain"
    broken.mkdir()
    (broken / "__init__.py").write_text('raise OSError("libwebrtc_noise_gain.so: cannot open shared object file")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    done = answer(audio_fixture(QUESTION), env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    off = [line for line in done.stderr.splitlines() if "noise suppression" in line]
    assert len(off) == 1 and "does not load" in off[0], done.stderr
    assert json.loads(done.stdout)["topic"] == "knee_pain_treadmill"


@pytest.mark.slow
@needs_moonshine
@needs_webrtc
def test_answer_with_noise_suppression_answers_a_question_in_noise(
    audio_fixture: Callable[[str], Path], tmp_path: Path
) -> None:
    """The real path: the noisy question through `voicecoach answer --noise-suppression 2` (the suppressor, then
    Moonshine) gets the right topic's answer."""
    from voicecoach.audio.chunks import write_wav

    mixed, _ = noisy_question(audio_fixture, noise_dbfs=-45.0)
    wav = tmp_path / "noisy.wav"
    write_wav(wav, mixed)
    done = answer(wav)
    assert done.returncode == 0, done.stderr
    assert "noise suppression: WebRTC level 2" in done.stderr
    assert json.loads(done.stdout)["topic"] == "knee_pain_treadmill"
