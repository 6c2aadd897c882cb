"""The voice stage's interfaces: what the dialogue loop and the warm-up depend on."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from voicecoach.commands import Command
from voicecoach.text.spoken import SPEAKING_RATE

MIN_RATE, MAX_RATE = 80, 320
"""Words per minute the voice accepts."""
MIN_VOLUME, MAX_VOLUME = 0.1, 1.0
"""The volume range: "quieter" stops at the floor, so the coach never goes silent."""
SAYING_BEFORE_SECONDS, SAYING_AFTER_SECONDS = 2.0, 1.0
"""The coach's words that count as "being said now": those placed from 2 s before to 1 s after the playback
position. Its echo of a word reaches the recogniser's result up to ~1.5 s later (echo path, endpoint, stable
partials); placing words by character offset errs by well under a second on a 15 s answer."""


def words_around(text: str, at: float, duration: float) -> str:
    """The words of `text` said near `at` seconds into a clip `duration` seconds long.

    Each word is placed by its character offset: synthesised speech runs at a near-even rate of characters.
    Barge-in ignores only these, so "stop" over a long answer that says "stop" a minute earlier still counts.
    """
    if duration <= 0 or not text:
        return text
    picked, offset = [], 0
    for word in text.split():
        offset = text.index(word, offset)
        when = duration * (offset + len(word) / 2) / len(text)
        if at - SAYING_BEFORE_SECONDS <= when <= at + SAYING_AFTER_SECONDS:
            picked.append(word)
        offset += len(word)
    return " ".join(picked)


@dataclass(frozen=True)
class VoiceSettings:
    """How the coach sounds. Changed at run time by slower/faster/louder/quieter."""

    voice: str | None = None
    """Synthesiser voice id or name (espeak-ng: e.g. "en-us"); None is the default voice."""
    rate: int = SPEAKING_RATE
    """Words per minute."""
    volume: float = MAX_VOLUME
    """MIN_VOLUME to MAX_VOLUME, applied by the player (clips are rendered at full volume)."""

    def slower(self) -> VoiceSettings:
        return replace(self, rate=max(MIN_RATE, self.rate - 25))

    def faster(self) -> VoiceSettings:
        return replace(self, rate=min(MAX_RATE, self.rate + 25))

    def louder(self) -> VoiceSettings:
        return replace(self, volume=min(MAX_VOLUME, round(self.volume + 0.2, 2)))

    def quieter(self) -> VoiceSettings:
        return replace(self, volume=max(MIN_VOLUME, round(self.volume - 0.2, 2)))


@dataclass(frozen=True)
class SpeechClip:
    """Rendered speech, ready to play without waiting for the synthesiser."""

    text: str
    audio: bytes
    """Signed 16-bit little-endian mono samples."""
    rate: int
    """Hertz."""

    @property
    def seconds(self) -> float:
        return len(self.audio) / 2 / self.rate


class Synthesizer(Protocol):
    def render(self, text: str, settings: VoiceSettings) -> SpeechClip:
        """Text to audio; raises `SynthesisError` when the engine fails."""
        ...


SpeechListener = Callable[[bool], None]
"""Called with True when the coach starts making sound and False when it stops."""


class Voice(Protocol):
    """Speaks to the lifter: everything the listening session and the warm-up call on a voice.

    The session mutes the microphone while `speaking` is True (it hears about changes through
    `add_listener`), calls `prepare` and `ready` before it listens and `close` when it ends.
    """

    settings: VoiceSettings

    def say(self, text: str, *, wait: bool = True) -> bool:
        """Render and play; True if played to the end, False if interrupted or only printed."""
        ...

    def play(self, clip: SpeechClip, *, wait: bool = True) -> bool: ...

    def stop(self) -> None:
        """Cut off whatever is playing (within ~200 ms)."""
        ...

    @property
    def speaking(self) -> bool: ...

    @property
    def saying(self) -> str:
        """The words being played around now ("" when silent; see `words_around`): barge-in never takes a word
        the coach is saying."""
        ...

    def add_listener(self, listener: SpeechListener) -> None: ...

    def handle(self, command: Command) -> bool:
        """SLOWER/FASTER/LOUDER/QUIETER change the settings, STOP cuts the reply; False for the others."""
        ...

    def prepare(self, texts: Iterable[str]) -> None:
        """Render `texts` ahead (in the background) so saying one later starts at once."""
        ...

    def ready(self, timeout: float = 4.0) -> bool:
        """Warm the output up before the first reply; True once sound flows in real time."""
        ...

    def close(self) -> None:
        """Release the sound device; the voice cannot speak afterwards."""
        ...
