"""Acoustic echo cancellation: the coach's own voice taken out of the microphone, with what it plays as reference.

The player knows exactly what it plays; a canceller is given each 10 ms of microphone audio together with
the 10 ms of playback that the microphone heard at that moment (`ReferenceBuffer` lines the two up by the
clock), and returns the microphone with the echo removed. Two in-process cancellers are wrapped:

  * "webrtc": WebRTC's AEC3 through the `pywebrtc-audio` wheel (Apache-2.0; wheels for x86-64 and aarch64);
  * "speex": libspeexdsp's multi-delay filter through ctypes (Debian `libspeexdsp1`, BSD);
  * "speex-residual": the same, then speex's preprocessor suppressing the echo the linear filter left.

`load_canceller("auto")` picks by the echo path (see there; bargein_room.py measured the choice) and returns None
with one log line when none loads: the caller then keeps the half-duplex rules.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any, Protocol

import numpy as np

from voicecoach.audio.format import SAMPLE_RATE

FRAME = SAMPLE_RATE // 100
"""Samples per 10 ms frame: the unit both cancellers work in."""
SPEEX_TAIL_SECONDS = 0.25
"""Echo path length the speex filter models (room reverberation after the delay is compensated)."""
NAMES = ("webrtc", "speex", "speex-residual")
FIXED_PATH_ORDER = ("speex-residual", "webrtc")
MOVING_PATH_ORDER = ("webrtc", "speex-residual")
RESIDUAL_NOISE_DB = -3
"""speex-residual: the most its denoiser takes off steady noise (speex's default, -15 dB, is for calls)."""
RESIDUAL_ECHO_DB = -40
RESIDUAL_ECHO_ACTIVE_DB = -15
"""speex-residual: the most it takes off residual echo, alone and while the lifter talks (speex's defaults)."""
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
    """libspeexdsp's echo canceller, 10 ms frames; with `residual`, also its preprocessor's residual-echo
    suppressor (the linear filter's leftover echo, attenuated per band where the filter says it is)."""

    name = "speex"

    def __init__(self, tail_seconds: float = SPEEX_TAIL_SECONDS, *, residual: bool = False) -> None:
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
        self._residual = residual
        self._preprocess = 0
        if residual:
            self.name = "speex-residual"
            lib.speex_preprocess_state_init.restype = ctypes.c_void_p
            lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
            lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, _I16]
            lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
        self._state = self._make()

    def _make(self) -> int:
        state = self._lib.speex_echo_state_init(FRAME, self._tail)
        if not state:
            raise RuntimeError("speex_echo_state_init failed")
        rate = ctypes.c_int(SAMPLE_RATE)
        self._lib.speex_echo_ctl(state, 24, ctypes.byref(rate))  # SPEEX_ECHO_SET_SAMPLING_RATE
        if self._residual:
            self._preprocess = self._make_preprocess(state)
        return int(state)

    def _make_preprocess(self, echo_state: int) -> int:
        lib = self._lib
        pre = lib.speex_preprocess_state_init(FRAME, SAMPLE_RATE)
        if not pre:
            raise RuntimeError("speex_preprocess_state_init failed")
        # Its residual-echo suppression runs inside the denoiser's gain: denoise on, but noise barely touched
        # (the recogniser copes with gym noise better than with a suppressor's artefacts).
        for request, value in ((0, 1), (18, RESIDUAL_NOISE_DB), (20, RESIDUAL_ECHO_DB), (22, RESIDUAL_ECHO_ACTIVE_DB)):
            number = ctypes.c_int(value)
            lib.speex_preprocess_ctl(pre, request, ctypes.byref(number))
        lib.speex_preprocess_ctl(pre, 24, ctypes.c_void_p(echo_state))  # SPEEX_PREPROCESS_SET_ECHO_STATE
        return int(pre)

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
            if self._preprocess:
                self._lib.speex_preprocess_run(self._preprocess, out[i:].ctypes.data_as(_I16))
        return out

    def reset(self) -> None:
        self._lib.speex_echo_state_reset(self._state)
        if self._preprocess:
            self._lib.speex_preprocess_state_destroy(self._preprocess)
            self._preprocess = self._make_preprocess(self._state)

    def __del__(self) -> None:
        pre, self._preprocess = getattr(self, "_preprocess", 0), 0
        if pre:
            self._lib.speex_preprocess_state_destroy(pre)
        state, self._state = getattr(self, "_state", 0), 0
        if state:
            self._lib.speex_echo_state_destroy(state)


def make_canceller(name: str) -> EchoCanceller:
    """One canceller by name; raises ImportError/OSError/RuntimeError when it cannot load here."""
    if name == "webrtc":
        return WebRtcCanceller()
    if name == "speex":
        return SpeexCanceller()
    if name == "speex-residual":
        return SpeexCanceller(residual=True)
    raise ValueError(f"unknown echo canceller {name!r} (one of {', '.join(NAMES)})")


def moving_path_fallback(canceller: EchoCanceller) -> EchoCanceller | None:
    """For the canceller "auto" chose for a fixed echo path, the one to switch to if the path turns out to move
    (two sound cards with two clocks run in one stream too): None if there is none, or no need."""
    if canceller.name != FIXED_PATH_ORDER[0]:
        return None
    for candidate in MOVING_PATH_ORDER:
        if candidate != canceller.name:
            try:
                return make_canceller(candidate)
            except (ImportError, OSError, RuntimeError):
                continue
    return None


def load_canceller(name: str = "auto", *, fixed_path: bool = False) -> EchoCanceller | None:
    """The canceller asked for, or None with one log line. "auto": the first that loads of the order the
    PulseAudio room measured (benchmarks/bargein_room.py): with `fixed_path` (microphone and speaker in one
    stream, `audio.duplex`) speex with its residual-echo suppressor, which keeps the lifter's word whole in
    double-talk; with two streams, whose echo path moves, WebRTC AEC3, which never interrupted itself there."""
    errors = []
    for candidate in (FIXED_PATH_ORDER if fixed_path else MOVING_PATH_ORDER) if name == "auto" else (name,):
        try:
            canceller = make_canceller(candidate)
        except (ImportError, OSError, RuntimeError) as err:
            errors.append(f"{candidate}: {err}")
            continue
        log.info("echo cancellation: %s", canceller.name)
        return canceller
    log.warning("no echo canceller loads (%s); the coach stays deaf while it speaks", "; ".join(errors))
    return None
