"""Every setting of the config file, in one table: its type, what is allowed, its default and its help.

`config.py` (loading, `config show`, the example file) is generated from `SETTINGS`. The section
dataclasses below mirror the table so that `config.voice.rate` is typed; a test keeps them in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs

Kind = Literal["device", "choice", "word", "bool", "int", "float", "text", "path"]

MAX_TEXT = 200
"""Longest voice name: a 4 kB string there is a paste accident, not a name."""
_WORD = re.compile(r"[a-z]{1,32}")
# Env values and flags arrive as text; these say which texts mean a number or a boolean.
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_BOOL_TEXT = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


@dataclass(frozen=True)
class Setting:
    key: str
    """Dotted: section.name."""
    kind: Kind
    default: object
    help: str
    low: int | float | None = None
    high: int | float | None = None
    choices: tuple[str, ...] = ()
    env: str | None = None
    """Environment variable that overrides the file."""
    example: object = None
    """Shown in the example file when the default is None (not set)."""

    @property
    def section(self) -> str:
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        return self.key.partition(".")[2]

    @property
    def allowed(self) -> str:
        """What a value may be, in words: used in error messages and the example file."""
        if self.kind == "int":
            return f"a whole number from {self.low} to {self.high}"
        if self.kind == "float":
            return f"a number from {self.low} to {self.high}"
        if self.kind == "choice":
            quoted = [f'"{choice}"' for choice in self.choices]
            return f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        return {
            "device": "a device number (0 or more) or part of a device name",
            "word": "one lower-case word (letters a to z)",
            "bool": "true or false",
            "text": f"a name (1 to {MAX_TEXT} characters)",
            "path": "a file or folder path",
        }[self.kind]

    @property
    def rule(self) -> str:
        return ("must be one of " if self.kind == "choice" else "must be ") + self.allowed


SETTINGS: tuple[Setting, ...] = (
    Setting("audio.input", "device", None, "Microphone. Not set: the system default.", example="USB"),
    Setting("audio.output", "device", None, "Speaker. Not set: the system default.", example="USB"),
    Setting(
        "audio.noise_suppression",
        "int",
        0,
        "Noise suppression before the recogniser: 0 off, 1-4 WebRTC's levels. Only for a very loud gym: it answers"
        " more questions asked 10 dB over the noise, but fewer at 20 dB, and fewer spoken commands.",
        low=0,
        high=4,
    ),
    Setting(
        "listen.activation",
        "choice",
        "wake",
        "When the coach listens: wake = after the wake word, always = to everything, push = while a button is held.",
        choices=("wake", "always", "push"),
    ),
    Setting("listen.wake_word", "word", "coach", 'The word that wakes the coach (with activation = "wake").'),
    Setting(
        "listen.barge_in",
        "bool",
        None,
        "Let a lifter interrupt the coach while it speaks. Not set: on where the echo room measured it (the moonshine"
        " engine, microphone and speaker on one sound card, an echo canceller), else off.",
        example=True,
    ),
    Setting(
        "listen.clear_questions",
        "bool",
        True,
        'With activation = "wake": answer a clear knee question even when the wake word was not heard.',
    ),
    Setting("voice.voice", "text", None, "Speech-synthesiser voice name. Not set: its default voice.", example="en-us"),
    Setting("voice.rate", "int", 165, "Speaking speed in words per minute.", low=80, high=320),
    Setting("voice.volume", "float", 1.0, "Loudness: 1.0 is full volume.", low=0.1, high=1.0),
    Setting(
        "knowledge.kb",
        "path",
        None,
        "Knowledge-base file or folder. Not set: the one shipped with voicecoach.",
        env="VOICECOACH_KB",
        example="/srv/voicecoach/intents",
    ),
    Setting(
        "engine.engine",
        "choice",
        "auto",
        "Speech recogniser: auto = Vosk if its model is installed, else PocketSphinx; moonshine = the neural "
        "model of the moonshine-voice wheel (more memory, better in noise).",
        choices=("auto", "vosk", "moonshine", "pocketsphinx"),
    ),
    Setting(
        "engine.model",
        "path",
        None,
        "Vosk model folder. Not set: the one `voicecoach model download` installed.",
        env="VOICECOACH_MODEL",
        example="/srv/voicecoach/vosk-model-small-en-us-0.15",
    ),
    Setting("log.turns", "bool", True, "Keep a local text log of what lifters asked and what the coach answered."),
    Setting(
        "log.folder",
        "path",
        None,
        "Folder for the logs. Not set: the user's state folder (~/.local/state/voicecoach).",
        example="/var/log/voicecoach",
    ),
    Setting("log.max_kb", "int", 1024, "Start a new log file when one reaches this many kB.", low=16, high=102400),
    Setting("log.keep", "int", 3, "How many old log files to keep.", low=1, high=20),
    Setting("log.audio", "bool", False, "Also store the audio of what was heard. Off: audio is never stored."),
)
BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}


def check(setting: Setting, value: object, base: Path) -> object:
    """`value` as the program uses it (relative paths joined to `base`); ValueError(setting.rule) if not allowed."""
    kind = setting.kind
    # bool is an int subclass in Python: true is never a number or a name here, and 1 never a boolean.
    if isinstance(value, bool) != (kind == "bool") or not _ACCEPTS[kind](setting, value):
        raise ValueError(setting.rule)
    if kind == "float" and isinstance(value, int | float):
        return float(value)
    if kind == "device" and isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)  # a number in quotes or on the command line is still a device index
    if kind == "path":
        try:
            path = Path(str(value)).expanduser()
        except RuntimeError:  # "~nosuchuser/x": no home folder to expand to
            raise ValueError(setting.rule) from None
        return path if path.is_absolute() else base / path
    return value


_ACCEPTS: dict[Kind, Callable[[Setting, object], bool]] = {
    "bool": lambda setting, value: isinstance(value, bool),
    "int": lambda setting, value: isinstance(value, int) and _in_range(setting, value),
    "float": lambda setting, value: isinstance(value, int | float) and _in_range(setting, value),
    "choice": lambda setting, value: value in setting.choices,
    "word": lambda setting, value: isinstance(value, str) and _WORD.fullmatch(value) is not None,
    "text": lambda setting, value: isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_TEXT,
    "device": lambda setting, value: (
        (isinstance(value, int) and value >= 0) or (isinstance(value, str) and bool(value.strip()))
    ),
    "path": lambda setting, value: (
        isinstance(value, str | Path) and bool(str(value).strip()) and "\0" not in str(value)
    ),
}


def _in_range(setting: Setting, value: float) -> bool:
    assert setting.low is not None and setting.high is not None
    return setting.low <= value <= setting.high  # False for NaN too


def parse_text(setting: Setting, text: str) -> object:
    """What an environment value or command-line text means for this setting; `check` judges it after."""
    if setting.kind == "int" and _INT_TEXT.fullmatch(text.strip()):
        return int(text)
    if setting.kind == "float":
        try:
            return float(text)
        except ValueError:
            return text
    if setting.kind == "bool":
        return _BOOL_TEXT.get(text.strip().lower(), text)
    return text


@dataclass(frozen=True)
class AudioConfig:
    input: str | int | None
    output: str | int | None
    noise_suppression: int


@dataclass(frozen=True)
class ListenConfig:
    activation: Literal["wake", "always", "push"]
    wake_word: str
    barge_in: bool | None
    """None: automatic (`voicecoach.app.ear.listening_ear`)."""
    clear_questions: bool


@dataclass(frozen=True)
class VoiceConfig:
    voice: str | None
    rate: int
    volume: float


@dataclass(frozen=True)
class KnowledgeConfig:
    kb: Path | None


@dataclass(frozen=True)
class EngineConfig:
    engine: Literal["auto", "vosk", "moonshine", "pocketsphinx"]
    model: Path | None


@dataclass(frozen=True)
class LogConfig:
    turns: bool
    folder: Path | None
    max_kb: int
    keep: int
    audio: bool

    def folder_or_default(self) -> Path:
        """Where the logs go: `folder`, or the user's state folder when it is not set."""
        return self.folder if self.folder is not None else platformdirs.user_state_path("voicecoach")


SECTIONS: dict[str, type[Any]] = {
    "audio": AudioConfig,
    "listen": ListenConfig,
    "voice": VoiceConfig,
    "knowledge": KnowledgeConfig,
    "engine": EngineConfig,
    "log": LogConfig,
}
