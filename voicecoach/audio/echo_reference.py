"""The coach's playback lined up with what the microphone heard: `ReferenceBuffer` keeps what the player wrote,
stamped with when it is heard (`StreamClock` smooths the device's timing), and hands it back sample for sample.
"""

from __future__ import annotations

import threading

import numpy as np

from voicecoach.audio.format import SAMPLE_RATE

LOCK_SAMPLES = 32
"""A linear canceller models a fixed echo path, so the reference must advance sample for sample with what it
explains. Both stream clocks jitter by a few samples (callbacks run late; `StreamClock` creeps between them), and
re-placing every block by its time stamp slipped the reference by 0.2-0.4 ms at random: speex's ERLE in the
PulseAudio room was 3 dB, and with 1.5 ms of stamp jitter on noise (tests/test_echo.py) speex / WebRTC cancelled
0.0 / 3.2 dB, 25.6 / 23.7 dB read on sample for sample. A block lands right after the last one unless the stamps
disagree by more than this (2 ms); the microphone side reads on in the same way (`EchoStage`)."""


LOCK_CHUNKS = 33
"""About a second of microphone chunks: the reading side follows the stamps only when their median over this many
disagrees by more than LOCK_SAMPLES (the stamps of a single chunk jitter by up to 1.5 ms, measured in the room)."""
JUMP_SECONDS = 0.02
"""A disagreement this large is a real jump (a stall, a new stream): followed at once."""


class ReferenceBuffer:
    """What the speaker plays, by the clock: the player writes blocks, the microphone side reads them back.

    `write(samples, heard_at)`: 16 kHz int16 samples whose first one reaches the speaker at monotonic
    `heard_at`. `read(start, count)`: the `count` samples heard from monotonic `start` on (silence where
    nothing played). Old audio beyond `keep_seconds` is forgotten. Thread-safe.
    """

    def __init__(self, keep_seconds: float = 4.0) -> None:
        self._size = int(keep_seconds * SAMPLE_RATE)
        self._ring = np.zeros(self._size, np.int16)
        self._origin: float | None = None
        self._written = 0  # absolute sample index one past the last written
        self._lock = threading.RLock()
        self.underflows = 0
        """Times the speaker ran dry (the stream says so): the echo delay may have stepped (see DelayEstimator)."""

    def _index(self, when: float) -> int:
        assert self._origin is not None
        return round((when - self._origin) * SAMPLE_RATE)

    def write(self, samples: np.ndarray, heard_at: float) -> None:
        with self._lock:
            if self._origin is None:
                self._origin = heard_at
            start = self._index(heard_at)
            if abs(start - self._written) <= LOCK_SAMPLES:
                start = self._written  # contiguous with the last block: see LOCK_SAMPLES
            if start < self._written - self._size:
                return
            end = start + len(samples)
            if start > self._written:  # a gap: silence
                self._put(self._written, np.zeros(min(start - self._written, self._size), np.int16))
            self._put(start, samples[-self._size :] if len(samples) > self._size else samples)
            self._written = max(self._written, end)

    def _put(self, start: int, samples: np.ndarray) -> None:
        at = start % self._size
        first = min(len(samples), self._size - at)
        self._ring[at : at + first] = samples[:first]
        self._ring[: len(samples) - first] = samples[first:]

    def index(self, when: float) -> int | None:
        """The sample index heard at monotonic `when` (None before anything was written)."""
        with self._lock:
            return None if self._origin is None else self._index(when)

    def read(self, start: float, count: int) -> np.ndarray:
        with self._lock:
            if self._origin is None:
                return np.zeros(count, np.int16)
            return self.read_at(self._index(start), count)

    def read_at(self, first: int, count: int) -> np.ndarray:
        """The `count` samples from sample index `first` on (silence where nothing played)."""
        out = np.zeros(count, np.int16)
        with self._lock:
            start = max(first, self._written - self._size, 0)
            end = min(first + count, self._written)
            if start < end:  # else nothing played then: silence, and no copy (the common case while idle)
                at, length = start % self._size, end - start
                head = min(length, self._size - at)
                out[start - first : start - first + head] = self._ring[at : at + head]
                out[start - first + head : end - first] = self._ring[: length - head]
        return out


class StreamClock:
    """Monotonic time of a stream's samples, from its callbacks. PulseAudio hands blocks over in bursts, so
    the time a callback runs jitters by tens of ms; a callback is never early, so the earliest (callback time
    minus samples so far) is the stream's true origin. It may creep later by `drift` s/s (clock drift) and
    re-anchors after a stall of more than `restart` seconds (a reopened or stalled stream)."""

    def __init__(self, rate: int, drift: float = 2e-4, restart: float = 0.5) -> None:
        self.rate = rate
        self.drift = drift
        self.restart = restart
        self._origin: float | None = None
        self._seen = 0.0

    def stamp(self, samples_before: int, now: float) -> float:
        """Monotonic time of sample `samples_before` (the first of a block whose callback runs at `now`)."""
        candidate = now - samples_before / self.rate
        if self._origin is None or candidate - self._origin > self.restart:
            self._origin = candidate
        else:
            self._origin = min(candidate, self._origin + (now - self._seen) * self.drift)
        self._seen = now
        return self._origin + samples_before / self.rate
