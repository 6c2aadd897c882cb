"""Audio as small frozen chunks: WAV files, devices and tests share one code path.

Everything downstream of this module sees 16 kHz mono signed 16-bit chunks of `CHUNK_SAMPLES`
(see `format`); `wav_to_chunks` and the microphone convert whatever they get into that.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from voicecoach.audio.format import CHANNELS, CHUNK_BYTES, SAMPLE_RATE, SAMPLE_WIDTH, AudioChunk
from voicecoach.audio.resample import resample
from voicecoach.errors import AudioFileError


def to_mono_16k(samples: np.ndarray, rate: int, channels: int = 1) -> np.ndarray:
    """Mix down to mono and resample to the recognisers' rate."""
    data: np.ndarray = samples.astype(np.float64)
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return resample(data, rate, SAMPLE_RATE)


def read_wav(path: str | Path) -> np.ndarray:
    """A WAV file as 16 kHz mono int16 samples; any rate, channel count, 8/16/24/32-bit PCM."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioFileError(f"{path}: is a folder, not a WAV file") from None
    except PermissionError:
        raise AudioFileError(f"{path}: permission denied") from None
    except (wave.Error, EOFError, ValueError) as err:
        raise AudioFileError(f"{path}: not a readable PCM WAV file ({err})") from None
    if rate <= 0 or channels <= 0:
        raise AudioFileError(f"{path}: WAV header has rate {rate} and {channels} channels")
    return to_mono_16k(_pcm_to_int16(frames, width, path), rate, channels)


def _pcm_to_int16(frames: bytes, width: int, path: str | Path) -> np.ndarray:
    usable = len(frames) - len(frames) % width
    if width == 1:
        return (np.frombuffer(frames[:usable], np.uint8).astype(np.int16) - 128) << 8
    if width == 2:
        return np.frombuffer(frames[:usable], "<i2")
    if width == 3:
        raw = np.frombuffer(frames[:usable], np.uint8).reshape(-1, 3)
        return (raw[:, 1].astype(np.int16) | (raw[:, 2].astype(np.int16) << 8)).astype(np.int16)
    if width == 4:
        return (np.frombuffer(frames[:usable], "<i4") >> 16).astype(np.int16)
    raise AudioFileError(f"{path}: {8 * width}-bit samples are not supported")


def samples_to_chunks(samples: np.ndarray | bytes, *, start: float = 0.0) -> Iterator[AudioChunk]:
    """Cut audio into fixed-size chunks; the last one is padded with silence."""
    audio = samples if isinstance(samples, bytes) else samples.astype("<i2").tobytes()
    for offset in range(0, len(audio), CHUNK_BYTES):
        piece = audio[offset : offset + CHUNK_BYTES]
        if len(piece) < CHUNK_BYTES:
            piece += b"\0" * (CHUNK_BYTES - len(piece))
        yield AudioChunk(piece, SAMPLE_RATE, start + offset / (SAMPLE_RATE * SAMPLE_WIDTH))


def wav_to_chunks(path: str | Path, *, trailing_silence: float = 0.0) -> Iterator[AudioChunk]:
    """A WAV file as 16 kHz mono chunks, optionally followed by silence so endpointers can close."""
    samples = read_wav(path)
    pad = np.zeros(int(trailing_silence * SAMPLE_RATE), dtype="<i2")
    yield from samples_to_chunks(np.concatenate([samples, pad]))


def chunks_to_bytes(chunks: Iterable[AudioChunk]) -> bytes:
    return b"".join(chunk.audio for chunk in chunks)


def wav_bytes(samples: np.ndarray | bytes, rate: int = SAMPLE_RATE) -> bytes:
    """A mono 16-bit WAV file in memory."""
    audio = samples if isinstance(samples, bytes) else samples.astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(rate)
        wav.writeframes(audio)
    return buffer.getvalue()


def write_wav(path: str | Path, samples: np.ndarray | bytes, rate: int = SAMPLE_RATE) -> None:
    """Write a mono 16-bit WAV; an unwritable path is an `AudioFileError`, never a traceback."""
    data = wav_bytes(samples, rate)
    try:
        Path(path).write_bytes(data)
    except OSError as err:
        raise AudioFileError(f"{path}: cannot write ({err.strerror})") from None


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64))))) if len(samples) else 0.0
