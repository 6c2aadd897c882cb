"""Vosk (Kaldi) streaming recogniser: the engine of record when a Vosk model is installed.

Restricted to the domain with a runtime grammar when the model allows it (a `graph/` with `HCLr.fst` and
`Gr.fst`); a model with a static `HCLG.fst` only decodes its full vocabulary. Grammar words the model
lacks would vanish silently, so they are filtered out here and reported in `missing_words`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import vosk

from voicecoach.audio.format import SAMPLE_RATE, AudioChunk
from voicecoach.errors import ModelError
from voicecoach.recognizer.base import Transcript, Word, mean_confidence
from voicecoach.recognizer.language_model import command_grammar, vosk_grammar
from voicecoach.recognizer.models import check_model_folder, supports_grammar
from voicecoach.text.domain import Domain


def load_model(path: Path) -> vosk.Model:
    check_model_folder(path)
    vosk.SetLogLevel(-1)
    try:
        return vosk.Model(str(path))  # always a path: Model(model_name=...) would try to download
    except Exception as err:  # vosk raises bare Exception("Failed to create a model")
        raise ModelError(f"{path}: Vosk could not load this model ({err}); run 'voicecoach model download'") from None


class VoskRecognizer:
    """Streaming Kaldi recogniser; `accept` returns a final transcript at each Vosk endpoint."""

    name = "vosk"

    def __init__(self, model_path: str | Path, domain: Domain | None = None, *, use_grammar: bool = True) -> None:
        self.path = Path(model_path)
        self.model = load_model(self.path)
        self.domain = domain
        vocab = frozenset(w for w in (domain.all_words if domain else ()) if self.knows(w))
        self.missing_words = frozenset(domain.words - vocab) if domain else frozenset()
        self._unk = self.knows("[unk]")
        self.grammar: list[str] | None = None
        if domain is not None and use_grammar and supports_grammar(self.path):
            self.grammar = vosk_grammar(domain, known=vocab, unk=self._unk) or None
        self.open_vocabulary = self.grammar is None
        self._commands: list[str] | None = None
        if self.grammar is not None and domain is not None:
            self._commands = command_grammar(domain, known=vocab, unk=self._unk) or None
        self._recognizer = self._make_recognizer(self.grammar)
        self._active = self.grammar
        """The grammar in force outside an interruption: the domain's, or the commands' during the warm-up."""
        restriction = (
            f"grammar of {len(self.grammar)} phrases/words" if self.grammar else "full vocabulary (no grammar support)"
        )
        lacking = f", model lacks {len(self.missing_words)} domain words" if self.missing_words else ""
        self.description = f"vosk ({self.path.name}, {restriction}{lacking})"

    def knows(self, word: str) -> bool:
        return int(self.model.vosk_model_find_word(word)) >= 0

    def _make_recognizer(self, words: list[str] | None) -> vosk.KaldiRecognizer:
        if words:
            recognizer = vosk.KaldiRecognizer(self.model, SAMPLE_RATE, json.dumps(words, ensure_ascii=False))
        else:
            recognizer = vosk.KaldiRecognizer(self.model, SAMPLE_RATE)
        recognizer.SetWords(True)
        return recognizer

    def set_grammar(self, words: list[str] | None) -> None:
        """Replace the grammar on the running recogniser (None: full vocabulary; needs grammar support)."""
        if words and not supports_grammar(self.path):
            raise ModelError(f"{self.path}: this model has no graph/HCLr.fst + Gr.fst, so no grammar")
        if words:
            self._recognizer.SetGrammar(json.dumps(words, ensure_ascii=False))
        else:
            self._recognizer = self._make_recognizer(None)

    def commands_only(self, enabled: bool) -> None:
        # Without grammar support there is nothing narrower than the full vocabulary: stay as is.
        if self._commands is None:
            return
        self._active = self._commands if enabled else self.grammar
        self._recognizer.SetGrammar(json.dumps(self._active, ensure_ascii=False))

    def interrupt_only(self, enabled: bool) -> None:
        # The command grammar is the narrowest search a Vosk model gives here; the listener keeps only the
        # interrupting words of what it hears.
        if self._commands is None:
            self.reset()
            return
        self._recognizer.SetGrammar(json.dumps(self._commands if enabled else self._active, ensure_ascii=False))

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        if self._recognizer.AcceptWaveform(chunk.audio):
            return self._final(self._recognizer.Result())
        return None

    def partial(self) -> str:
        data = _parse(self._recognizer.PartialResult())
        return _clean(str(data.get("partial", "")))

    def hearing(self) -> bool:
        return bool(self.partial())

    def finish(self) -> Transcript | None:
        return self._final(self._recognizer.FinalResult())

    def reset(self) -> None:
        self._recognizer.Reset()

    def _final(self, raw: str) -> Transcript | None:
        """None for an endpoint on silence; an utterance of only "[unk]" is kept as "" (speech, off-domain)."""
        if not str(_parse(raw).get("text", "")).strip():
            return None
        return parse_result(raw, engine=self.name)


def _parse(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _clean(text: str) -> str:
    return " ".join(w for w in text.split() if w != "[unk]")


def parse_result(raw: str, *, engine: str = "vosk") -> Transcript:
    """A Vosk `Result()`/`FinalResult()` JSON string as a typed final `Transcript` ("[unk]" dropped)."""
    data = _parse(raw)
    words = tuple(
        Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w["conf"]) if "conf" in w else None)
        for w in data.get("result", [])
        if isinstance(w, dict) and "word" in w and w["word"] != "[unk]"
    )
    text = _clean(str(data.get("text", "")))
    return Transcript(
        text=text,
        is_final=True,
        confidence=mean_confidence(words),
        words=words,
        start=words[0].start if words else None,
        end=words[-1].end if words else None,
        engine=engine,
    )
