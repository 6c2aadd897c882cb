"""One error hierarchy: the CLI turns any of these into a one-line message and an exit status."""

from __future__ import annotations


class VoicecoachError(Exception):
    """Base of every error voicecoach raises on purpose."""

    exit_status = 1


class UsageError(VoicecoachError):
    """A bad option or argument value."""

    exit_status = 2


class KnowledgeBaseError(VoicecoachError):
    """A knowledge-base file that cannot be used; names the file and line."""

    exit_status = 2

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}")


class AudioFileError(VoicecoachError):
    """A file that is not a readable WAV."""

    exit_status = 2


class AudioDeviceError(VoicecoachError):
    """No usable microphone or speaker, or one that went away."""

    exit_status = 3


class ModelError(VoicecoachError):
    """A speech model that is missing or broken."""

    exit_status = 3


class SynthesisError(VoicecoachError):
    """The speech synthesiser failed."""

    exit_status = 3
