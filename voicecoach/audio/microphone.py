"""The microphone: a PortAudio input stream (sounddevice) as an endless iterable of 16 kHz chunks.

The stream is opened once and kept running (PulseAudio capture starts ~2 s late, so opening per
utterance would lose the start of every question). The audio callback only copies into a queue; all
work happens in the consumer. A device that goes away is reopened with back-off; the session survives.
What happens to the device is logged (logger "voicecoach.audio"); the CLI shows it on stderr.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from voicecoach.audio.devices import DeviceSpec, find_device, portaudio, rescan
from voicecoach.audio.echo_reference import StreamClock
from voicecoach.audio.format import CHUNK_BYTES, CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from voicecoach.audio.resample import resample
from voicecoach.errors import AudioDeviceError

STALL_SECONDS = 3.0
"""No audio for this long on an open stream means the device went away."""
REOPEN_DELAYS = (0.5, 1.0, 2.0, 4.0)

log = logging.getLogger("voicecoach.audio")


class Microphone:
    """An always-open input stream; iterate over it for 30 ms chunks at 16 kHz, timestamped from open."""

    def __init__(self, device: DeviceSpec = None) -> None:
        self.device = find_device(device, "input")
        self.overflows = 0
        self.reopens = 0
        self._queue: queue.Queue[tuple[bytes, float]] = queue.Queue(maxsize=1000)
        self._stream: Any = None
        self._rate = SAMPLE_RATE
        self._samples = 0
        self._captured = 0  # samples delivered by the device's callbacks (for their capture times)
        self._clock = StreamClock(SAMPLE_RATE)
        self._closed = threading.Event()
        self._open()

    def _open(self) -> None:
        sd = portaudio()
        errors = []
        # 16 kHz first: most devices resample themselves; otherwise take the device's own rate and resample here.
        for rate in dict.fromkeys((SAMPLE_RATE, int(self.device.default_rate))):
            try:
                stream = sd.RawInputStream(
                    samplerate=rate,
                    channels=1,
                    dtype="int16",
                    device=self.device.index,
                    blocksize=int(rate * 0.03),
                    callback=self._callback,
                )
                stream.start()
            except Exception as err:  # PortAudioError or ValueError from an unsupported rate
                errors.append(f"{rate} Hz: {err}")
                continue
            self._stream, self._rate = stream, rate
            self._clock, self._captured = StreamClock(rate), 0
            return
        raise AudioDeviceError(
            f"cannot open microphone {self.device.name!r} ({'; '.join(errors)}); "
            "plug it in again or choose another with --input (see `voicecoach devices`)"
        )

    def _callback(self, data: Any, frames: int, when: Any, status: Any) -> None:
        if status.input_overflow:
            self.overflows += 1
        try:
            # When its first sample reached the microphone: now, less the block and the input latency (the
            # block's callback time is smoothed by StreamClock: PulseAudio delivers in bursts).
            latency = float(self._stream.latency) if self._stream is not None else 0.0
            captured = self._clock.stamp(self._captured, time.monotonic() - frames / self._rate) - latency
            self._captured += frames
            self._queue.put_nowait((bytes(data), captured))
        except queue.Full:
            self.overflows += 1  # the consumer is stuck; dropping audio beats blocking PortAudio

    def __iter__(self) -> Iterator[AudioChunk]:
        pending = b""
        pending_at = 0.0  # monotonic capture time of pending's first sample
        reported_overflows = 0
        while not self._closed.is_set():
            try:
                data, captured = self._queue.get(timeout=STALL_SECONDS)
            except queue.Empty:
                if self._closed.is_set():
                    return
                self._reopen(f"no audio for {STALL_SECONDS:.0f} s")
                continue
            if self._closed.is_set():
                return  # woken by `close`
            if self._rate != SAMPLE_RATE:
                data = resample(np.frombuffer(data, "<i2"), self._rate, SAMPLE_RATE).tobytes()
            if not pending:
                pending_at = captured
            pending += data
            while len(pending) >= CHUNK_BYTES:
                chunk, pending = pending[:CHUNK_BYTES], pending[CHUNK_BYTES:]
                yield AudioChunk(chunk, SAMPLE_RATE, self._samples / SAMPLE_RATE, pending_at)
                pending_at += CHUNK_SAMPLES / SAMPLE_RATE
                self._samples += len(chunk) // 2
            if self.overflows > reported_overflows:
                log.warning("microphone overflow (%d so far); audio was dropped", self.overflows)
                reported_overflows = self.overflows

    def _reopen(self, reason: str) -> None:
        """The device went quiet or away: close, then try to open it again until it comes back."""
        log.warning("microphone %r stopped (%s); reopening", self.device.name, reason)
        self._close_stream()
        for delay in (*REOPEN_DELAYS, *([REOPEN_DELAYS[-1]] * 1000)):
            if self._closed.wait(delay):
                return
            try:
                rescan()  # for the replug
                self.device = find_device(self.device.name, "input")
                self._open()
            except AudioDeviceError as err:
                log.warning("still no microphone (%s); retrying", err)
                continue
            self.reopens += 1
            log.warning("microphone %r is back", self.device.name)
            return

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # the device may already be gone; closing is best effort
                pass

    def close(self) -> None:
        """Stop the stream; an iteration in another thread ends at once (not after STALL_SECONDS). Thread-safe."""
        self._closed.set()
        with contextlib.suppress(queue.Full):  # a full queue wakes it anyway
            self._queue.put_nowait((b"", 0.0))  # wakes a consumer blocked in get()
        self._close_stream()

    def __enter__(self) -> Microphone:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
