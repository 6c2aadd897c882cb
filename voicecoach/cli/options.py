"""Options the commands share: one spelling, one check, one default, and the config file under them all.

Numbers are taken as text and checked here, so a bad value is one clear line and exit status 2, not
argparse's usage block. Defaults and ranges come from `VoiceSettings` and `voicecoach.voice.base`. Every
option that is also a config-file setting defaults to None ("not given"), so the file, then the
environment, then the flag decide (`load_settings`; `voicecoach config show` says which did).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from voicecoach.errors import UsageError
from voicecoach.recognizer import ENGINES
from voicecoach.voice.base import MAX_RATE, MAX_VOLUME, MIN_RATE, MIN_VOLUME, VoiceSettings

if TYPE_CHECKING:
    from voicecoach.app.config import Config
    from voicecoach.recognizer import Recognizer
    from voicecoach.text.domain import Domain

CONFIG_FLAGS: dict[str, tuple[str, str]] = {
    "audio.input": ("input", "--input"),
    "audio.output": ("output", "--output"),
    "audio.noise_suppression": ("noise_suppression", "--noise-suppression"),
    "listen.activation": ("activation", "--activation"),
    "listen.wake_word": ("wake_word", "--wake-word"),
    "listen.barge_in": ("barge_in", "--barge-in"),
    "listen.clear_questions": ("clear_questions", "--clear-questions"),
    "voice.voice": ("voice", "--voice"),
    "voice.rate": ("rate", "--rate"),
    "voice.volume": ("volume", "--volume"),
    "knowledge.kb": ("kb", "--kb"),
    "engine.engine": ("engine", "--engine"),
    "engine.model": ("model", "--model"),
}
"""Config key -> (argparse destination, flag spelling) for the flags that override the config file."""


def add_voice_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", metavar="DEVICE", help="speaker: PortAudio index or part of its name")
    parser.add_argument("--voice", help="synthesiser voice, e.g. en-us")
    parser.add_argument(
        "--rate",
        help=f"speaking rate, {MIN_RATE}-{MAX_RATE} words per minute (default {VoiceSettings.rate})",
    )
    parser.add_argument("--volume", help=f"{MIN_VOLUME:.1f}-{MAX_VOLUME:.1f} (default {VoiceSettings.volume:.1f})")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="read this config file (default: see `voicecoach config path`)"
    )


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kb", metavar="PATH", help="use this knowledge-base file or folder")
    parser.add_argument("--engine", choices=ENGINES, help="speech engine (default auto)")
    parser.add_argument(
        "--model", metavar="PATH", help="Vosk model folder (default: installed model, else PocketSphinx)"
    )


def whole_number(name: str, text: str | None) -> int | None:
    """`--name TEXT` as a whole number (None when not given)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--{name} {text!r}: not a whole number") from None


def number(name: str, text: str | None) -> float | None:
    """`--name TEXT` as a finite number (None when not given)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--{name} {text!r}: not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"--{name} {text!r}: not a finite number")
    return value


def _checked_voice_flags(args: argparse.Namespace) -> dict[str, object]:
    """--rate and --volume as numbers, checked against the ranges the voice accepts (None: not given)."""
    rate = whole_number("rate", getattr(args, "rate", None))
    volume = number("volume", getattr(args, "volume", None))
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"--rate must be {MIN_RATE}-{MAX_RATE} words per minute, got {rate}")
    if volume is not None and not MIN_VOLUME <= volume <= MAX_VOLUME:
        raise UsageError(f"--volume must be {MIN_VOLUME:.1f}-{MAX_VOLUME:.1f}, got {volume:g}")
    return {"voice.rate": rate, "voice.volume": volume}


def load_settings(args: argparse.Namespace) -> Config:
    """The settings in force for this command: config file < environment < the flags given."""
    from voicecoach.app.config import load_config

    flags: dict[str, object] = {key: getattr(args, dest, None) for key, (dest, _) in CONFIG_FLAGS.items()}
    flags.update(_checked_voice_flags(args))
    given = {key: value for key, value in flags.items() if value is not None}
    names = {key: flag for key, (_, flag) in CONFIG_FLAGS.items()}
    return load_config(getattr(args, "config", None), flags=given, flag_names=names)


def voice_of(config: Config) -> VoiceSettings:
    return VoiceSettings(voice=config.voice.voice, rate=config.voice.rate, volume=config.voice.volume)


def open_engine(domain: Domain, model: str | Path | None, engine: str = "auto") -> Recognizer:
    """`open_recognizer` for a command: Kaldi writes its own error lines straight to file descriptor 2 even
    at log level -1, so they are kept off the terminal while the engine loads; the `ModelError` it leads
    to is the one line the user sees."""
    from voicecoach.recognizer import open_recognizer

    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            return open_recognizer(domain, model, engine=engine)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
