"""Speech to text: one `Recognizer` interface, three engines (Vosk, Moonshine, PocketSphinx), picked by
`open_recognizer`.

Importing this package is cheap: the engines (and their native libraries) load on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from voicecoach.errors import ModelError
from voicecoach.recognizer.base import Recognizer, Transcript, Word, transcribe_chunks

if TYPE_CHECKING:
    from voicecoach.recognizer.pocketsphinx_engine import PocketSphinxRecognizer
    from voicecoach.recognizer.vosk_engine import VoskRecognizer
    from voicecoach.text.domain import Domain

ENGINES = ("auto", "vosk", "moonshine", "pocketsphinx")
"""What `--engine` and `[engine] engine` accept."""

__all__ = [
    "ENGINES",
    "PocketSphinxRecognizer",
    "Recognizer",
    "Transcript",
    "VoskRecognizer",
    "Word",
    "describe_choice",
    "open_recognizer",
    "transcribe_chunks",
]


def __getattr__(name: str) -> object:
    # Lazy engine classes: `from voicecoach.recognizer import VoskRecognizer` loads libvosk only then.
    if name == "VoskRecognizer":
        from voicecoach.recognizer.vosk_engine import VoskRecognizer

        return VoskRecognizer
    if name == "PocketSphinxRecognizer":
        from voicecoach.recognizer.pocketsphinx_engine import PocketSphinxRecognizer

        return PocketSphinxRecognizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def describe_choice(model: str | Path | None = None) -> str:
    """One line: which engine `open_recognizer` would use, without loading anything."""
    from voicecoach.recognizer.models import find_model

    path, why = find_model(model)
    if path is not None:
        return f"vosk: {path} ({why})"
    return (
        "pocketsphinx: bundled US English model (no Vosk English model installed; get one: voicecoach model download)"
    )


def open_recognizer(domain: Domain, model: str | Path | None = None, *, engine: str = "auto") -> Recognizer:
    """The recogniser for this domain (`voicecoach.text.domain.build_domain` makes it from a knowledge base).

    `engine="auto"`: an explicit `model` path or $VOICECOACH_MODEL -> Vosk (a broken folder is a
    `ModelError`, never a silent fallback); else an installed Vosk English model -> Vosk; else the bundled
    PocketSphinx. "vosk" fails without a model; "pocketsphinx" ignores any model; "moonshine" runs the
    neural model of the `moonshine-voice` wheel (`model` may name another tiny-en folder).
    """
    from voicecoach.recognizer.models import find_model

    if engine == "moonshine":
        from voicecoach.recognizer.moonshine_engine import MoonshineRecognizer

        return MoonshineRecognizer(domain, Path(model) if model else None)

    path, why = find_model(model) if engine != "pocketsphinx" else (None, "")
    if path is None and engine == "vosk":
        raise ModelError("engine vosk asked for, but no Vosk model is installed; run 'voicecoach model download'")
    if path is not None:
        try:
            from voicecoach.recognizer.vosk_engine import VoskRecognizer
        except ImportError as err:
            raise ModelError(f"Vosk model {path} ({why}) but the vosk package is missing: pip install vosk") from err
        return VoskRecognizer(path, domain)
    try:
        from voicecoach.recognizer.pocketsphinx_engine import PocketSphinxRecognizer
    except ImportError as err:
        raise ModelError(
            "no speech engine: install pocketsphinx (64-bit OS) or a Vosk model (voicecoach model download)"
        ) from err
    return PocketSphinxRecognizer(domain)
