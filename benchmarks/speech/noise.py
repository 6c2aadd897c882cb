"""Gym noise: made once by the shared tools/gym_noise.py, mixed into questions at SNR_DB, cut into excerpts."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from speech.common import CLINC, GYM_NOISE, load_tool

SNR_DB = 10.0
NOISE_BEFORE, NOISE_AFTER = 0.5, 2.5
"""Seconds of gym noise around a question for the listen loop in noise (the gym does not go quiet to help)."""
MIX_NOISE_SECONDS = 60.0


def make_noise(workdir: Path, seconds: float, idle_seconds: float, seed: int) -> Path:
    """The gym noise for this run (kept in `workdir`: a second run with the same workdir reuses it)."""
    t = time.monotonic()
    noise = workdir / f"gym-noise-{seconds:g}s-seed{seed}.wav"
    if not noise.exists():
        length = max(seconds, idle_seconds + 5)
        load_tool(GYM_NOISE).cmd_make(argparse.Namespace(out=str(noise), seconds=length, seed=seed, clinc=str(CLINC)))
    print(f"gym noise: {noise.name} made in {time.monotonic() - t:.1f} s", flush=True)
    return noise


def mix_noise(gym: ModuleType, speech: Path, noise: Path, offset: float, *, pad: bool) -> Path:
    """`gym_noise.py mix` at SNR_DB; with `pad`, the noise also runs NOISE_BEFORE s before and NOISE_AFTER s after."""
    from voicecoach.audio.chunks import read_wav, write_wav

    name = f"{speech.stem}-snr{SNR_DB:g}{'-padded' if pad else ''}.wav"
    mixed = speech.with_name(name)
    if mixed.exists():
        return mixed
    source = speech
    if pad:  # gym_noise measures speech loudness over its loud samples only, so padding keeps the SNR
        samples = read_wav(speech)
        source = speech.with_name(f"{speech.stem}-padded.wav")
        before, after = np.zeros(int(NOISE_BEFORE * 16_000), "<i2"), np.zeros(int(NOISE_AFTER * 16_000), "<i2")
        write_wav(source, np.concatenate([before, samples, after]))
    gym.cmd_mix(argparse.Namespace(speech=str(source), noise=str(noise), out=str(mixed), snr=SNR_DB, offset=offset))
    return mixed


def noise_excerpt(noise: Path, seconds: float) -> Path:
    """The first `seconds` of the gym noise as its own WAV (mixing offsets stay inside it)."""
    from voicecoach.audio.chunks import read_wav, write_wav

    excerpt = noise.with_name(f"{noise.stem}-first{seconds:g}s.wav")
    if not excerpt.exists():
        write_wav(excerpt, read_wav(noise)[: int(seconds * 16_000)])
    return excerpt
