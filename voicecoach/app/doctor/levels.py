"""Levels of recorded sound: dBFS, the room's noise floor, a phrase's loud part, and the verdicts on them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from voicecoach.app.doctor.checks import (
    _NOISE_FIX,
    CLIP_LEVEL,
    DBFS_FLOOR,
    FLOOR_PERCENTILE,
    FRAME_SAMPLES,
    FULL_SCALE,
    GOOD_SNR_DB,
    HEARD_SNR_DB,
    LOUD_PERCENTILE,
    MAX_CLIPPED_FRACTION,
    TOO_QUIET_DBFS,
    Check,
)

# --- level analysis -----------------------------------------------------------------------------


def dbfs(rms_value: float) -> float:
    """An RMS (int16 units) in dB relative to full scale; silence is `DBFS_FLOOR`."""
    if rms_value <= 0:
        return DBFS_FLOOR
    return max(DBFS_FLOOR, 20.0 * math.log10(rms_value / FULL_SCALE))


def frame_levels(samples: np.ndarray, frame: int = FRAME_SAMPLES) -> np.ndarray:
    """dBFS of each whole 30 ms frame (a partial last frame is dropped)."""
    import numpy as np

    count = len(samples) // frame
    if count == 0:
        return np.zeros(0)
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    power = np.mean(frames**2, axis=1)
    with np.errstate(divide="ignore"):
        levels: np.ndarray = np.maximum(10.0 * np.log10(power / FULL_SCALE**2), DBFS_FLOOR)
    return levels


@dataclass(frozen=True)
class Level:
    """How loud a recording is, in dBFS."""

    rms_db: float
    """The whole recording's RMS level: every sound counts, music and clatter included."""
    peak_db: float
    floor_db: float
    """Noise floor: a low percentile of the 30 ms frame levels."""
    loud_db: float
    """The loud part: a high percentile of the 30 ms frame levels."""
    clipped: float
    """Fraction of samples at full scale."""
    seconds: float

    @property
    def snr_db(self) -> float:
        """The loud part over the floor, in dB."""
        return self.loud_db - self.floor_db

    @property
    def clipping(self) -> bool:
        return self.clipped > MAX_CLIPPED_FRACTION

    @property
    def too_quiet(self) -> bool:
        """Even its loud part is under `TOO_QUIET_DBFS`."""
        return self.loud_db < TOO_QUIET_DBFS


def analyse(samples: np.ndarray, rate: int = 16_000) -> Level:
    """The level of int16 `samples` (see `Level`)."""
    import numpy as np

    data = np.asarray(samples).astype(np.float64)
    if len(data) == 0:
        return Level(DBFS_FLOOR, DBFS_FLOOR, DBFS_FLOOR, DBFS_FLOOR, 0.0, 0.0)
    levels = frame_levels(data)
    if len(levels) == 0:
        levels = np.array([dbfs(float(np.sqrt(np.mean(data**2))))])
    return Level(
        rms_db=dbfs(float(np.sqrt(np.mean(data**2)))),
        peak_db=dbfs(float(np.max(np.abs(data)))),
        floor_db=float(np.percentile(levels, FLOOR_PERCENTILE)),
        loud_db=float(np.percentile(levels, LOUD_PERCENTILE)),
        clipped=float(np.mean(np.abs(data) >= CLIP_LEVEL)),
        seconds=len(data) / rate,
    )


def phrase_snr_db(noise: Level, phrase: Level) -> float:
    """The test phrase's loud part over the room's noise, in dB.

    The noise is its RMS, not its floor: music and clatter between the quiet moments mask a voice just
    as much, so they count against it. The phrase was recorded with the room under it, so the room's
    power is taken off first (at 5 dB the mixture alone reads 1 dB too high)."""
    room = 10 ** (noise.rms_db / 10)
    voice = max(10 ** (phrase.loud_db / 10) - room, 10 ** (DBFS_FLOOR / 10))
    return 10 * math.log10(voice) - noise.rms_db


def microphone_check(device: str, noise: Level, phrase: Level) -> Check:
    """Too quiet (muted, unplugged), clipping (gain too high), else its levels."""
    detail = f"{device!r} level {phrase.loud_db:.0f} dBFS, room noise {noise.rms_db:.0f} dBFS"
    if noise.too_quiet and phrase.too_quiet:
        return Check(
            "microphone",
            "fail",
            f"{device!r} hears almost nothing (level {max(noise.loud_db, phrase.loud_db):.0f} dBFS, "
            f"under {TOO_QUIET_DBFS:.0f} dBFS)",
            "microphone muted or unplugged? check its gain (alsamixer)",
        )
    clipped = max(noise.clipped, phrase.clipped)
    if noise.clipping or phrase.clipping:
        return Check(
            "microphone",
            "warn",
            f"{detail}; {100 * clipped:.1f}% of samples clip at full scale",
            "lower the microphone gain (alsamixer)",
        )
    return Check("microphone", "ok", detail)


def _cut_short(device: str) -> Check:
    return Check(
        "speaker",
        "fail",
        f"{device!r} stopped before the end of the test phrase",
        "check the speaker is connected; restart the sound server",
    )


def speaker_check(device: str, noise: Level, phrase: Level, *, played: bool = True) -> Check:
    """Did the microphone hear the phrase, and clearly enough over the room's noise for recognition?"""
    if not played:
        return _cut_short(device)
    snr = phrase_snr_db(noise, phrase)
    said = f"played the test phrase on {device!r}"
    if noise.too_quiet and phrase.too_quiet:
        return Check(
            "speaker",
            "warn",
            f"{said}; the microphone hears nothing, so it cannot tell whether the phrase was heard",
            "fix the microphone first; if you did not hear the phrase either, turn the speaker on and up",
        )
    if snr >= GOOD_SNR_DB:
        return Check("speaker", "ok", f"{said}; the microphone heard it, SNR {snr:.0f} dB over the room's noise")
    if snr >= HEARD_SNR_DB:
        return Check(
            "speaker",
            "warn",
            f"{said}; heard only {snr:.0f} dB over the room's noise (a voice needs {GOOD_SNR_DB:.0f} dB "
            "to be recognised reliably)",
            _NOISE_FIX,
        )
    return Check(
        "speaker",
        "warn",
        f"{said}; the microphone did not hear it (SNR {snr:.0f} dB, needs {HEARD_SNR_DB:.0f})",
        "if you did not hear the phrase, turn the speaker on and up; if you did, the room drowns it at the microphone: "
        + _NOISE_FIX,
    )
