"""Text to speech with pyttsx3's espeak-ng driver, rendered to memory (never played by pyttsx3).

pyttsx3 2.99 on Linux plays `say()` through an `aplay` shell call that returns before the sound
ends and cannot be interrupted, so we only use it to render (`save_to_file`) and play the clip
ourselves (see `player`). Its traps, checked on pyttsx3 2.99:

- `runAndWait` returns when espeak-ng has *started* (it synthesises in its own thread): we wait for
  the "finished-utterance" event, else long replies come back truncated or missing.
- `save_to_file` prints "Audio saved to <path>" with Python's `print`, from espeak's thread: our
  CLI prints JSON on stdout. The driver module's `print` is replaced by one that drops that line
  and logs anything else (sys.stdout itself is never touched).
- Several `save_to_file` queued before one `runAndWait` write only the last file: one render,
  one `runAndWait`.
- `setProperty` is queued until `runAndWait` (so `getProperty` shows the old value), and then
  espeak-ng queues it again in its own FIFO, which runAndWait may cancel: rate/volume changes were
  silently lost (every render came out at the first rate). We set the driver's properties
  directly and wait for espeak to go idle before and after (`_Engine._settle`).
- espeak-ng can be initialised once per process and its synth callback is global: one engine per
  process, behind a lock.
- Errors inside queued commands are swallowed by pyttsx3 and only reported to "error" listeners:
  we listen and raise `SynthesisError`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import wave
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicecoach.errors import SynthesisError
from voicecoach.voice.base import SpeechClip, VoiceSettings

ESPEAK_RATE = 22_050
"""Hertz: what pyttsx3's espeak driver writes."""


@dataclass(frozen=True)
class VoiceInfo:
    """One synthesiser voice, as `list_voices` reports it."""

    id: str
    """What `VoiceSettings.voice` accepts (espeak-ng: e.g. "gmw/en-us")."""
    name: str
    """Human-readable, e.g. "English (America)"."""
    languages: tuple[str, ...]


_SAVED_NOTICE = "Audio saved to "
log = logging.getLogger("voicecoach.voice")


def _driver_print(*args: object, **_ignored: object) -> None:
    """Stands in for `print` inside pyttsx3's espeak driver, whichever thread calls it: its "Audio saved
    to ..." after every render is dropped, anything else (e.g. a playback error) is logged."""
    text = " ".join(str(arg) for arg in args)
    if not text.startswith(_SAVED_NOTICE):
        log.info("pyttsx3: %s", text)


class _Engine:
    """The process's one pyttsx3 engine; every method must be called with `_ENGINE_LOCK` held."""

    def __init__(self) -> None:
        try:
            import pyttsx3
        except ImportError as err:
            raise SynthesisError(f"pyttsx3 is not installed ({err}); run ./setup.sh") from None
        try:
            self.engine: Any = pyttsx3.init("espeak")
        except (OSError, RuntimeError, ImportError) as err:
            # libespeak-ng missing shows up as OSError from ctypes or RuntimeError from the driver.
            raise SynthesisError(f"espeak-ng does not start ({err}); install espeak-ng") from None
        from pyttsx3.drivers import _espeak
        from pyttsx3.drivers import espeak as espeak_driver
        from pyttsx3.drivers.espeak import EspeakDriver

        espeak_driver.print = _driver_print  # the module's own name lookup: nothing else is affected

        self._espeak: Any = _espeak
        self._driver: Any = EspeakDriver
        self.errors: list[BaseException] = []
        self.engine.connect("error", self._on_error)
        self.finished = threading.Event()
        self.engine.connect("finished-utterance", lambda **_: self.finished.set())
        # pyttsx3 ignores voice=None, so "back to the default" needs the default's real id.
        self.default_voice = str(self.engine.getProperty("voice") or "gmw/en")

    def _on_error(self, name: object = None, exception: BaseException | None = None) -> None:
        self.errors.append(exception if exception is not None else RuntimeError("unknown error"))

    def _settle(self) -> None:
        # espeak-ng queues parameter changes in its own FIFO, and pyttsx3's runAndWait cancels
        # that FIFO (espeak_Cancel) when it finds espeak busy: a rate or volume still queued then
        # is silently dropped. Waiting until espeak is idle makes every change land.
        self._espeak.Synchronize()

    def render_to(self, text: str, settings: VoiceSettings, path: Path) -> None:
        self.errors.clear()
        self._settle()
        try:
            # The driver's setters act now; the engine's setProperty would be queued until
            # runAndWait and race with its cancel (see _settle).
            self._driver.setProperty("voice", settings.voice or self.default_voice)
        except ValueError as err:
            self._driver.setProperty("voice", self.default_voice)
            raise SynthesisError(f"espeak-ng has no voice {settings.voice!r} ({err})") from None
        self._driver.setProperty("rate", settings.rate)
        self._driver.setProperty("volume", settings.volume)
        self._settle()
        self.engine.save_to_file(text, str(path))
        self.finished.clear()
        self.engine.runAndWait()
        # runAndWait returns as soon as espeak-ng has *started*: the file is written later
        # from espeak's own thread, just before "finished-utterance".
        done = self.finished.wait(timeout=max(10.0, len(text) / 10))
        if self.errors:
            error = self.errors[0]
            self.errors.clear()
            raise SynthesisError(f"espeak-ng failed: {error}")
        if not done:
            raise SynthesisError(f"espeak-ng did not finish rendering {len(text)} characters in time")


_ENGINE_LOCK = threading.RLock()
_ENGINE: _Engine | None = None


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


CACHE_BYTES = 8 << 20
"""Rendered audio the cache keeps (espeak-ng's 22.05 kHz 16-bit: about 3 minutes). A full answer is 0.3-0.6 MB, so
128 answers would have held 40-80 MB of a Pi's memory by the end of a long day; the warm-up's counts and cues,
which the cache is for, come to about 1 MB."""


class Pyttsx3Synthesizer:
    """`Synthesizer` over pyttsx3/espeak-ng with an LRU cache of rendered clips.

    The cache matters: the warm-up repeats the same counts and cues every set.
    Thread-safe; the engine is created on the first render, not at construction.
    """

    def __init__(self, *, cache_size: int = 128, cache_bytes: int = CACHE_BYTES) -> None:
        self._cache: OrderedDict[tuple[str, VoiceSettings], SpeechClip] = OrderedDict()
        self._cache_size = cache_size
        self._cache_bytes = cache_bytes
        self._cached_bytes = 0
        self.renders = 0
        """How many times the engine actually ran (cache misses), for tests and benchmarks."""

    def render(self, text: str, settings: VoiceSettings) -> SpeechClip:
        key = (text, settings)
        with _ENGINE_LOCK:
            clip = self._cache.get(key)
            if clip is not None:
                self._cache.move_to_end(key)
                return clip
            clip = self._render(text, settings)
            self._cache[key] = clip
            self._cached_bytes += len(clip.audio)
            while len(self._cache) > self._cache_size or (
                self._cached_bytes > self._cache_bytes and len(self._cache) > 1
            ):
                self._cached_bytes -= len(self._cache.popitem(last=False)[1].audio)
            return clip

    def _render(self, text: str, settings: VoiceSettings) -> SpeechClip:
        if not text.strip():
            # espeak writes no file at all for empty text.
            return SpeechClip(text, b"", ESPEAK_RATE)
        engine = _engine()
        with tempfile.TemporaryDirectory(prefix="voicecoach-tts-") as folder:
            path = Path(folder) / "speech.wav"
            engine.render_to(text, settings, path)
            self.renders += 1
            try:
                with wave.open(str(path), "rb") as wav:
                    rate, width = wav.getframerate(), wav.getsampwidth()
                    channels, audio = wav.getnchannels(), wav.readframes(wav.getnframes())
            except (OSError, wave.Error, EOFError) as err:
                raise SynthesisError(f"espeak-ng wrote no usable audio ({err})") from None
        if width != 2 or channels != 1:
            raise SynthesisError(f"espeak-ng wrote {channels}-channel {8 * width}-bit audio, not mono 16-bit")
        return SpeechClip(text, audio, rate)

    def start(self) -> None:
        """Start the engine now (raises `SynthesisError`) instead of on the first reply."""
        with _ENGINE_LOCK:
            _engine()

    def voices(self) -> list[VoiceInfo]:
        return list_voices()

    def clear_cache(self) -> None:
        with _ENGINE_LOCK:
            self._cache.clear()
            self._cached_bytes = 0


def list_voices() -> list[VoiceInfo]:
    """The voices espeak-ng offers; raises `SynthesisError` when the engine does not start."""
    with _ENGINE_LOCK:
        raw = _engine().engine.getProperty("voices")
    return [VoiceInfo(str(v.id), str(v.name), tuple(str(lang) for lang in (v.languages or ()))) for v in raw]
