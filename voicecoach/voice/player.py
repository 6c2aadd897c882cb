"""Plays speech clips through PortAudio (sounddevice), interruptibly, and says when it makes sound.

One `OutputStream` stays open for the player's life, fed by a callback in small blocks (silence
between replies). Opening a stream per reply was measured at 1-1.5 s before the first sample
through PulseAudio, on every reply; the open stream starts a reply within one buffer. `stop()`
only has to wait for the blocks already queued (~latency + one block), and `volume` changes apply
to the next block even mid-sentence. Listeners hear True just before the first block is handed
to the device and False once the last one has had time to play out (device latency), so the
microphone stays muted for the whole reply.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from voicecoach.audio.devices import DeviceSpec, find_device, portaudio
from voicecoach.errors import AudioDeviceError
from voicecoach.voice.base import SpeechClip, SpeechListener, words_around

BLOCK_SECONDS = 0.02
"""Seconds of audio per callback block: the granularity of `stop()` and of volume changes."""

STALL_GRACE_SECONDS = 1.5
"""A clip still not played out this long after it should have ended means the stream stalled."""

if TYPE_CHECKING:
    from voicecoach.audio.duplex import DuplexMicrophone

_FIX = "start the sound server or pass --output (see `voicecoach devices`)"


class _Playing:
    """One clip on its way out; the callback advances it, `stop()` and the end finish it."""

    def __init__(self, samples: Any, text: str = "") -> None:
        self.samples = samples
        self.text = text
        self.position = 0
        self.played_out = threading.Event()  # last sample handed to PortAudio, or stopped
        self.stopped = threading.Event()
        self.ended = threading.Event()  # listeners told False


class _Feed:
    """What the PortAudio callback reads and writes. Kept apart from `Player` so the stream does
    not hold the player alive: a player dropped without `close()` is then collected and its
    finalizer closes the stream. (A running stream whose callback was freed crashed the process.)"""

    def __init__(self, volume: float) -> None:
        self.current: _Playing | None = None  # what the callback plays; None means silence
        self.frames = 0  # handed to PortAudio so far: shows whether the stream really flows
        self.volume = volume
        self.reference: Any = None  # an echo.ReferenceBuffer told every block written, or None
        self.rate = 16_000
        self.latency = 0.0
        self.clock: Any = None  # audio.echo.StreamClock, made on the first tapped block

    def _tap(self, outdata: Any, frames: int) -> None:
        """The block just written, at 16 kHz, to the echo canceller's reference, stamped with when it is heard."""
        from voicecoach.audio.format import SAMPLE_RATE
        from voicecoach.audio.resample import resample

        block = resample(outdata[:frames, 0], self.rate, SAMPLE_RATE)
        if self.clock is None:
            from voicecoach.audio.echo_reference import StreamClock

            self.clock = StreamClock(self.rate)
        heard = self.clock.stamp(self.frames - frames, time.monotonic()) + self.latency
        self.reference.write(block, heard)

    def __call__(self, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        # Runs on PortAudio's thread: copy and flag only, never block or call listeners here.
        self.frames += frames
        playing = self.current
        if playing is None:
            outdata.fill(0)
            if self.reference is not None:
                self._tap(outdata, frames)
            return
        block = playing.samples[playing.position : playing.position + frames]
        playing.position += frames
        gain = self.volume
        outdata[: len(block), 0] = block if gain >= 1.0 else (block * gain).astype("<i2")
        outdata[len(block) :, 0] = 0
        if self.reference is not None:
            self._tap(outdata, frames)
        if playing.position >= len(playing.samples):
            if self.current is playing:
                self.current = None
            playing.played_out.set()


def _close_stream(stream: Any, error: type[Exception]) -> None:
    with contextlib.suppress(error):
        stream.abort()
        stream.close()


class Player:
    """Plays one clip at a time on one output device. Thread-safe. Call `close()` when done."""

    def __init__(
        self,
        device: DeviceSpec = None,
        *,
        volume: float = 1.0,
        rate: int = 22_050,
        duplex: DuplexMicrophone | None = None,
    ) -> None:
        """With `duplex`, play through that microphone's own full-duplex stream (`audio.duplex`) instead of a
        stream of its own: `device` and `rate` are then the duplex stream's."""
        self._sd = portaudio()
        self._duplex = duplex
        found = duplex.output if duplex is not None else find_device(device, "output")
        self.device, self.device_name = found.index, found.name
        self._feed = _Feed(volume)
        self.rate = duplex.rate if duplex is not None else self._device_rate(rate)
        """Hertz the stream runs at: `rate` if the device takes it, else the device's own rate."""
        self._listeners: list[SpeechListener] = []
        self._lock = threading.Lock()
        self._last: _Playing | None = None  # the latest clip, until its listeners heard False
        self._stream: Any = None
        self._flowing = False
        self._stalled = False
        self._open()

    def _device_rate(self, rate: int) -> int:
        try:
            self._sd.check_output_settings(device=self.device, samplerate=rate, channels=1, dtype="int16")
            return rate
        except self._sd.PortAudioError:
            return int(self._sd.query_devices(self.device)["default_samplerate"])

    def _open(self) -> None:
        self._feed.rate, self._feed.clock = self.rate, None  # the callback may run before start() returns
        if self._duplex is not None:
            self._duplex.playback = self._feed  # its latency: the stream's own, taken at each play()
            return
        try:
            self._stream = self._sd.OutputStream(
                device=self.device,
                samplerate=self.rate,
                channels=1,
                dtype="int16",
                blocksize=int(self.rate * BLOCK_SECONDS),
                latency="low",
                callback=self._feed,
            )
            self._stream.start()
            self._feed.latency = float(self._stream.latency)
            self._finalizer = weakref.finalize(self, _close_stream, self._stream, self._sd.PortAudioError)
        except self._sd.PortAudioError as err:
            raise AudioDeviceError(f"cannot play on {self.device_name!r} ({err}); {_FIX}") from None

    @property
    def reference(self) -> Any:
        """An `audio.echo.ReferenceBuffer` that hears every block as it is written (None: nobody listens)."""
        return self._feed.reference

    @reference.setter
    def reference(self, reference: Any) -> None:
        self._feed.reference = reference

    @property
    def saying(self) -> str:
        """The words of the clip being heard around now ("" when silent): barge-in never takes one of them."""
        last = self._last
        if last is None or last.ended.is_set():
            return ""
        heard = (last.position - self._feed.latency * self.rate) / self.rate
        return words_around(last.text, heard, len(last.samples) / self.rate)

    @property
    def volume(self) -> float:
        """Gain 0.0-1.0 applied to each block as it is played (mid-sentence changes apply)."""
        return self._feed.volume

    @volume.setter
    def volume(self, volume: float) -> None:
        self._feed.volume = volume

    @property
    def frames(self) -> int:
        """Frames handed to PortAudio since the stream opened (silence included)."""
        return self._feed.frames

    @property
    def speaking(self) -> bool:
        last = self._last
        return last is not None and not last.ended.is_set()

    @property
    def latency(self) -> float:
        """Seconds from handing a block to PortAudio until it is heard."""
        if self._duplex is not None:
            return self._duplex.output_latency
        return float(self._stream.latency) if self._stream is not None else 0.0

    def ready(self, timeout: float = 4.0) -> bool:
        """Block until the stream plays in real time. Through PulseAudio a new stream first
        trickles for ~1-2 s (measured); call this at start-up so the first reply is not late."""
        if self._flowing:
            return True
        deadline = time.monotonic() + timeout
        before, then = self._feed.frames, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now, frames = time.monotonic(), self._feed.frames
            if now - then >= 0.2:
                if frames - before >= 0.75 * (now - then) * self.rate:
                    self._flowing = True
                    return True
                before, then = frames, now
        return False

    def add_listener(self, listener: SpeechListener) -> None:
        self._listeners.append(listener)

    def play(self, clip: SpeechClip, *, wait: bool = True) -> bool:
        """Play `clip`, cutting off whatever plays now; with wait, True if it played to the end."""
        import numpy as np

        from voicecoach.audio.resample import resample_bytes  # numpy: kept out of `voicecoach ask` start-up

        self.stop()
        if not clip.audio:
            return True
        if self._duplex is not None:
            self.rate = self._feed.rate = self._duplex.rate  # a reopened duplex stream may run at another rate
        playing = _Playing(np.frombuffer(resample_bytes(clip.audio, clip.rate, self.rate), "<i2"), clip.text)
        with self._lock:
            if self._duplex is not None:
                self._stalled = False  # the microphone side reopens a duplex stream that went quiet
                self._feed.latency = self._duplex.output_latency  # the reopened stream's, after a replug
            elif self._stream is None or not self._stream.active or self._stalled:
                self._reopen()
            self.ready()
            self._last = playing
            self._notify(True)
            self._feed.current = playing  # the callback picks it up with its next block
        seconds = len(playing.samples) / self.rate
        threading.Thread(target=self._finish, args=(playing, seconds), daemon=True).start()
        return self.wait() if wait else True

    def _reopen(self) -> None:
        # The stream died (device unplugged, server restarted): one fresh try, then a clear error.
        if self._stream is not None:
            self._finalizer()
            self._stream = None
        self._flowing = False
        self._stalled = False
        self._open()

    def _finish(self, playing: _Playing, seconds: float) -> None:
        if not playing.played_out.wait(seconds + self.latency + STALL_GRACE_SECONDS):
            # The device stopped pulling audio (seen through ALSA's pulse plugin). Never stay "speaking":
            # the listening loop is deaf while we are. Reopen the stream for the next reply.
            self._stalled = True
            playing.stopped.set()
            if self._feed.current is playing:
                self._feed.current = None
            playing.played_out.set()
        if not playing.stopped.is_set():
            # The last blocks are still in the device's buffer: the sound goes on that long.
            playing.stopped.wait(self.latency)
        try:
            self._notify(False)
        finally:
            playing.ended.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current clip ends; True if it played to the end (not stopped)."""
        last = self._last
        if last is None:
            return True
        if not last.ended.wait(timeout):
            return False
        return not last.stopped.is_set()

    def stop(self) -> None:
        """Cut off the current clip: silent once the blocks already queued have played (~latency)."""
        with self._lock:
            last = self._last
            if last is None or last.ended.is_set():
                return
            if not last.played_out.is_set():
                last.stopped.set()
            if self._feed.current is last:
                self._feed.current = None
            last.played_out.set()
        last.ended.wait(timeout=2.0)

    def close(self) -> None:
        """Stop playing and release the device."""
        self.stop()
        if self._duplex is not None and self._duplex.playback is self._feed:
            self._duplex.playback = None
        if self._stream is not None:
            self._finalizer()
            self._stream = None

    def _notify(self, speaking: bool) -> None:
        for listener in list(self._listeners):
            listener(speaking)
