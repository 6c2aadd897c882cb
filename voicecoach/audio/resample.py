"""The one resampler (files, clips, microphone blocks, playback): linear interpolation, hand-written on purpose.

soxr, the field's well-kept resampler, was measured in its place and lost: on 159 held-out questions x 3
espeak-ng voices decoded by PocketSphinx (22.05 kHz speech brought to 16 kHz), right answers were
76 with linear interpolation, 70 with soxr "QQ" and 53 with soxr "HQ". The steeper its anti-alias filter,
the worse: PocketSphinx's acoustic model copes better with the little aliasing linear interpolation lets
through than with the band-limited signal. Re-measure with `benchmarks/bench_resample.py` before changing it.
"""

from __future__ import annotations

import numpy as np

BLOCK_SAMPLES = 16_000
"""Output samples interpolated at a time. Whole, a 12 s answer brought from espeak-ng's 22.05 kHz to a 48 kHz
device took five float64 copies of the clip at once (about 20 MB); a block at a time gives the same samples."""


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Mono `samples` at `rate` Hz as int16 at `target` Hz, the same duration."""
    if rate == target or not len(samples):
        return np.clip(np.round(samples.astype(np.float64)), -32768, 32767).astype("<i2")
    count = int(len(samples) / rate * target)
    out = np.empty(count, "<i2")
    for start in range(0, count, BLOCK_SAMPLES):
        positions = np.arange(start, min(start + BLOCK_SAMPLES, count)) / target
        # The input samples around these positions (one more each side, for rounding in position * rate).
        first = max(int(positions[0] * rate) - 1, 0)
        last = min(int(positions[-1] * rate) + 3, len(samples))
        block = np.interp(positions, np.arange(first, last) / rate, samples[first:last].astype(np.float64))
        out[start : start + len(positions)] = np.clip(np.round(block), -32768, 32767)
    return out


def resample_bytes(audio: bytes, rate: int, target: int) -> bytes:
    """`resample` for raw signed 16-bit little-endian audio."""
    if rate == target:
        return audio
    return resample(np.frombuffer(audio, "<i2"), rate, target).tobytes()
