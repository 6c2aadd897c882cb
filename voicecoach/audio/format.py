"""Audio format constants shared by every stage: fixed once, as the recognisers expect them."""

from typing import Final

SAMPLE_RATE: Final = 16_000
"""Hertz. Vosk and PocketSphinx models are trained on 16 kHz speech."""

SAMPLE_WIDTH: Final = 2
"""Bytes per sample (signed 16-bit little-endian)."""

CHANNELS: Final = 1

CHUNK_SAMPLES: Final = 480
"""Samples per chunk: 30 ms, the frame size of PocketSphinx's endpointer."""

CHUNK_BYTES: Final = CHUNK_SAMPLES * SAMPLE_WIDTH * CHANNELS
