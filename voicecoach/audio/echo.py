"""Acoustic echo cancellation: the coach's own voice taken out of the microphone, with what it plays as reference.

The player knows exactly what it plays; a canceller is given each 10 ms of microphone audio together with
the 10 ms of playback that the microphone heard at that moment (`ReferenceBuffer` lines the two up by the
clock), and returns the microphone with the echo removed. Two in-process cancellers are wrapped:

  * "webrtc": WebRTC's AEC3 through the `pywebrtc-audio` wheel (Apache-2.0; wheels for x86-64 and aarch64);
  * "speex": libspeexdsp's multi-delay filter through ctypes (Debian `libspeexdsp1`, BSD).

`load_canceller("auto")` tries them in that order (benchmarks/bench_bargein.py and bargein_room.py measured
the choice: WebRTC interrupts itself least) and returns None with one log line when none loads: the caller
then keeps the half-duplex rules.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any, Protocol

import numpy as np

from voicecoach.audio.format import SAMPLE_RATE, AudioChunk

FRAME = SAMPLE_RATE // 100
"""Samples per 10 ms frame: the unit both cancellers work in."""
SPEEX_TAIL_SECONDS = 0.25
"""Echo path length the speex filter models (room reverberation after the delay is compensated)."""
NAMES = ("webrtc", "speex")
REFERENCE_LEAD_SECONDS = 0.04
"""The reference handed to the canceller leads the echo it explains by this much: a canceller models echo that
comes after its reference, never before (measured in the room: 8 dB ERLE at -10 ms lead, 50 dB at +35 ms)."""

log = logging.getLogger("voicecoach.audio")


class EchoCanceller(Protocol):
    """Removes the far-end signal (what the coach plays) from the near-end signal (the microphone)."""

    name: str

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """`near` and `far`: int16 at 16 kHz, the same length, a multiple of FRAME. Returns cleaned `near`."""
        ...

    def reset(self) -> None: ...


class WebRtcCanceller:
    """WebRTC AEC3 (with its high-pass filter; no noise suppression, no gain control)."""

    name = "webrtc"

    def __init__(self, delay_ms: int = 0) -> None:
        import pywebrtc_audio

        self._aec: Any = pywebrtc_audio.AudioProcessor(
            sample_rate=SAMPLE_RATE, echo_cancellation=True, stream_delay_ms=delay_ms
        )

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        out = np.empty_like(near)
        for i in range(0, len(near) - FRAME + 1, FRAME):
            out[i : i + FRAME] = self._aec.process(near[i : i + FRAME], far[i : i + FRAME])
        return out

    def reset(self) -> None:
        self._aec.reset()


_I16 = ctypes.POINTER(ctypes.c_int16)


class SpeexCanceller:
    """libspeexdsp's echo canceller (plus its residual-echo preprocessor), 10 ms frames."""

    name = "speex"

    def __init__(self, tail_seconds: float = SPEEX_TAIL_SECONDS) -> None:
        path = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
        lib = ctypes.CDLL(path)
        lib.speex_echo_state_init.restype = ctypes.c_void_p
        lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, _I16, _I16, _I16]
        lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
        lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._tail = int(tail_seconds * SAMPLE_RATE)
        self._state = self._make()

    def _make(self) -> int:
        state = self._lib.speex_echo_state_init(FRAME, self._tail)
        if not state:
            raise RuntimeError("speex_echo_state_init failed")
        rate = ctypes.c_int(SAMPLE_RATE)
        self._lib.speex_echo_ctl(state, 24, ctypes.byref(rate))  # SPEEX_ECHO_SET_SAMPLING_RATE
        return int(state)

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        near = np.ascontiguousarray(near, dtype=np.int16)
        far = np.ascontiguousarray(far, dtype=np.int16)
        out = np.empty_like(near)
        for i in range(0, len(near) - FRAME + 1, FRAME):
            self._lib.speex_echo_cancellation(
                self._state,
                near[i:].ctypes.data_as(_I16),
                far[i:].ctypes.data_as(_I16),
                out[i:].ctypes.data_as(_I16),
            )
        return out

    def reset(self) -> None:
        self._lib.speex_echo_state_reset(self._state)

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", 0), 0
        if state:
            self._lib.speex_echo_state_destroy(state)


def make_canceller(name: str) -> EchoCanceller:
    """One canceller by name; raises ImportError/OSError/RuntimeError when it cannot load here."""
    if name == "webrtc":
        return WebRtcCanceller()
    if name == "speex":
        return SpeexCanceller()
    raise ValueError(f"unknown echo canceller {name!r} (one of {', '.join(NAMES)})")


def load_canceller(name: str = "auto") -> EchoCanceller | None:
    """The canceller asked for ("auto": the first that loads), or None with one log line."""
    errors = []
    for candidate in NAMES if name == "auto" else (name,):
        try:
            canceller = make_canceller(candidate)
        except (ImportError, OSError, RuntimeError) as err:
            errors.append(f"{candidate}: {err}")
            continue
        log.info("echo cancellation: %s", canceller.name)
        return canceller
    log.warning("no echo canceller loads (%s); the coach stays deaf while it speaks", "; ".join(errors))
    return None


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
        self._lock = threading.Lock()

    def _index(self, when: float) -> int:
        assert self._origin is not None
        return round((when - self._origin) * SAMPLE_RATE)

    def write(self, samples: np.ndarray, heard_at: float) -> None:
        with self._lock:
            if self._origin is None:
                self._origin = heard_at
            start = self._index(heard_at)
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

    def read(self, start: float, count: int) -> np.ndarray:
        out = np.zeros(count, np.int16)
        with self._lock:
            if self._origin is None:
                return out
            first = self._index(start)
            indices = np.arange(first, first + count)
            valid = (indices >= max(0, self._written - self._size)) & (indices < self._written)
            out[valid] = self._ring[indices[valid] % self._size]
        return out


NEAR_RATIO_DB = -12.0
"""A chunk is the lifter's (near-end) when the cleaned signal keeps at least this much of the microphone's energy:
echo alone comes out 25-70 dB down (ERLE), a voice over the echo only a few dB down."""
NEAR_FLOOR = 60.0
"""RMS below which a chunk is silence whatever the ratio."""


class NearEndGate:
    """Says whether the lifter, not the echo, has been heard lately: a word from the interrupt search only
    counts when the utterance it came from had enough near-end chunks (a double-talk detector on ERLE)."""

    def __init__(self, window_chunks: int = 34, needed: int = 3) -> None:
        self.window = window_chunks
        self.needed = needed
        self._recent: list[bool] = []

    def update(self, near: np.ndarray, cleaned: np.ndarray) -> bool:
        """Feed one chunk (microphone, cleaned); True if enough near-end chunks were heard in the window."""
        mic = float(np.mean(near.astype(np.float64) ** 2)) + 1e-9
        out = float(np.mean(cleaned.astype(np.float64) ** 2))
        lifter = out > NEAR_FLOOR**2 and 10 * np.log10(out / mic + 1e-12) > NEAR_RATIO_DB
        self._recent.append(bool(lifter))
        del self._recent[: -self.window]
        return self.open

    @property
    def open(self) -> bool:
        return sum(self._recent) >= self.needed

    def reset(self) -> None:
        self._recent.clear()


class DelayEstimator:
    """Measures the delay between the reference's clock and the microphone's (device buffers the driver does
    not report, the sound server's own queues) by GCC-PHAT over 1.5 s windows while the coach speaks.

    `feed(captured, near)` with every microphone chunk; `offset` is then the seconds to add to a chunk's
    capture time to find the reference it heard (measured in the PulseAudio room: ~75 ms no device reported)."""

    WINDOW = 1.5
    SEARCH = 0.4
    EVERY = 1.0

    def __init__(self, reference: ReferenceBuffer) -> None:
        self.reference = reference
        self.offset = 0.0
        self.measured: list[float] = []
        self.last_peak = 0.0
        self._mic: list[np.ndarray] = []
        self._start: float | None = None

    def feed(self, captured: float, near: np.ndarray) -> None:
        if self._start is None or abs(captured - (self._start + self._count() / SAMPLE_RATE)) > 0.05:
            self._mic, self._start = [], captured  # the first chunk, or a gap: start a new window
        self._mic.append(near)
        if self._count() / SAMPLE_RATE < self.WINDOW:
            return
        mic = np.concatenate(self._mic)[-int(self.WINDOW * SAMPLE_RATE) :].astype(np.float64)
        start = captured + len(near) / SAMPLE_RATE - self.WINDOW
        keep = self.WINDOW - self.EVERY  # the next window overlaps this one; one estimate a second
        self._mic, self._start = [mic[-int(keep * SAMPLE_RATE) :].astype(np.int16)], start + self.WINDOW - keep
        self._estimate(mic, start)

    def _count(self) -> int:
        return sum(len(m) for m in self._mic)

    def _estimate(self, mic: np.ndarray, start: float) -> None:
        span = int(self.SEARCH * SAMPLE_RATE)
        ref = self.reference.read(start - self.SEARCH, len(mic) + 2 * span).astype(np.float64)
        if np.sqrt(np.mean(ref**2)) < 100 or np.sqrt(np.mean(mic**2)) < 30:
            return  # the coach is (nearly) silent: nothing to measure
        size = 1 << (len(ref) + len(mic)).bit_length()
        spectrum = np.conj(np.fft.rfft(mic, size)) * np.fft.rfft(ref, size)
        corr = np.fft.irfft(spectrum / (np.abs(spectrum) + 1e-9), size)[: 2 * span]
        peak = int(np.argmax(corr))
        self.last_peak = float(corr[peak] / (np.median(np.abs(corr)) + 1e-12))
        if corr[peak] < 6 * np.median(np.abs(corr)):
            return  # no clear echo (the lifter talking, or too little of the coach in the microphone)
        self.measured = [*self.measured[-4:], peak / SAMPLE_RATE - self.SEARCH]
        self.offset = float(np.median(self.measured))


class EchoStage:
    """The microphone's chunks with the coach's voice taken out: canceller + reference + near-end gate.

    `clean(chunk)` -> (cleaned chunk, near-end heard lately). Chunks without a capture time (files, tests)
    pass through unchanged, with the gate open. The reference is lined up by the measured delay."""

    def __init__(self, canceller: EchoCanceller, reference: ReferenceBuffer) -> None:
        self.canceller = canceller
        self.reference = reference
        self.gate = NearEndGate()
        self.delay = DelayEstimator(reference)
        self.name = canceller.name

    def clean(self, chunk: AudioChunk) -> tuple[AudioChunk, bool]:
        if chunk.captured is None:
            return chunk, True
        near = np.frombuffer(chunk.audio, "<i2")
        usable = len(near) - len(near) % FRAME
        if not usable:
            return chunk, True
        self.delay.feed(chunk.captured, near)
        far = self.reference.read(chunk.captured + self.delay.offset + REFERENCE_LEAD_SECONDS, usable)
        cleaned = self.canceller.process(near[:usable], far)
        heard = self.gate.update(near[:usable], cleaned)
        audio = cleaned.astype("<i2").tobytes() + chunk.audio[usable * 2 :]
        return AudioChunk(audio, chunk.rate, chunk.timestamp, chunk.captured), heard


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
