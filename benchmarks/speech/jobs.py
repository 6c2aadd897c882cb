"""The decodes, run in worker processes: the `voicecoach answer` path, or a real `Listener` on a simulated clock."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speech.common import TRAILING_SILENCE


@dataclass(frozen=True)
class Job:
    engine: str
    model: str | None
    mode: str
    """"answer" (the `voicecoach answer` path) or "wake"/"always" (the listening loop, simulated)."""
    path: str
    group: str
    """Which figure this job counts towards, e.g. "accuracy/plain"."""
    text: str = ""
    expected: str | None = None
    voice: str = ""
    tail: str = "silence"
    """"silence": 1 s of silence after the audio, then the recogniser's finish() (as `voicecoach answer` and the
    end of a WAV); "noise": the audio ends in ongoing noise, so no finish() (a live stream never ends)."""
    clear_questions: bool = True
    """The listen loop's `ListenSettings.clear_questions` (a clear knee question needs no wake word)."""
    second_hearing: bool = True
    """Let the listen loop ask the engine for a second hearing (`Transcript.rehear`); off to measure without."""


@dataclass
class Result:
    job: Job
    heard: str = ""
    topic: str | None = None
    intent: str = ""
    utterances: int = 0
    turns: list[dict[str, Any]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    longest_utterance: float = 0.0
    finish_errors: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    """Every final transcript the listen loop got (answer path: see `heard`)."""
    seconds: float = 0.0
    decode_seconds: float = 0.0
    rss_growth_mb: float = 0.0
    """Worker memory growth (VmRSS) over the job: an utterance that never ends keeps growing the decoder."""


class FakeClock:
    """The Listener's clock, driven by the timestamps of the chunks it is fed (faster than real time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wait(self, deadline: float, interrupt: threading.Event) -> bool:
        self.now = max(self.now, deadline)
        return interrupt.is_set()


class SimulatedVoice:
    """A `Voice` that records what it would say and is "speaking" for as long as saying it would take.

    Speaking time is estimated from the word count at the voice's rate (+0.3 s), and advanced by `tick`
    from the fake clock, so the Listener goes deaf exactly as with a real speaker (no sound is made).
    """

    def __init__(self, clock: FakeClock) -> None:
        from voicecoach.voice import VoiceSettings

        self.settings = VoiceSettings()
        self.said: list[str] = []
        self._clock = clock
        self._until: float | None = None
        self._listeners: list[Callable[[bool], None]] = []

    def say(self, text: str, *, wait: bool = True) -> bool:
        self.said.append(text)
        seconds = len(text.split()) / self.settings.rate * 60 + 0.3
        was_speaking = self._until is not None
        self._until = self._clock.now + seconds
        if not was_speaking:
            for listener in self._listeners:
                listener(True)
        return False

    def play(self, clip: Any, *, wait: bool = True) -> bool:
        return self.say(clip.text, wait=wait)

    def stop(self) -> None:
        self._finish()

    @property
    def speaking(self) -> bool:
        return self._until is not None

    @property
    def saying(self) -> str:
        return self.said[-1] if self.said and self._until is not None else ""

    def add_listener(self, listener: Callable[[bool], None]) -> None:
        self._listeners.append(listener)

    def handle(self, command: Any) -> bool:
        return False  # louder/slower would not change what the loop hears

    def prepare(self, texts: Iterable[str]) -> None:
        pass

    def ready(self, timeout: float = 4.0) -> bool:
        return True

    def close(self) -> None:
        pass

    def tick(self, now: float) -> None:
        if self._until is not None and now >= self._until:
            self._finish()

    def _finish(self) -> None:
        if self._until is not None:
            self._until = None
            for listener in self._listeners:
                listener(False)


class CountingRecognizer:
    """Wraps a recogniser: counts final transcripts (utterances) and the longest one."""

    def __init__(self, inner: Any, *, second_hearing: bool = True) -> None:
        self.inner = inner
        self.second_hearing = second_hearing
        self.name: str = inner.name
        self.description: str = inner.description
        self.missing_words: frozenset[str] = inner.missing_words
        self.open_vocabulary: bool = inner.open_vocabulary
        self.utterances = 0
        self.longest = 0.0
        self.finish_errors: list[str] = []
        self.texts: list[str] = []

    def _count(self, transcript: Any) -> Any:
        if transcript is not None and not self.second_hearing:
            transcript = dataclasses.replace(transcript, rehear=None)
        if transcript is not None:
            self.utterances += 1
            self.texts.append(transcript.text)
            if transcript.start is not None and transcript.end is not None:
                self.longest = max(self.longest, transcript.end - transcript.start)
        return transcript

    def accept(self, chunk: Any) -> Any:
        return self._count(self.inner.accept(chunk))

    def partial(self) -> str:
        return str(self.inner.partial())

    def hearing(self) -> bool:
        return bool(self.inner.hearing())

    def finish(self) -> Any:
        try:
            return self._count(self.inner.finish())
        except IndexError as err:  # an engine that fails to flush a stream ending mid-speech is counted, not fatal
            self.finish_errors.append(f"{type(err).__name__}: {err}")
            self.inner.reset()
            return None

    def reset(self) -> None:
        self.inner.reset()

    def commands_only(self, enabled: bool) -> None:
        self.inner.commands_only(enabled)


_RECOGNIZERS: dict[str, Any] = {}
_KB: list[Any] = []


def _kb() -> Any:
    if not _KB:
        from voicecoach.text import knowledge

        _KB.append(knowledge.load())
    return _KB[0]


def _recognizer(engine: str, model: str | None) -> Any:
    """One recogniser per engine per worker process (loaded once, `reset()` between files)."""
    if engine not in _RECOGNIZERS:
        from voicecoach.recognizer import open_recognizer
        from voicecoach.text.domain import build_domain

        if engine == "pocketsphinx":
            from voicecoach.recognizer.pocketsphinx_engine import PocketSphinxRecognizer

            _RECOGNIZERS[engine] = PocketSphinxRecognizer(build_domain(_kb()))
        else:
            _RECOGNIZERS[engine] = open_recognizer(build_domain(_kb()), model)
    return _RECOGNIZERS[engine]


def run_job(job: Job) -> Result:
    from voicecoach.audio.chunks import wav_to_chunks

    recognizer = _recognizer(job.engine, job.model)
    recognizer.reset()
    started = time.perf_counter()
    result = Result(job)
    rss_before = _rss_mb()
    if job.mode == "answer":
        from voicecoach.recognizer.base import heard_and_sure, other_readings, transcribe_chunks
        from voicecoach.text.dialogue import Dialogue

        chunks = list(wav_to_chunks(job.path, trailing_silence=TRAILING_SILENCE))
        transcripts = transcribe_chunks(recognizer, chunks)
        result.heard, sure = heard_and_sure(transcripts)
        dialogue = Dialogue(_kb(), confirm_unnamed=not recognizer.open_vocabulary)  # as `voicecoach answer`
        others, restored = other_readings(transcripts), other_readings(transcripts, restored=True)
        reply = dialogue.turn(result.heard, sure=sure, others=others, restored=restored)
        result.heard = reply.heard
        result.topic, result.intent, result.utterances = reply.topic, reply.intent, len(transcripts)
        result.seconds = len(chunks) * chunks[0].seconds if chunks else 0.0
    else:
        silence = TRAILING_SILENCE if job.tail == "silence" else 0.0
        simulate_listener(result, recognizer, wav_to_chunks(job.path, trailing_silence=silence))
    result.decode_seconds = time.perf_counter() - started
    result.rss_growth_mb = _rss_mb() - rss_before
    recognizer.reset()  # drop an utterance still open (noise that never ended) before the next job
    return result


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def simulate_listener(result: Result, recognizer: Any, chunks: Iterable[Any]) -> None:
    """Feed chunks to a real `Listener` (fresh Dialogue) with a simulated voice and a chunk-driven clock."""
    from voicecoach.app.listener import Activation, Listener, ListenSettings, Turn
    from voicecoach.text.dialogue import Dialogue

    clock = FakeClock()
    voice = SimulatedVoice(clock)
    counting = CountingRecognizer(recognizer, second_hearing=result.job.second_hearing)
    turns: list[Turn] = []
    settings = ListenSettings(activation=Activation(result.job.mode), clear_questions=result.job.clear_questions)
    listener = Listener(
        counting,
        Dialogue(_kb(), confirm_unnamed=not counting.open_vocabulary),
        voice,
        settings,
        on_turn=turns.append,
        clock=clock,
    )

    def timed() -> Iterator[Any]:
        for chunk in chunks:
            clock.now = chunk.timestamp
            voice.tick(clock.now)
            yield chunk
            clock.now = chunk.end
        result.seconds = clock.now

    if result.job.tail == "silence":
        listener.run(timed())  # the loop's own run(): chunks, then the recogniser's finish()
    else:
        for chunk in timed():  # a live stream in ongoing noise: no end of stream to flush the last utterance
            listener.process(chunk)
    result.turns = [
        {"heard": t.heard, "topic": t.reply.topic, "intent": t.reply.intent, "start": t.start} for t in turns
    ]
    result.said = voice.said
    result.utterances = counting.utterances
    result.longest_utterance = counting.longest
    result.finish_errors = counting.finish_errors
    result.texts = counting.texts
    # The first turn that is not a stop or pause (those end what the coach said before), else the first turn:
    # "hey coach, stop now" alone is a stop, and counted as one.
    first = next((t for t in turns if t.reply.intent not in ("stop", "pause")), turns[0] if turns else None)
    if first is not None:
        result.heard, result.topic, result.intent = first.heard, first.reply.topic, first.reply.intent
