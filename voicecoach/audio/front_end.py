"""The front end: noise suppression between the microphone (or a WAV file) and the recogniser, off by default.

WebRTC's noise suppressor (the `webrtc-noise-gain` wheel wyoming-satellite uses), on 10 ms frames. Measured in
front of Moonshine with benchmarks/bench_ear.py --noise-suppression (answer path, held-out set, 4 voices), it
trades: in 10 dB gym noise it answers more questions right, but it costs answers at 20 dB and spoken commands,
and gives more wrong advice at 10 dB (see the README, "Noise suppression"). So it is a setting for a very loud
gym, `[audio] noise_suppression`, not a default. A front end that does not load is one status line and the
audio as it came, never a stopped coach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Protocol

from voicecoach.audio.format import SAMPLE_RATE, SAMPLE_WIDTH, AudioChunk

FRAME_BYTES = SAMPLE_RATE // 100 * SAMPLE_WIDTH
"""WebRTC's audio processing works on 10 ms frames."""


class FrontEnd(Protocol):
    """Cleans a stream of chunks in order; the output keeps the input's chunk sizes and timestamps."""

    name: str

    def process(self, chunk: AudioChunk) -> AudioChunk: ...


class NoiseSuppression:
    """WebRTC noise suppression (and its high-pass filter), no automatic gain: the recognisers' endpointers measure
    the room's level themselves, and a gain that rises in pauses would lift the gym noise between questions."""

    def __init__(self, level: int) -> None:
        from webrtc_noise_gain import AudioProcessor  # the wheel; a missing one is `load_front_end`'s line

        if not 1 <= level <= 4:  # WebRTC's levels, mild to strongest
            raise ValueError(f"noise suppression level {level}: must be 1 to 4")
        self.name = f"noise suppression: WebRTC level {level}"
        self._processor = AudioProcessor(0, level)

    def process(self, chunk: AudioChunk) -> AudioChunk:
        # Every chunk is whole frames (30 ms, `CHUNK_SAMPLES`) but a file's last: its short tail passes as it came.
        data = chunk.audio
        whole = len(data) - len(data) % FRAME_BYTES
        frames = (self._processor.Process10ms(data[at : at + FRAME_BYTES]).audio for at in range(0, whole, FRAME_BYTES))
        return replace(chunk, audio=b"".join(frames) + data[whole:])


def load_front_end(level: int, on_status: Callable[[str], None]) -> FrontEnd | None:
    """The front end for `[audio] noise_suppression` (0: none). One status line says which runs, or why none does
    (the wheel missing, or its library not loading on this machine): the coach then hears the audio as it came."""
    if level == 0:
        return None
    try:
        front_end = NoiseSuppression(level)
    except ImportError:
        on_status(
            "noise suppression off: the webrtc-noise-gain package is not installed (pip install webrtc-noise-gain)"
        )
        return None
    except (OSError, RuntimeError) as err:
        on_status(f"noise suppression off: webrtc-noise-gain does not load here ({err})")
        return None
    on_status(front_end.name)
    return front_end


def cleaned(chunks: Iterable[AudioChunk], front_end: FrontEnd | None) -> Iterator[AudioChunk]:
    """`chunks` through the front end (as they are without one): what files, devices and tests all hear."""
    if front_end is None:
        yield from chunks
        return
    for chunk in chunks:
        yield front_end.process(chunk)
