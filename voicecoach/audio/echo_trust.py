"""When the cleaned microphone may be taken for the lifter: `Convergence` (the canceller has learnt the coach's
echo) and `NearEndGate` (the lifter, not only the echo, was heard lately: a double-talk detector on ERLE).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from voicecoach.audio.format import SAMPLE_RATE
from voicecoach.audio.level import NoiseFloor

NEAR_RATIO_DB = -12.0
"""A chunk is the lifter's (near-end) when the cleaned signal keeps at least this much of the microphone's energy:
echo alone comes out 25-70 dB down (ERLE), a voice over the echo only a few dB down."""
NEAR_FLOOR = 60.0
"""RMS below which a chunk is silence whatever the ratio."""
NEAR_ABOVE_ROOM_DB = 10.0
"""...and a near-end chunk stands this far above the room: the quietest tenth of the cleaned signal's last 3 s
(NEAR_ROOM_CHUNKS). Gym babble and music are near-end too, and without this the gate stood open for all of them:
the interrupt search decoded the noise non-stop (a core's worth of CPU) and took its words for commands."""
NEAR_ROOM_CHUNKS = 100


CONVERGE_SECONDS = 5.0
"""Seconds of the coach's voice a canceller hears before its output is trusted: while it adapts, the echo it lets
through decodes as words (measured with speex and Moonshine: 6 false "stop"s over 20 answers, all in the first
5 s of the coach speaking; none after)."""
CONVERGED_ERLE_DB = 20.0
"""...or sooner, once it is seen to cancel: the last CONVERGED_WINDOW_SECONDS of the coach's voice came out this
much quieter than the microphone heard it, 8 dB past the line where the gate takes a chunk for the lifter's
(NEAR_RATIO_DB). In the PulseAudio room speex got there after 2.5-3 s of the first answer and WebRTC after 1 s,
where the fixed 5 s had left "stop" unheard 5.5 s into the first answer under load (the delay drifted, speex
was swapped for WebRTC, and the new canceller waited its 5 s again). benchmarks/bench_convergence.py measured it."""
CONVERGED_WINDOW_SECONDS = 1.0
FAR_FLOOR = 100.0
"""Reference RMS (int16) above which the coach is speaking: what counts towards convergence."""


class Convergence:
    """Whether the canceller has heard enough of the coach to be trusted: CONVERGE_SECONDS of its voice, or less
    once its output shows the echo gone (CONVERGED_ERLE_DB). Once trusted it stays trusted; a new canceller gets a
    new one."""

    def __init__(self, seconds: float = CONVERGE_SECONDS, *, erle_db: float | None = CONVERGED_ERLE_DB) -> None:
        self.needed = int(seconds * SAMPLE_RATE)
        self.heard = 0
        self.erle_db = erle_db
        self.cancels = False
        """The coach's voice came out CONVERGED_ERLE_DB quieter over the last CONVERGED_WINDOW_SECONDS."""
        self._window: deque[tuple[int, float, float]] = deque()
        """(samples, microphone energy, cleaned energy) of the coach's last chunks; their sums below."""
        self._samples, self._mic, self._out = 0, 0.0, 0.0

    def update(self, far: np.ndarray, near: np.ndarray | None = None, cleaned: np.ndarray | None = None) -> bool:
        """One chunk: what the coach played (`far`), and with `near` and `cleaned` what the canceller made of it."""
        if self.converged or not len(far) or _energy(far) <= FAR_FLOOR**2:
            return self.converged
        self.heard += len(far)
        if self.erle_db is not None and near is not None and cleaned is not None:
            self._measure(len(far), _energy(near) * len(near), _energy(cleaned) * len(cleaned), self.erle_db)
        return self.converged

    def _measure(self, samples: int, mic: float, out: float, erle_db: float) -> None:
        self._window.append((samples, mic, out))
        self._samples, self._mic, self._out = self._samples + samples, self._mic + mic, self._out + out
        window = int(CONVERGED_WINDOW_SECONDS * SAMPLE_RATE)
        while self._samples - self._window[0][0] >= window:
            gone, gone_mic, gone_out = self._window.popleft()
            self._samples, self._mic, self._out = self._samples - gone, self._mic - gone_mic, self._out - gone_out
        # A microphone that heard nothing of the coach proves nothing (unplugged, muted).
        full = self._samples >= window and self._mic > 0
        self.cancels = full and self._out * 10 ** (erle_db / 10) <= self._mic

    @property
    def converged(self) -> bool:
        return self.heard >= self.needed or self.cancels


def _energy(samples: np.ndarray) -> float:
    """Mean square of int16 samples."""
    x = samples.astype(np.float64)
    return float(x @ x) / len(x) if len(x) else 0.0


class NearEndGate:
    """Says whether the lifter, not the echo, has been heard lately: a word from the interrupt search only
    counts when the utterance it came from had enough near-end chunks (a double-talk detector on ERLE)."""

    def __init__(self, window_chunks: int = 34, needed: int = 3) -> None:
        self.window = window_chunks
        self.needed = needed
        self._recent: list[bool] = []
        self._room = NoiseFloor(NEAR_ROOM_CHUNKS)
        """The cleaned signal's RMS per chunk, lately (see NEAR_ABOVE_ROOM_DB)."""

    def update(self, near: np.ndarray, cleaned: np.ndarray) -> bool:
        """Feed one chunk (microphone, cleaned); True if enough near-end chunks were heard in the window."""
        energy = _energy(near)
        out = energy if cleaned is near else _energy(cleaned)  # the same samples when the canceller rests
        mic = energy + 1e-9
        self._room.update(math.sqrt(out))
        lifter = (
            out > NEAR_FLOOR**2
            and 10 * np.log10(out / mic + 1e-12) > NEAR_RATIO_DB
            and out > (self._room.level * 10 ** (NEAR_ABOVE_ROOM_DB / 20)) ** 2
        )
        self._recent.append(bool(lifter))
        del self._recent[: -self.window]
        return self.open

    @property
    def open(self) -> bool:
        return sum(self._recent) >= self.needed

    def reset(self) -> None:
        self._recent.clear()
