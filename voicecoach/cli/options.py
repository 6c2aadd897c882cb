"""Options every speaking command shares (`listen`, `answer`, `warmup`): one spelling, one check, one default.

Numbers are taken as text and checked here, so a bad value is one clear line and exit status 2, not
argparse's usage block. Defaults and ranges come from `VoiceSettings` and `voicecoach.voice.base`.
"""

from __future__ import annotations

import argparse
import math

from voicecoach.errors import UsageError
from voicecoach.voice.base import MAX_RATE, MAX_VOLUME, MIN_RATE, MIN_VOLUME, VoiceSettings


def add_voice_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", metavar="DEVICE", help="speaker: PortAudio index or part of its name")
    parser.add_argument("--voice", help="synthesiser voice, e.g. en-us")
    parser.add_argument(
        "--rate",
        help=f"speaking rate, {MIN_RATE}-{MAX_RATE} words per minute (default {VoiceSettings.rate})",
    )
    parser.add_argument("--volume", help=f"{MIN_VOLUME:.1f}-{MAX_VOLUME:.1f} (default {VoiceSettings.volume:.1f})")


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


def voice_settings(args: argparse.Namespace) -> VoiceSettings:
    """The voice the options ask for, checked against the ranges the voice accepts."""
    rate = whole_number("rate", args.rate)
    rate = VoiceSettings.rate if rate is None else rate
    volume = number("volume", args.volume)
    volume = VoiceSettings.volume if volume is None else volume
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"--rate must be {MIN_RATE}-{MAX_RATE} words per minute, got {rate}")
    if not MIN_VOLUME <= volume <= MAX_VOLUME:
        raise UsageError(f"--volume must be {MIN_VOLUME:.1f}-{MAX_VOLUME:.1f}, got {volume:g}")
    return VoiceSettings(voice=args.voice or None, rate=rate, volume=volume)
