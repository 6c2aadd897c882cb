"""Microphone and speaker in one full-duplex PortAudio stream, so the echo path stays fixed for the stream's life.

With two streams, each has its own callbacks and clock: their time stamps jitter by up to 1.5 ms and the sound
server's buffers move the echo path by milliseconds (measured in the PulseAudio room), which a linear echo
canceller cannot follow. In one stream the same callback takes the microphone's block and writes the speaker's,
so both sides are counted in the same samples: the playback that the microphone hears at any moment is a fixed
number of samples back. The reference is therefore stamped by that count, never by the clock, and the measured
delay (`echo_delay.DelayEstimator`) only has to find one constant.

`DuplexMicrophone` is a `Microphone` (the same 30 ms chunks, the same reopening when the device goes away)
whose stream also plays: a `Player` made with `duplex=` writes its blocks through `playback`.
"""

from __future__ import annotations

import queue
import time
from typing import Any, Protocol

import numpy as np

from voicecoach.audio.devices import DeviceSpec, find_device, portaudio
from voicecoach.audio.echo_reference import ReferenceBuffer
from voicecoach.audio.format import SAMPLE_RATE
from voicecoach.audio.microphone import Microphone
from voicecoach.audio.resample import resample
from voicecoach.errors import AudioDeviceError

BLOCK_SECONDS = 0.02
"""Seconds per callback block, for both directions: the player's granularity of `stop()` (voice.player)."""


STREAM_LATENCY = "low"
"""PortAudio's suggested latency, both directions. "low" (reported 40 ms in, 60 ms out in the PulseAudio room)
runs dry now and then on a loaded machine (1-10 times in 18 s runs, mostly as the stream starts), and the echo
delay steps each time; the echo stage re-measures at once (audio.echo_delay.UNDERFLOW_HOLD_SECONDS). Larger
buffers ran dry less but made PortAudio's ALSA thread spin, idle, through the sound server's plugin: 0.05 s took
72-99% of a core, 0.06 s 61%, 0.1 s 15%, "high" 21%, against 2-7% for "low" (measured here, no playback)."""


class Playback(Protocol):
    """What fills the speaker's half of each block (the player's feed); called on PortAudio's thread."""

    def __call__(self, outdata: Any, frames: int, when: Any, status: Any, /) -> None: ...


class DuplexMicrophone(Microphone):
    """The microphone on `input` and the speaker on `output` in one stream; what the speaker plays goes to
    `reference` (for the echo canceller) stamped by the shared sample count. Iterate for 16 kHz chunks."""

    def __init__(self, input: DeviceSpec, output: DeviceSpec, reference: ReferenceBuffer) -> None:
        self.output = find_device(output, "output")
        self.reference = reference
        self.playback: Playback | None = None
        """Fills the speaker's half of each block (silence while None)."""
        self.input_latency = 0.0
        self.output_latency = 0.0
        self._origin: float | None = None
        self._count = 0  # frames through the stream since it opened, both directions alike
        super().__init__(input)

    @property
    def rate(self) -> int:
        """Hertz the stream runs at, both directions (the player renders its clips at this rate)."""
        return self._rate

    @property
    def active(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def _open(self) -> None:
        sd = portaudio()
        errors = []
        self.output = find_device(self.output.name, "output")  # after a replug its index may have changed
        # 16 kHz first: no resampling on the microphone side; else a rate both devices take.
        for rate in dict.fromkeys((SAMPLE_RATE, int(self.device.default_rate), int(self.output.default_rate))):
            try:
                stream = sd.Stream(
                    samplerate=rate,
                    channels=(1, 1),
                    dtype="int16",
                    device=(self.device.index, self.output.index),
                    blocksize=int(rate * BLOCK_SECONDS),
                    latency=STREAM_LATENCY,
                    callback=self._callback,
                )
            except Exception as err:  # PortAudioError or ValueError from an unsupported rate
                errors.append(f"{rate} Hz: {err}")
                continue
            self._rate, self._origin, self._count = rate, None, 0
            self.input_latency, self.output_latency = (float(seconds) for seconds in stream.latency)
            self._stream = stream
            stream.start()
            return
        raise AudioDeviceError(
            f"cannot open {self.device.name!r} and {self.output.name!r} as one stream ({'; '.join(errors)}); "
            "choose devices on one sound card with --input/--output (see `voicecoach devices`)"
        )

    def _callback(self, indata: Any, outdata: Any, frames: int, when: Any, status: Any) -> None:  # type: ignore[override]
        # PortAudio's thread: fill, copy, stamp; never block.
        playback = self.playback
        if playback is None:
            outdata.fill(0)
        else:
            playback(outdata, frames, when, status)
        if self._origin is None:
            self._origin = time.monotonic()
        at = self._origin + self._count / self._rate  # this block's callback, by the count (no clock jitter)
        self._count += frames
        played = outdata[:frames, 0]
        self.reference.write(resample(played, self._rate, SAMPLE_RATE), at + self.output_latency)  # a copy
        if status.input_overflow:
            self.overflows += 1
        if status.output_underflow:
            self.reference.underflows += 1
        try:
            # The input block was captured over the block before this callback, plus the input latency.
            self._queue.put_nowait((bytes(np.ascontiguousarray(indata)), at - frames / self._rate - self.input_latency))
        except queue.Full:
            self.overflows += 1
