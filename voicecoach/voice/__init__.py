"""The voice stage: how the coach speaks (pyttsx3/espeak-ng render, sounddevice playback).

Importing this package is cheap: pyttsx3, sounddevice and numpy load on first use, so
`voicecoach ask` starts fast on a Pi.
"""

from voicecoach.voice.base import (
    MAX_RATE,
    MIN_RATE,
    SpeechClip,
    SpeechListener,
    Synthesizer,
    Voice,
    VoiceSettings,
    words_around,
)
from voicecoach.voice.espeak import ESPEAK_RATE, Pyttsx3Synthesizer, VoiceInfo, list_voices
from voicecoach.voice.player import Player
from voicecoach.voice.speaker import STDOUT, PrintedVoice, SpokenVoice, open_voice, render_to_wav, warn_no_sound

__all__ = [
    "ESPEAK_RATE",
    "MAX_RATE",
    "MIN_RATE",
    "STDOUT",
    "Player",
    "PrintedVoice",
    "Pyttsx3Synthesizer",
    "SpeechClip",
    "SpeechListener",
    "SpokenVoice",
    "Synthesizer",
    "Voice",
    "VoiceInfo",
    "VoiceSettings",
    "list_voices",
    "open_voice",
    "render_to_wav",
    "warn_no_sound",
    "words_around",
]
