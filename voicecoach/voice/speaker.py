"""The coach's voice: synthesiser + player + settings, and the printed fallback when there is no sound.

Who prints what: a voice only makes sound. The CLI decides what goes to stdout (JSON for `ask`),
so the text of a reply is printed only by `PrintedVoice`, and only to the stream it was given
(`out`, sys.stdout by default, None for nowhere). A voice that loses its sound output mid-session
warns once (logger "voicecoach.voice"; the CLI shows it on stderr) and carries on printing: the lifter
is mid-set, the coach must not crash.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from voicecoach.audio.devices import DeviceSpec
from voicecoach.commands import Command
from voicecoach.errors import AudioDeviceError, SynthesisError, VoicecoachError
from voicecoach.voice.base import SpeechClip, SpeechListener, Synthesizer, VoiceSettings
from voicecoach.voice.espeak import Pyttsx3Synthesizer
from voicecoach.voice.player import Player

if TYPE_CHECKING:
    from voicecoach.audio.duplex import DuplexMicrophone

log = logging.getLogger("voicecoach.voice")


class _Default(enum.Enum):
    STDOUT = "stdout"


STDOUT = _Default.STDOUT
"""`out=STDOUT`: print to whatever sys.stdout is when the text is printed (works under capture)."""

Out = TextIO | _Default | None


def _resolve(out: Out) -> TextIO | None:
    return sys.stdout if out is STDOUT else out


class _OnceWarning:
    """The "no sound" warning is logged once per process, however many voices fall back."""

    def __init__(self) -> None:
        self.warned = False

    def __call__(self, reason: VoicecoachError | str) -> None:
        if not self.warned:
            self.warned = True
            log.warning("no sound output (%s); printing replies instead", reason)

    def reset(self) -> None:
        """For tests."""
        self.warned = False


warn_no_sound = _OnceWarning()


def _apply(settings: VoiceSettings, command: Command) -> VoiceSettings | None:
    """The settings after a tempo/volume command; None for commands that are not about settings."""
    changes = {
        Command.SLOWER: VoiceSettings.slower,
        Command.FASTER: VoiceSettings.faster,
        Command.LOUDER: VoiceSettings.louder,
        Command.QUIETER: VoiceSettings.quieter,
    }
    change = changes.get(command)
    return change(settings) if change else None


class PrintedVoice:
    """A `Voice` without sound: prints each reply as a line on `out`. Never fails, never "speaks"."""

    def __init__(self, settings: VoiceSettings | None = None, *, out: Out = STDOUT) -> None:
        self.settings = settings or VoiceSettings()
        self.out = out
        self.said: list[str] = []
        """Every text given, in order (for tests and the transcript)."""

    def say(self, text: str, *, wait: bool = True) -> bool:
        self.said.append(text)
        stream = _resolve(self.out)
        if stream is not None and text:
            print(text, file=stream, flush=True)
        return False

    def play(self, clip: SpeechClip, *, wait: bool = True) -> bool:
        return self.say(clip.text, wait=wait)

    def prepare(self, texts: Iterable[str]) -> None:
        pass  # printing needs no rendering

    def stop(self) -> None:
        pass  # nothing is ever playing

    def ready(self, timeout: float = 4.0) -> bool:
        return True  # no device to warm up

    def close(self) -> None:
        pass  # no device to release

    @property
    def speaking(self) -> bool:
        return False

    @property
    def saying(self) -> str:
        return ""  # printing makes no sound for a microphone to hear

    def add_listener(self, listener: SpeechListener) -> None:
        pass  # never makes sound, so the microphone never needs muting

    def handle(self, command: Command) -> bool:
        settings = _apply(self.settings, command)
        if settings is not None:
            self.settings = settings
            return True
        return command is Command.STOP


class SpokenVoice:
    """A `Voice` that renders with a `Synthesizer` and plays through a `Player`.

    Clips are rendered at full volume and the player applies `settings.volume`, so louder/quieter
    takes effect on the sentence being spoken and the render cache serves every volume.
    With a `fallback`, sound failures warn once and print instead of raising.
    """

    def __init__(
        self,
        synthesizer: Synthesizer,
        player: Player,
        settings: VoiceSettings | None = None,
        *,
        fallback: PrintedVoice | None = None,
    ) -> None:
        self.synthesizer = synthesizer
        self.player = player
        self.fallback = fallback
        self._settings = settings or VoiceSettings()
        self.player.volume = self._settings.volume
        self._prepared: tuple[str, ...] = ()
        self._preparing: threading.Thread | None = None

    @property
    def settings(self) -> VoiceSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: VoiceSettings) -> None:
        rerender = (settings.voice, settings.rate) != (self._settings.voice, self._settings.rate)
        self._settings = settings
        self.player.volume = settings.volume
        if rerender and self._prepared:
            self.prepare(self._prepared)  # "slower": the prepared replies at the new rate, before they are needed

    def prepare(self, texts: Iterable[str]) -> None:
        """Render `texts` in the background so saying one later starts at once (the synthesiser caches clips).

        Rendering a 15 s answer takes ~100 ms here and more on a Pi: time a lifter would wait after every
        question. The renders share the synthesiser's lock with `say`, so a reply needed meanwhile waits
        for at most one of them.
        """
        self._prepared = tuple(dict.fromkeys(t for t in texts if t.strip()))
        texts_now, settings_now = self._prepared, self._settings

        def render_all() -> None:
            for text in texts_now:
                if (self._settings.voice, self._settings.rate) != (settings_now.voice, settings_now.rate):
                    return  # the setter started a fresh round at the new rate
                try:
                    self.render(text)
                except SynthesisError:
                    return  # `say` will report it, once, when the text is needed

        self._preparing = threading.Thread(target=render_all, name="voice-prepare", daemon=True)
        self._preparing.start()

    def prepared(self, timeout: float | None = None) -> bool:
        """Wait for the background renders (tests, benchmarks); True if they are done."""
        if self._preparing is not None:
            self._preparing.join(timeout)
        return self._preparing is None or not self._preparing.is_alive()

    def render(self, text: str) -> SpeechClip:
        """Render ahead of time (e.g. the warm-up's counts) so `play` starts at once."""
        return self.synthesizer.render(text, replace(self._settings, volume=1.0))

    def say(self, text: str, *, wait: bool = True) -> bool:
        try:
            clip = self.render(text)
        except SynthesisError as err:
            return self._fall_back(err, text)
        return self.play(clip, wait=wait)

    @property
    def saying(self) -> str:
        """What the player is saying now ("" when silent)."""
        return str(self.player.saying)

    def play(self, clip: SpeechClip, *, wait: bool = True) -> bool:
        try:
            return self.player.play(clip, wait=wait)
        except AudioDeviceError as err:
            return self._fall_back(err, clip.text)

    def _fall_back(self, err: VoicecoachError, text: str) -> bool:
        if self.fallback is None:
            raise err
        warn_no_sound(err)
        return self.fallback.say(text)

    def stop(self) -> None:
        self.player.stop()

    def ready(self, timeout: float = 4.0) -> bool:
        """Warm the output up at start-up (PulseAudio streams trickle for ~2 s at first)."""
        return self.player.ready(timeout)

    def close(self) -> None:
        """Release the sound device; the voice cannot speak afterwards."""
        self.player.close()

    def wait(self, timeout: float | None = None) -> bool:
        """After `say(..., wait=False)`: block until done; True if it played to the end."""
        return self.player.wait(timeout)

    @property
    def speaking(self) -> bool:
        return self.player.speaking

    def add_listener(self, listener: SpeechListener) -> None:
        self.player.add_listener(listener)

    def handle(self, command: Command) -> bool:
        """SLOWER/FASTER/LOUDER/QUIETER change the settings, STOP cuts the reply; others: False."""
        settings = _apply(self._settings, command)
        if settings is not None:
            self.settings = settings
            return True
        if command is Command.STOP:
            self.stop()
            return True
        return False


def open_voice(
    device: DeviceSpec = None,
    settings: VoiceSettings | None = None,
    *,
    out: Out = STDOUT,
    synthesizer: Synthesizer | None = None,
    duplex: DuplexMicrophone | None = None,
) -> SpokenVoice | PrintedVoice:
    """The coach's voice on `device` (or on `duplex`, the microphone's full-duplex stream), or a `PrintedVoice`
    (after one logged warning) without sound.

    `out` is where replies are printed when there is no sound: sys.stdout by default (`STDOUT`),
    None to print nowhere (the CLI already shows the reply). Never raises for missing sound.
    """
    settings = settings or VoiceSettings()
    fallback = PrintedVoice(settings, out=out)
    try:
        if synthesizer is None:
            engine = Pyttsx3Synthesizer()
            engine.start()
            synthesizer = engine
        player = Player(device, volume=settings.volume, duplex=duplex)
    except (AudioDeviceError, SynthesisError) as err:
        warn_no_sound(err)
        return fallback
    return SpokenVoice(synthesizer, player, settings, fallback=fallback)


def render_to_wav(
    text: str,
    path: str | Path,
    settings: VoiceSettings | None = None,
    *,
    synthesizer: Synthesizer | None = None,
) -> SpeechClip:
    """Write the spoken reply to a WAV file (`voicecoach ask --out`); unwritable -> `AudioFileError`."""
    from voicecoach.audio.chunks import write_wav  # numpy: keep it out of `voicecoach ask` start-up

    clip = (synthesizer or Pyttsx3Synthesizer()).render(text, settings or VoiceSettings())
    write_wav(path, clip.audio, clip.rate)
    return clip
