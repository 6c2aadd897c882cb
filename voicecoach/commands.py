"""The commands a lifter can give: one set of objects shared by the CLI, the warm-up and the listening loop.

A spoken "pause", the `p` key during `voicecoach warmup` and a `pause` line on stdin all become
`Command.PAUSE`; whatever runs (the warm-up, the listener) handles that one value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Command(StrEnum):
    """A control word. The value is the intent id the matcher emits for it."""

    START_WARMUP = "start_warmup"
    REPEAT = "repeat"
    MORE = "more"
    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"
    SKIP = "skip"
    HELP = "help"
    YES = "yes"
    NO = "no"
    SLOWER = "slower"
    FASTER = "faster"
    LOUDER = "louder"
    QUIETER = "quieter"
    THANKS = "thanks"
    GOODBYE = "goodbye"

    @classmethod
    def from_intent(cls, intent: str | None) -> Command | None:
        """The command for a matcher intent id, or None for topics and `unknown`."""
        try:
            return cls(intent) if intent is not None else None
        except ValueError:
            return None


KEYS: dict[str, Command] = {
    "p": Command.PAUSE,
    "r": Command.RESUME,
    " ": Command.PAUSE,  # space toggles: RESUME while paused (`command_from_key`)
    "s": Command.SKIP,
    "n": Command.SKIP,
    "q": Command.STOP,
    "a": Command.REPEAT,
    "-": Command.SLOWER,
    "+": Command.FASTER,
    "=": Command.FASTER,
}
"""Single keys accepted while the warm-up runs in a terminal."""

KEY_HELP = "keys: p/space pause, r resume, s skip set, a repeat, -/+ tempo, q stop"


class CommandHandler(Protocol):
    """Anything that reacts to commands while it runs (the warm-up, the voice)."""

    def handle(self, command: Command) -> bool:
        """Act on a command; return False when it does not apply here."""
        ...


def command_from_key(key: str, paused: bool = False) -> Command | None:
    """The command of a key press; space pauses, or resumes when `paused`."""
    if key == " " and paused:
        return Command.RESUME
    return KEYS.get(key.lower()) if key else None
