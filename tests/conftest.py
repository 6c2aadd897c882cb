"""Shared fixtures for the real audio parts. Names are stable: other test modules rely on them.

- `pulse_room` (session): our own PulseAudio server with a null sink "gym" (default sink) whose
  monitor "gym.monitor" is the default source: whatever is played can be recorded back. Sets
  XDG_RUNTIME_DIR and PULSE_SERVER in os.environ and returns them as a dict for subprocesses
  (`subprocess.run(..., env={**os.environ, **pulse_room})`). Skips only when pulseaudio, pactl or
  libportaudio2 are not installed.
- `room_recorder` (session): a `RoomRecorder` on the default source (gym.monitor), 16 kHz mono
  int16, opened once and kept running, because PulseAudio capture starts ~2 s after a stream opens.
- `record_room` (function): `record_room(seconds) -> np.ndarray`, what the room heard from now on.
- `audio_fixture` (session): `audio_fixture(name) -> Path`, a committed WAV in the top-level audio/ folder,
  named by what it says (`audio_fixture("coach_stop")`, `audio_fixture("en_200wpm/slow down")`); a missing
  file fails the test and names the script that renders it.

sounddevice/PortAudio lists devices when it is first initialised, so the server must be up before
sounddevice is imported; `pulse_room` re-initialises PortAudio if something imported it earlier.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

AUDIO = Path(__file__).resolve().parents[1] / "audio"
"""The committed spoken fixtures (benchmarks/make_audio_fixtures.py renders them)."""
SINK = "gym"
MONITOR = "gym.monitor"
RECORD_RATE = 16_000


def fixture_name(text: str) -> str:
    """A fixture's name from what it says: "hey coach, what's up?" -> "hey_coach_whats_up" (folders kept)."""
    return "/".join(
        "_".join(re.sub(r"[^a-z0-9_ ]", "", part.lower()).replace("_", " ").split()) for part in text.split("/")
    )


@pytest.fixture(scope="session")
def audio_fixture() -> Callable[[str], Path]:
    """`audio_fixture(name)`: the path of audio/NAME.wav (a name or what it says); fails if it is missing."""

    def find(name: str) -> Path:
        path = AUDIO / f"{fixture_name(name.removesuffix('.wav'))}.wav"
        if not path.is_file():
            pytest.fail(
                f"audio fixture audio/{path.relative_to(AUDIO)} is missing: render it with "
                ".venv/bin/python benchmarks/make_audio_fixtures.py (see audio/README.md)",
                pytrace=False,
            )
        return path

    return find


def _missing_audio_parts() -> str | None:
    missing = [tool for tool in ("pulseaudio", "pactl") if shutil.which(tool) is None]
    if ctypes.util.find_library("portaudio") is None:
        missing.append("libportaudio2")
    if missing:
        return f"needs Debian packages {', '.join(missing)} (apt-get install pulseaudio libportaudio2)"
    return None


def _pactl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pactl", *args], env=env, capture_output=True, text=True, timeout=10)


def start_pulse_room() -> tuple[dict[str, str], Callable[[], None]]:
    """Start a private PulseAudio with the "gym" null sink; returns (env, stop). Used by benchmarks too."""
    runtime = tempfile.mkdtemp(prefix="voicecoach-pulse-")
    os.chmod(runtime, 0o700)
    pulse_env = {
        "XDG_RUNTIME_DIR": runtime,
        "PULSE_SERVER": f"unix:{runtime}/pulse/native",
        # Without it PortAudio through the ALSA pulse plugin plays/records erratically when capture
        # and playback share a process (see voicecoach.voice.player).
        "PULSE_LATENCY_MSEC": "60",
    }
    env = {**os.environ, **pulse_env}
    started = subprocess.run(
        [
            "pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--disallow-exit",
            "--load=module-native-protocol-unix",
            f"--load=module-null-sink sink_name={SINK}",
            "--load=module-always-sink",
        ],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip

    def stop() -> None:
        pid_file = Path(runtime) / "pulse" / "pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=10)
        if pid is not None:
            for _ in range(50):  # --kill only asks; make sure our server (and only ours) is gone
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(runtime, ignore_errors=True)

    if started.returncode != 0:
        stop()
        raise RuntimeError(f"pulseaudio did not start: {started.stderr.strip()}")
    deadline = time.monotonic() + 15
    while _pactl(env, "info").returncode != 0:
        if time.monotonic() > deadline:
            stop()
            raise RuntimeError("pulseaudio started but `pactl info` never answered")
        time.sleep(0.1)
    _pactl(env, "set-default-sink", SINK)
    _pactl(env, "set-default-source", MONITOR)
    return pulse_env, stop


def reinit_portaudio() -> None:
    """Make an already imported sounddevice re-scan devices (e.g. after the server started)."""
    if "sounddevice" in sys.modules:
        sd: Any = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()


@contextlib.contextmanager
def pulse_room_running() -> Iterator[dict[str, str]]:
    """A private PulseAudio room for this process: its env is set (and restored after), PortAudio re-scanned.
    Shared by the `pulse_room` fixture and benchmarks/bench_speech.py."""
    pulse_env, stop = start_pulse_room()
    saved = {key: os.environ.get(key) for key in pulse_env}
    os.environ.update(pulse_env)
    reinit_portaudio()
    try:
        yield pulse_env
    finally:
        stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reinit_portaudio()


@pytest.fixture(scope="session")
def pulse_room() -> Iterator[dict[str, str]]:
    """A private PulseAudio "room": null sink gym (default), monitor gym.monitor (default source)."""
    reason = _missing_audio_parts()
    if reason:
        pytest.skip(reason)
    with pulse_room_running() as pulse_env:
        yield pulse_env


class RoomRecorder:
    """Records the default source (gym.monitor) continuously at 16 kHz mono int16.

    `position()` marks now; `since(mark)` is everything heard after the mark. Samples are kept for
    the whole session (16 kHz int16 is ~2 MB a minute), which is fine for a test run.
    """

    def __init__(self, device: int | str | None = None) -> None:
        import sounddevice as sd

        self._blocks: list[bytes] = []
        self._count = 0
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._last_block = time.monotonic()
        self._stream: Any = sd.RawInputStream(
            device=device, samplerate=RECORD_RATE, channels=1, dtype="int16",
            blocksize=480, callback=self._callback,
        )  # fmt: skip
        self._stream.start()

    def _callback(self, indata: Any, frames: int, _time: Any, _status: Any) -> None:
        with self._lock:
            self._blocks.append(bytes(indata))
            self._count += frames
            self._last_block = time.monotonic()
        self._first.set()

    def wait_until_live(self, timeout: float = 10.0) -> None:
        """Capture through PulseAudio starts late; block until samples actually flow."""
        if not self._first.wait(timeout):
            raise RuntimeError(f"no audio captured from {MONITOR} within {timeout} s")

    def position(self) -> int:
        with self._lock:
            return self._count

    def since(self, mark: int) -> np.ndarray:
        with self._lock:
            stalled = time.monotonic() - self._last_block
        if stalled > 1.0:  # a silent recording would otherwise pass for "nothing was played"
            raise RuntimeError(f"the room recorder stopped capturing {stalled:.1f} s ago")
        with self._lock:
            audio = b"".join(self._blocks)
        return np.frombuffer(audio, "<i2")[mark:].copy()

    def record(self, seconds: float) -> np.ndarray:
        mark = self.position()
        time.sleep(seconds)
        return self.since(mark)

    def close(self) -> None:
        self._stream.abort()
        self._stream.close()


@pytest.fixture(scope="session")
def room_recorder(pulse_room: dict[str, str]) -> Iterator[RoomRecorder]:
    recorder = RoomRecorder()
    recorder.wait_until_live()
    try:
        yield recorder
    finally:
        recorder.close()


@pytest.fixture
def record_room(room_recorder: RoomRecorder) -> Callable[[float], np.ndarray]:
    """`record_room(seconds)`: 16 kHz mono int16 samples the room hears over the next `seconds`."""
    return room_recorder.record


def sound_spans(samples: np.ndarray, *, rate: int = RECORD_RATE, threshold: float = 300.0) -> list[tuple[float, float]]:
    """(start, end) seconds of the stretches louder than `threshold` RMS (10 ms frames, 150 ms gaps merge)."""
    frame = rate // 100
    count = len(samples) // frame
    if count == 0:
        return []
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > threshold
    spans: list[tuple[float, float]] = []
    for index in np.flatnonzero(loud):
        start, end = index / 100, (index + 1) / 100
        if spans and start - spans[-1][1] <= 0.15:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans
