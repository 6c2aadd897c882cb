"""The audio format every stage shares, fixed once as the recognisers expect it, and the chunk that carries it.

No numpy here: the recogniser interface needs `AudioChunk`, and `voicecoach ask` must start fast."""

from dataclasses import dataclass
from typing import Final

SAMPLE_RATE: Final = 16_000
"""Hertz. Vosk and PocketSphinx models are trained on 16 kHz speech."""

SAMPLE_WIDTH: Final = 2
"""Bytes per sample (signed 16-bit little-endian)."""

CHANNELS: Final = 1

CHUNK_SAMPLES: Final = 480
"""Samples per chunk: 30 ms, the frame size of PocketSphinx's endpointer."""

CHUNK_BYTES: Final = CHUNK_SAMPLES * SAMPLE_WIDTH * CHANNELS


@dataclass(frozen=True)
class AudioChunk:
    """A piece of mono int16 audio."""

    audio: bytes
    """Signed 16-bit little-endian samples."""
    rate: int = SAMPLE_RATE
    """Hertz."""
    timestamp: float = 0.0
    """Seconds from the start of the stream to the first sample of this chunk."""
    captured: float | None = None
    """Monotonic clock seconds when the first sample reached the microphone (live input only): what echo
    cancellation lines the playback reference up by."""

    @property
    def samples(self) -> int:
        return len(self.audio) // SAMPLE_WIDTH

    @property
    def seconds(self) -> float:
        return self.samples / self.rate

    @property
    def end(self) -> float:
        """Seconds from the start of the stream to just after the last sample."""
        return self.timestamp + self.seconds
