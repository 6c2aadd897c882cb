"""Where an utterance starts and ends in a live stream: voice activity per 30 ms frame, plus loudness.

PocketSphinx's own `Endpointer` hands speech to the decoder one window (0.3 s) late and closes an
utterance only once its voice-activity detector has heard 0.3 s of non-speech. That detector keeps
calling the fading end of a word speech, so the utterance closed ~480 ms after the last audible sound
(measured on espeak-ng questions; the lifter waits all of it). This one starts the same way (9 of 10
frames of speech, the window given to the decoder so no onset is lost) but then passes frames through
at once, and counts a frame as silence when the detector says so, when it is far quieter than the
loudest recent speech, or when it does not clear the room's noise floor: the end is heard ~320 ms after
the last sound instead (same questions, none split), and in steady gym noise, where the detector calls
everything speech, utterances end at all.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from voicecoach.audio.format import CHUNK_BYTES, SAMPLE_RATE, AudioChunk
from voicecoach.audio.level import NoiseFloor

FRAME_SECONDS = CHUNK_BYTES / 2 / SAMPLE_RATE
START_WINDOW = 10
"""Frames the start decision looks at (0.3 s)."""
START_SPEECH = 9
"""Speech frames among them that start an utterance (PocketSphinx's ratio 0.9)..."""
START_LOUD = 4
"""... of which this many clear the noise floor (speech in noise is bursty: vowels clear it, consonants not)."""
CLOSING_FRAMES = 10
"""Frames of silence in a row that end an utterance: 0.3 s, the endpoint silence."""
SHORT_FRAMES = 40
"""An utterance shorter than this (1.2 s, the wake word and a breath) ..."""
SHORT_CLOSING_FRAMES = 20
"""... needs this much silence (0.6 s) to end: "hey coach, ..." pauses at the comma, and splitting it there
loses the wake word's context (measured: "coach" heard alone as "think so")."""
QUIET_RATIO = 0.02
"""A frame quieter than this fraction of the loudest recent speech frame (RMS, -34 dB) is silence."""
PEAK_DECAY = 0.5**FRAME_SECONDS
"""Between utterances "the loudest recent speech" halves every second: the fading tail of the last
utterance must not start a new one (it did: empty extra utterances), a new question seconds later must."""
NOISE_MARGIN = 3.0
"""A frame must be this much louder (RMS, 9.5 dB) than the noise floor to count as speech: in steady gym
babble and music the detector calls everything speech, and no utterance ever ended (measured)."""
FLOOR_FRAMES = 100
"""The noise floor is the quietest tenth of the last 3 s (`NoiseFloor`)."""
OPENING_FRAMES = 34
"""An utterance that starts within this many frames (1 s) of the stream's start gets every frame from the start:
a stream that opens with speech (a WAV cut tight, `voicecoach answer`) makes its first words the noise floor, the
start is heard a few frames late, and the window alone lost the first word ("my knees are sore after running"
decoded as "saw after running"; tests/test_endpoint.py)."""
QUICK_CLOSING_FRAMES = 8
"""Silence that ends an utterance when the caller waits for one short command (barge-in without partial results):
0.24 s, so "stop" over an answer can end it within half a second."""
PREROLL_FRAMES = 5
"""Frames before the start window also given to the decoder: it decodes better from a little silence."""
ROOM_HEARD_FRAMES = 10
"""An utterance that starts before the noise floor has heard this many frames of the room (0.3 s) has no room
to clear: its own quiet frames were the floor, and the soft last word ended it early ("any tips" -> "and it is",
"quieter please" -> "quieter", a stream that opens with speech: a WAV cut tight). Such an utterance ends on the
detector and the drop from its peak alone."""


def frames_of(chunk: AudioChunk) -> Iterator[tuple[bytes, float]]:
    """The chunk as the endpointer's frames (the last one padded with silence), each with its stream time."""
    audio = chunk.audio
    for offset in range(0, len(audio), CHUNK_BYTES):
        yield audio[offset : offset + CHUNK_BYTES].ljust(CHUNK_BYTES, b"\0"), chunk.timestamp + offset / 2 / SAMPLE_RATE


class VoiceActivity(Protocol):
    def is_speech(self, frame: bytes) -> bool: ...


def pocketsphinx_vad() -> VoiceActivity:
    import pocketsphinx

    vad = pocketsphinx.Vad(pocketsphinx.Vad.LOOSE, SAMPLE_RATE, FRAME_SECONDS)
    if vad.frame_bytes != CHUNK_BYTES:  # a pocketsphinx that rounds frames differently would misalign the stream
        raise ValueError(f"voice activity frames are {vad.frame_bytes} bytes, not {CHUNK_BYTES}")
    detector: VoiceActivity = vad
    return detector


def frame_rms(frame: bytes) -> float:
    samples = np.frombuffer(frame, "<i2").astype(np.float32)
    return math.sqrt(float(np.mean(samples * samples))) if len(samples) else 0.0


class Endpointer:
    """Feed `CHUNK_BYTES` frames to `process`; it returns the audio the decoder should get, or None.

    Much the interface of `pocketsphinx.Endpointer`: `in_speech`, `speech_start` (seconds from the
    first frame), `end_stream`.
    """

    def __init__(
        self,
        vad: VoiceActivity | None = None,
        *,
        floor: NoiseFloor | None = None,
        loudness: Callable[[bytes], float] = frame_rms,
    ) -> None:
        self._vad = vad or pocketsphinx_vad()
        self._floor = floor or NoiseFloor(FLOOR_FRAMES)
        self._loudness = loudness
        self._window: deque[tuple[bytes, bool, bool, float]] = deque(maxlen=PREROLL_FRAMES + START_WINDOW)
        """(audio, speech, heard, level) of the frames before an utterance starts."""
        self._opening: list[bytes] = []
        self._frames = 0
        self._peak = 0.0
        self._quiet_run = 0
        self._room_known = True
        self.in_speech = False
        self.speech_start = 0.0
        self.quick = False
        """Close on QUICK_CLOSING_FRAMES of silence, however short the utterance (one command word awaited)."""

    def process(self, frame: bytes) -> bytes | None:
        self._frames += 1
        speech = self._vad.is_speech(frame)
        level = self._loudness(frame)
        if speech:
            self._peak = max(self._peak, level)
        room = NOISE_MARGIN * self._floor.level if self._room_known or not self.in_speech else 0.0
        loud = level >= max(QUIET_RATIO * self._peak, room)
        heard = speech and loud
        self._floor.update(level)
        if not self.in_speech:
            self._peak *= PEAK_DECAY
            self._window.append((frame, speech, heard, level))
            if self._frames <= OPENING_FRAMES:
                self._opening.append(frame)
            recent = list(self._window)[-START_WINDOW:]
            if sum(r[1] for r in recent) < START_SPEECH or sum(r[2] for r in recent) < START_LOUD:
                return None
            self.in_speech, self._quiet_run = True, 0
            opening = len(self._opening) == self._frames  # still within the stream's first second
            frames = self._opening if opening else [r[0] for r in self._window]
            self._room_known = self._floor.heard - START_WINDOW >= ROOM_HEARD_FRAMES
            self.speech_start = (self._frames - len(frames)) * FRAME_SECONDS
            audio = b"".join(frames)
            self._window.clear()
            self._opening = []
            return audio
        self._quiet_run = 0 if heard else self._quiet_run + 1
        if self._quiet_run >= self.closing_frames:
            self.in_speech = False
        return frame

    @property
    def closing_frames(self) -> int:
        """The silence that will end the open utterance (QUICK_, SHORT_ or CLOSING_FRAMES)."""
        if self.quick:
            return QUICK_CLOSING_FRAMES
        # How long the lifter has spoken so far: from the start window to the last frame heard.
        length = self._frames - self._quiet_run - round(self.speech_start / FRAME_SECONDS) - PREROLL_FRAMES
        return CLOSING_FRAMES if length >= SHORT_FRAMES else SHORT_CLOSING_FRAMES

    @property
    def quiet_frames(self) -> int:
        """Frames since the last one heard as the lifter's, in an open utterance (its closing silence so far)."""
        return self._quiet_run

    def end_stream(self) -> None:
        """The stream ended: close an open utterance (its audio has all been returned already)."""
        self.in_speech = False
        self._window.clear()


class StreamEndpointer:
    """An `Endpointer` on a timestamped stream, as both engines use it: `feed` returns the audio the decoder
    should get (or None) and keeps `start`, where the current utterance began in stream seconds. `restart`
    (a reset mid-stream) makes a new endpointer but keeps the room's noise floor."""

    def __init__(self, vad: VoiceActivity | None = None) -> None:
        self._own_vad = vad is None
        self._vad = vad or pocketsphinx_vad()
        self._floor = NoiseFloor(FLOOR_FRAMES)  # the room's level outlives each Endpointer
        self.stream_time = 0.0
        """Stream seconds just after the last frame fed."""
        self.start = 0.0
        self.opened = False
        """The last frame fed opened an utterance (it was not in speech before)."""
        self.quick = False
        """Endpoint on a short silence (see `Endpointer.quick`); kept across restarts."""
        self.restart()

    def restart(self) -> None:
        self._endpointer = Endpointer(self._vad, floor=self._floor)
        self._endpointer.quick = self.quick
        self._origin: float | None = None  # the timestamp of the first frame this endpointer is fed

    def _new_stream(self) -> None:
        """Time went back: another stream (the next file) whose room is not the last one's. The last file's
        padding of digital silence had set the floor to zero, so the next file's noise opened an utterance on
        its first frame, and Moonshine read a second of babble before the question as the question twice
        ("running gives me sore knees running gives me sore knees")."""
        self._floor = NoiseFloor(FLOOR_FRAMES)
        if self._own_vad:  # the detector adapts to its room too
            self._vad = pocketsphinx_vad()
        self.restart()

    @property
    def in_speech(self) -> bool:
        return self._endpointer.in_speech

    @property
    def room_db(self) -> float:
        """The room's noise floor (`NoiseFloor`) in dB full scale (digital silence: -140)."""
        return 20 * math.log10(self._floor.level / 32768 + 1e-7)

    @property
    def quiet_frames(self) -> int:
        """See `Endpointer.quiet_frames`."""
        return self._endpointer.quiet_frames

    @property
    def closing_frames(self) -> int:
        """See `Endpointer.closing_frames`."""
        return self._endpointer.closing_frames

    def set_quick(self, quick: bool) -> None:
        self.quick = self._endpointer.quick = quick

    def feed(self, frame: bytes, timestamp: float) -> bytes | None:
        if timestamp < self.stream_time - FRAME_SECONDS:
            self._new_stream()
        if self._origin is None:
            self._origin = timestamp
        was_in_speech = self._endpointer.in_speech
        speech = self._endpointer.process(frame)
        self.stream_time = timestamp + len(frame) / 2 / SAMPLE_RATE
        self.opened = speech is not None and not was_in_speech
        if self.opened:
            # The endpointer counts from its own creation; restart() makes a new one mid-stream.
            self.start = self._origin + float(self._endpointer.speech_start)
        return speech

    def continue_at(self, timestamp: float) -> None:
        """After a cut at an engine's longest utterance the endpointer is still in the same speech: the next
        utterance starts from now."""
        self.start = max(self.start, timestamp)

    def end_stream(self) -> None:
        self._endpointer.end_stream()
