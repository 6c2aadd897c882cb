"""The one speech-recogniser interface: the listening loop and the tests never care which engine runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from voicecoach.audio.format import AudioChunk

SURE_CONFIDENCE = 0.5
"""A word at or above this confidence is taken as heard. Chosen on spoken off-domain and knee questions
(benchmarks/bench_speech.py): 0.3 let 2% of off-domain questions get knee advice, 0.5 0.4%, 0.6 no fewer."""


@dataclass(frozen=True)
class Word:
    """One recognised word."""

    text: str
    start: float
    """Seconds from the start of the stream."""
    end: float
    """Seconds from the start of the stream."""
    confidence: float | None = None
    """0..1 posterior, or None when the engine gives none. Low values mean "probably something else"."""


@dataclass(frozen=True)
class Reading:
    """Another reading of an utterance (an n-best entry), and how far the engine scored it under its best."""

    text: str
    """As `Transcript.text`."""
    behind: float
    """>= 0: the best reading's score less this one's, in the engine's log-probability units (nats)."""


@dataclass(frozen=True)
class Transcript:
    """What the engine heard: a partial hypothesis (`is_final=False`) or the final one for an utterance."""

    text: str
    """Lower-case words separated by single spaces; "" when nothing in the domain was heard."""
    is_final: bool = True
    confidence: float | None = None
    """0..1 for the whole utterance (mean of the word confidences), None when unknown."""
    words: tuple[Word, ...] = ()
    start: float | None = None
    """Seconds from the start of the stream to the first word (or the detected speech start)."""
    end: float | None = None
    """Seconds from the start of the stream to the end of the last word (or the speech end)."""
    engine: str = ""
    """Name of the recogniser that produced it ("vosk", "pocketsphinx")."""
    alternatives: tuple[Reading, ...] = ()
    """Other readings of the same utterance, best first (an engine's n-best list): the dialogue rescores them
    with `text` by what the knowledge base makes of each (`ReadingChoice.best`)."""
    restored: tuple[Reading, ...] = ()
    """`text` with a word the engine lost put back and scored whole by the engine on clear audio (Moonshine: the
    knee, see `knee_readings`): unlike `alternatives`, such a reading may take over a command (`ReadingChoice.best`)."""
    rehear: Callable[[], Transcript] | None = field(default=None, compare=False, repr=False)
    """A second hearing of the same utterance, decoded only when asked (it costs a decode): the listener asks
    when the first gives no answer. Moonshine: the audio after the utterance's first pause (behind the wake word)
    decoded alone, with its `restored` readings as the first hearing's."""
    clear: bool = True
    """False when the engine measured the words barely over the room (Moonshine: under `knee_readings.CLEAR_DB`):
    the dialogue trusts such a reading less (`reply.respond`). True from engines that do not measure it."""

    @property
    def empty(self) -> bool:
        return not self.text

    def confident_words(self, threshold: float = SURE_CONFIDENCE, *, skip: int = 0) -> tuple[str, ...]:
        """Words from word `skip` on whose confidence is at least `threshold` (none given counts as sure)."""
        return tuple(w.text for w in self.words[skip:] if w.confidence is None or w.confidence >= threshold)

    def sure_text(self, *, skip: int = 0, threshold: float = SURE_CONFIDENCE) -> str | None:
        """The confident words from word `skip` on, in order: what the dialogue may give advice on.

        None when the engine gave no word confidences or its words do not line up with `text`.
        """
        if len(self.words) != len(self.text.split()) or all(w.confidence is None for w in self.words):
            return None
        return " ".join(self.confident_words(threshold, skip=skip))


@runtime_checkable
class Recognizer(Protocol):
    """A streaming recogniser fed 16 kHz mono int16 chunks (see `voicecoach.audio.format`)."""

    name: str
    """Short engine name, e.g. "vosk"."""
    description: str
    """One line for the user: which engine and model runs, restricted how, and how to get a better one."""
    missing_words: frozenset[str]
    """Domain words the model cannot recognise (they silently vanish from grammars): report them."""
    open_vocabulary: bool
    """Does off-topic speech come out as itself? A closed search (a grammar, a domain language model) turns
    chatter into gym words, so knee advice then needs the knee named (`Dialogue(confirm_unnamed=...)`); an open
    one does not, and asking "Did you mean ...?" there only costs the lifter a turn (benchmarks/bench_ear.py)."""

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        """Feed audio; returns a final transcript when the engine detects the end of an utterance."""
        ...

    def partial(self) -> str:
        """The current partial hypothesis ("" if none): for early stop and barge-in."""
        ...

    def finish(self) -> Transcript | None:
        """End of stream: flush and return the last utterance's final transcript, if any speech was heard."""
        ...

    def hearing(self) -> bool:
        """Speech has begun and its utterance has not ended: the lifter is talking right now."""
        ...

    def reset(self) -> None:
        """Drop any utterance in progress (e.g. after the coach spoke over the microphone)."""
        ...

    def commands_only(self, enabled: bool) -> None:
        """Listen for command phrasings only (warm-up) or for the whole domain (default)."""
        ...

    def interrupt_only(self, enabled: bool) -> None:
        """While the coach speaks (its voice cancelled): listen for the words that may cut in, or go back to
        the search before. Starts a fresh utterance either way."""
        ...


def transcribe_chunks(recognizer: Recognizer, chunks: Iterable[AudioChunk]) -> list[Transcript]:
    """Every final transcript of a finite stream, in order (including the one `finish()` flushes)."""
    results: list[Transcript] = []
    for chunk in chunks:
        result = recognizer.accept(chunk)
        if result is not None:
            results.append(result)
    last = recognizer.finish()
    if last is not None:
        results.append(last)
    return results


def heard_and_sure(transcripts: Iterable[Transcript]) -> tuple[str, str | None]:
    """Several utterances (a file) as one: all their words, and the confident ones (see `Transcript.sure_text`)."""
    spoken = [t for t in transcripts if t.text]
    sure = [t.sure_text() for t in spoken]
    return " ".join(t.text for t in spoken), None if None in sure else " ".join(s for s in sure if s)


def all_clear(transcripts: Iterable[Transcript]) -> bool:
    """Several utterances as one (as `heard_and_sure`): every one of them clear (`Transcript.clear`)."""
    return all(t.clear for t in transcripts if t.text)


def other_readings(transcripts: Iterable[Transcript], *, restored: bool = False) -> list[tuple[str, float]]:
    """Several utterances as one (as `heard_and_sure`), read with one utterance's alternative (or, `restored`,
    restored reading) at a time: each such text and how far behind the best it is."""
    spoken = [t for t in transcripts if t.text]
    texts = [t.text for t in spoken]
    return [
        (" ".join([*texts[:i], other.text, *texts[i + 1 :]]), other.behind)
        for i, t in enumerate(spoken)
        for other in (t.restored if restored else t.alternatives)
    ]


def mean_confidence(words: Iterable[Word]) -> float | None:
    values = [w.confidence for w in words if w.confidence is not None]
    return sum(values) / len(values) if values else None
