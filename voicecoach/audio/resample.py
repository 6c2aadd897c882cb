"""The one resampler (files, clips, microphone blocks, playback): linear interpolation, hand-written on purpose.

soxr, the field's well-kept resampler, was measured in its place and lost: on 159 held-out questions x 3
espeak-ng voices decoded by PocketSphinx (22.05 kHz speech brought to 16 kHz), right answers were
76 with linear interpolation, 70 with soxr "QQ" and 53 with soxr "HQ". The steeper its anti-alias filter,
the worse: PocketSphinx's acoustic model copes better with the little aliasing linear interpolation lets
through than with the band-limited signal. Re-measure with `benchmarks/bench_resample.py` before changing it.
"""

from __future__ import annotations

import numpy as np


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Mono `samples` at `rate` Hz as int16 at `target` Hz, the same duration."""
    data = samples.astype(np.float64)
    if rate == target or not len(samples):
        return np.clip(np.round(data), -32768, 32767).astype("<i2")
    duration = len(data) / rate
    positions = np.arange(0, int(duration * target)) / target
    out = np.interp(positions, np.arange(len(data)) / rate, data)
    return np.clip(np.round(out), -32768, 32767).astype("<i2")


def resample_bytes(audio: bytes, rate: int, target: int) -> bytes:
    """`resample` for raw signed 16-bit little-endian audio."""
    if rate == target:
        return audio
    return resample(np.frombuffer(audio, "<i2"), rate, target).tobytes()
