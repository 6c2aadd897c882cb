"""The listening rules: microphone chunks -> recogniser -> dialogue -> voice, hands-free and half-duplex.

`Listener` decides; it runs on one thread, the live session's loop (`voicecoach.app.session`), which is
the only caller of the recogniser. Only the voice's speaking/silent notices come from another thread.

Rules a lifter relies on:
  * the coach never answers its own voice: while it speaks, and for a short tail after, what the
    microphone hears is not a question; only "stop" (or "pause" in the warm-up) can cut in, and only if
    the coach is not saying that word itself;
  * noise is not a turn: empty or low-confidence transcripts and unmatched chatter are dropped silently;
  * the wake word (default "coach") opens a short window in which follow-ups need no wake word.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from voicecoach.app.interrupt import (
    ALIKE_ONSET,
    ALIKE_STABLE_CHUNKS,
    BARGE_IN,
    OVER_ANSWERS,
    STABLE_CHUNKS,
    coach_words,
    first_interrupting,
    interrupt_command,
    is_coach_word,
    last_words,
)
from voicecoach.audio.format import AudioChunk
from voicecoach.clock import Clock, RealClock
from voicecoach.commands import Command, CommandHandler
from voicecoach.recognizer.base import Reading, Recognizer, Transcript
from voicecoach.recognizer.knee_readings import AFTER_WAKE
from voicecoach.text.dialogue import Dialogue
from voicecoach.text.reply import LISTENING, Reply
from voicecoach.voice.base import Voice

WAKE_WITHIN_WORDS = 3
"""The wake word counts among the first this many words ("hey coach ...", and "do you coach ..." when the
recogniser mishears "hey"): in the first three, 2.5 points fewer questions lost, no more false wakes (measured)."""
WAKE_ALIKES = {"coach": frozenset({"coke", "coat", "cole", "code", "cove", "colt", "coachy", "coaches"})}
"""What Moonshine writes for "coach" when it is unsure, most of all in gym noise ("hey coke, my knees hurt ..."): a
wake word heard so counts only when what follows is a clear request, as a wake word of low confidence does. Read off
the listen path of benchmarks/bench_ear.py (questions and commands lost to activation, four voices)."""
WAKE_REPLY_SECONDS = 0.6
"""After the wake word alone, "Yes?" waits this long and is not said at all if the lifter talks on: people pause
after "hey coach," and the coach's "Yes?" (its microphone muted while it speaks) cut the question that followed
(Piper's voice, quiet, the listen loop: "knees ache after doing extensions" heard as "extensions")."""
SILENT = (Command.STOP, Command.PAUSE, Command.START_WARMUP)
"""Commands answered by doing, not talking (the warm-up announces itself)."""


class Activation(StrEnum):
    WAKE = "wake"
    ALWAYS = "always"
    PUSH = "push"


@dataclass(frozen=True)
class ListenSettings:
    activation: Activation = Activation.WAKE
    wake_word: str = "coach"
    follow_up_seconds: float = 8.0
    """After the coach answers, this long to ask a follow-up without the wake word."""
    echo_tail_seconds: float = 0.4
    """Microphone ignored this long after the coach stops (room echo, speaker ring-down)."""
    min_confidence: float = 0.35
    """Transcripts the engine is less sure of than this are treated as noise."""
    clear_questions: bool = True
    """In wake-word mode, answer a clear knee question without the wake word (`ReadingChoice.answers_outright`): the
    wake word was where most spoken questions were lost, in noise most of all (benchmarks/bench_ear.py)."""
    min_wake_confidence: float = 0.6
    """A wake word heard less surely than this only counts when what follows is a clear request."""
    barge_in: bool = False
    """Let the lifter cut in while the coach speaks. With the session's echo canceller (audio.echo) the
    interrupting commands (INTERRUPT) are heard on the cleaned signal; without one only "stop" (BARGE_IN), and
    the coach's own voice then decodes as command words (measured). Off by default: benchmarks/bench_bargein.py
    and bargein_room.py show no false interruptions but fewer than 9 of 10 commands heard."""


@dataclass(frozen=True)
class Turn:
    """Something the lifter said to the coach, and the answer."""

    heard: str
    reply: Reply
    engine: str
    start: float | None
    """Seconds from the start of the stream to the first word."""
    end: float | None
    """Seconds from the start of the stream to the end of the last word."""

    def as_json(self) -> dict[str, Any]:
        return {
            **self.reply.as_json(),
            "heard": self.heard,
            "engine": self.engine,
            "start": self.start,
            "end": self.end,
        }


WarmupStarter = Callable[[], CommandHandler | None]
"""Starts the warm-up in the background; returns its command handler (None if it cannot start)."""


class Listener:
    def __init__(
        self,
        recognizer: Recognizer,
        dialogue: Dialogue,
        voice: Voice,
        settings: ListenSettings = ListenSettings(),
        *,
        on_turn: Callable[[Turn], None] = lambda turn: None,
        start_warmup: WarmupStarter | None = None,
        clock: Clock | None = None,
        on_ignored: Callable[[str, str], None] = lambda heard, why: None,
    ) -> None:
        self.recognizer = recognizer
        self.dialogue = dialogue
        self.voice = voice
        self.settings = settings
        self.on_turn = on_turn
        self.start_warmup = start_warmup
        self.clock: Clock = clock or RealClock()
        self.on_ignored = on_ignored
        """Told (heard, reason) for every utterance that is not a turn: `listen --verbose` shows them."""
        self.warmup: CommandHandler | None = None
        self.ignored = 0
        """Utterances dropped as noise, echo or not addressed to the coach."""
        self._speaking = False
        self._saying = ""
        self._deaf_until = 0.0
        self._open_until = 0.0
        self._yes_due = 0.0
        """When to say "Yes?" to a wake word said alone, unless the lifter talks on (0: nothing pending)."""
        self._answered = False
        self.echo_cancelled = False
        """The session cleans the microphone of the coach's voice (audio.echo): barge-in on the cleaned signal."""
        self._interrupting = False
        self._partial_command = ("", 0)
        self._lock = threading.Lock()
        voice.add_listener(self._on_speech)

    # -- half-duplex bookkeeping -------------------------------------------------------------------
    def _on_speech(self, speaking: bool) -> None:
        with self._lock:
            self._speaking = speaking
            if not speaking:
                self._deaf_until = self.clock.monotonic() + self.settings.echo_tail_seconds
                if self._answered:  # the follow-up window runs from the end of the answer, not its start
                    self._open_until = self._deaf_until + self.settings.follow_up_seconds
                    self._answered = False

    def _deaf(self) -> bool:
        with self._lock:
            return self._speaking or self.clock.monotonic() < self._deaf_until

    def push_to_talk(self) -> None:
        """Enter pressed: the next utterance is for the coach."""
        self._open_until = self.clock.monotonic() + self.settings.follow_up_seconds

    # -- the loop ------------------------------------------------------------------------------------
    def run(self, chunks: Iterable[AudioChunk]) -> None:
        """Everything on this thread, for a finite stream (benchmarks); live, the session calls `process`."""
        for chunk in chunks:
            self.process(chunk)
        self.finish()

    def finish(self) -> Turn | None:
        """End of the stream: the recogniser's last utterance, if any, is heard like any other."""
        last = self.recognizer.finish()
        return self._heard(last) if last is not None else None

    def command(self, command: Command) -> bool:
        """A command from outside speech (a key): routed like a spoken one. True if something acted on it."""
        return self._act(command)

    def process(self, chunk: AudioChunk, near: bool = True) -> Turn | None:
        """`near`: the echo canceller heard the lifter (not only the coach) lately; barge-in needs it."""
        deaf = self._deaf()
        if self.settings.barge_in and self.echo_cancelled and (deaf or self.warmup is not None):
            # The warm-up counts with gaps shorter than an utterance: flipping searches at every count cut the
            # lifter's word in two (measured in the echo room), so the interrupt search stays on for all of it.
            self._interrupt(chunk, near)
            return None
        if deaf:
            self.recognizer.accept(chunk)
            if self.settings.barge_in:
                self._barge_in()
            return None
        if self._interrupting:
            self._interrupt_search(False)
        if self._was_deaf:
            self.recognizer.reset()  # whatever it heard while the coach spoke is the coach
        transcript = self.recognizer.accept(chunk)
        if transcript is not None:
            self._yes_due = 0.0  # the lifter went on: the question, or something to ignore
            return self._heard(transcript)
        if self._yes_due and self.clock.monotonic() >= self._yes_due:
            self._yes_due = 0.0
            if not self.recognizer.hearing():
                self._say(LISTENING)
        return None

    @property
    def _was_deaf(self) -> bool:
        with self._lock:
            flag = self._deaf_until > 0.0 and not self._speaking
            if flag:
                self._deaf_until = 0.0
            return flag

    def _barge_in(self) -> None:
        words = self.recognizer.partial().split()
        spoken = coach_words(self.voice.saying or last_words(self._saying))
        for word in words:
            command = BARGE_IN.get(word)
            if command is None or word in spoken:
                continue  # the coach saying "stop" must not stop itself
            if command is Command.PAUSE and self.warmup is None:
                continue
            self.recognizer.reset()
            self._act(command)
            reply = Reply(word, command.value, 1.0, "", self.dialogue.state.topic)
            self.on_turn(Turn(word, reply, self.recognizer.name, None, None))
            return

    def _interrupt_search(self, enabled: bool) -> None:
        self.recognizer.interrupt_only(enabled)  # resets; back to the search it had (warm-up commands or domain)
        self._interrupting = enabled
        self._partial_command = ("", 0)

    def _interrupt(self, chunk: AudioChunk, near: bool) -> None:
        """The coach speaks and its voice is cancelled: only the interrupting commands, never its own words."""
        if not self._interrupting:
            self._interrupt_search(True)
        final = self.recognizer.accept(chunk)
        if final is not None:
            words = final.text.split()
            self._partial_command = ("", 0)
        else:  # a partial result only when the lifter may be speaking: Moonshine decodes to make one
            candidate = first_interrupting(self.recognizer.partial().split()) if near else ""
            last, seen = self._partial_command
            self._partial_command = (candidate, seen + 1 if candidate == last else 1)
            words = [candidate] if candidate and self._partial_stable() else []
        # What it says now, and the end of its last reply (its "Okay, stopped." echoes into the next warm-up).
        spoken = coach_words(self.voice.saying) | coach_words(last_words(self._saying))
        for word in words:
            command = interrupt_command(word)
            if command is None or is_coach_word(word, spoken) or not near:
                continue
            if self.warmup is None and command not in OVER_ANSWERS:
                continue
            self._act(command)
            self._interrupt_search(True)  # a fresh utterance for the next command (after _act switched searches)
            reply = Reply(word, command.value, 1.0, "", self.dialogue.state.topic)
            self.on_turn(Turn(word, reply, self.recognizer.name, None, None))
            return

    def _partial_stable(self) -> bool:
        candidate, seen = self._partial_command
        command = interrupt_command(candidate)
        return seen >= (ALIKE_STABLE_CHUNKS if command is not None and command.value in ALIKE_ONSET else STABLE_CHUNKS)

    def _heard(self, transcript: Transcript) -> Turn | None:
        if transcript.empty or (
            transcript.confidence is not None and transcript.confidence < self.settings.min_confidence
        ):
            self.ignored += 1
            return None
        text = transcript.text
        addressed = self.settings.activation is Activation.ALWAYS or self.clock.monotonic() < self._open_until
        woken = False
        sure = transcript.sure_text()
        words = text.split()
        # Lifters say the wake word first ("coach, ...", "hey coach, ..."); one found later in an utterance
        # is far more often babble decoded into the closed vocabulary.
        at = self._wake_position(words)
        alike = at is not None and words[at] != self.settings.wake_word
        if at is not None or self._late_wake(transcript):
            skip = (at if at is not None else words.index(self.settings.wake_word)) + 1
            after = words[skip:]
            sure = transcript.sure_text(skip=skip)
            text, addressed, woken = " ".join(after), True, True
            if not after and alike:
                self._ignore(transcript.text, "a look-alike of the wake word alone")
                return None
            if not after:
                self._open_until = self.clock.monotonic() + self.settings.follow_up_seconds
                self._yes_due = self.clock.monotonic() + WAKE_REPLY_SECONDS
                return None
            # The beam's readings, then a second decode, then the knee restored: the weakest evidence last ("my
            # leaves the toughest watch" restored to "my knees the toughest watch" had hidden a second hearing's
            # "my knees hurts after squats", benchmarks/bench_ear.py --paths listen).
            second = (
                self._other_reading(text, transcript.alternatives)
                or self._second_hearing(transcript, text)
                or self._restored_after_wake(text, transcript)
            )
            if second is not None:
                text, sure = second, None
        in_warmup = self.warmup is not None and not woken
        if not addressed and not in_warmup:
            if not self._clear_question(transcript):
                self._ignore(text, "no wake word")
                return None
            addressed = True
        if in_warmup and Command.from_intent(self.dialogue.matcher.match(text).intent) is None:
            # During the warm-up the recogniser listens for commands only; "pause" needs no wake word.
            self._ignore(text, "not a warm-up command")
            return None
        unsure = woken and (alike or self._wake_confidence(transcript) < self.settings.min_wake_confidence)
        if unsure and self.dialogue.matcher.match(text).intent is None:
            self._ignore(text, "unsure wake word, unclear request")
            return None
        reply = self.dialogue.turn(text, sure=sure, rivals=self._rivals(text, transcript), clear=transcript.clear)
        if reply.intent is None and self.settings.activation is Activation.ALWAYS:
            self._ignore(text, "not a request")  # always-on hears the whole gym: answer clear requests only
            return None
        turn = Turn(text, reply, transcript.engine or self.recognizer.name, transcript.start, transcript.end)
        self.on_turn(turn)
        command = reply.command
        if command is not None:
            self._act(command)
        # Only a turn the lifter opened (wake word, Enter) earns a follow-up window. Letting follow-ups reopen
        # it made gym noise chain "turns" ("what" -> repeat -> "what" ...): measured 54 false turns an hour.
        follow_up = woken or self.settings.activation is not Activation.WAKE
        self._open_until = self.clock.monotonic() + self.settings.follow_up_seconds if follow_up else 0.0
        if reply.say and command not in SILENT:
            self._answered = follow_up
            self._say(reply.say)
        return turn

    def _other_reading(self, heard: str, readings: Sequence[Reading], *, restored: bool = False) -> str | None:
        """Another of the engine's readings of a woken utterance (`Transcript.alternatives`, or with `restored`
        `Transcript.restored`; wake word dropped), when the dialogue takes it over the first (`ReadingChoice.best`).
        Only once woken: from babble without the wake word, a runner-up reading is no question the lifter asked."""
        woken = [(text, other.behind) for other in readings if (text := self._after_wake(other.text))]
        reading = self.dialogue.readings.best(heard, [] if restored else woken, restored=woken if restored else [])
        return reading if reading != heard else None

    def _restored_after_wake(self, heard: str, transcript: Transcript) -> str | None:
        """The first hearing with the knee put back (`Transcript.restored`), a reading `AFTER_WAKE` nats closer where
        the knee took the place of one word that may hide it: the lifter called the coach, so a knee question is
        likelier than the model's scores say (behind "hey coach" it puts the knee 8-12 nats under its own word). Not
        closer against a command or follow-up heard first: that turned "take me through that warmup" into warm-up
        advice (benchmarks/bench_ear.py --paths listen)."""
        readings = transcript.restored
        if not self.dialogue.readings.asks_for_something(heard):
            readings = tuple(self._closer(heard, r) for r in readings)
        return self._other_reading(heard, readings, restored=True)

    def _closer(self, heard: str, restored: Reading) -> Reading:
        """`restored` `AFTER_WAKE` nats closer when the knee stands for one word of `heard` that may hide it
        (`Matcher.may_hide_the_knee`): not for two ("next snap to please" -> "next snap knees" got red-flag advice),
        nor for a word a knee topic uses ("our sissy squat stave" -> "our knees squat stave": the squat answer to
        "are sissy squats safe"), nor for another body part ("my sins are tough" -> "my knees are tough")."""
        replaced = _replaced(self._after_wake(heard).split(), self._after_wake(restored.text).split())
        if len(replaced) != 1 or not self.dialogue.matcher.may_hide_the_knee(replaced[0]):
            return restored
        return Reading(restored.text, max(0.0, restored.behind - AFTER_WAKE))

    def _rivals(self, text: str, transcript: Transcript) -> list[tuple[str, float]]:
        """The first hearing's readings (wake word dropped), each with how far behind `text` it is, for the dialogue
        to check a knee answer against (`readings.RIVAL_WITHIN`); none when `text` came from a second hearing."""
        behind: dict[str, float] = {}
        for reading in [Reading(transcript.text, 0.0), *transcript.alternatives, *transcript.restored]:
            if after := self._after_wake(reading.text):
                behind.setdefault(after, reading.behind)
        if text not in behind:
            return []
        return [(other, nats - behind[text]) for other, nats in behind.items() if other != text]

    def _after_wake(self, text: str) -> str:
        words = text.split()
        at = self._wake_position(words)
        return " ".join(words if at is None else words[at + 1 :])

    def _wake_position(self, words: list[str]) -> int | None:
        """Where the wake word stands among the first words, or else a look-alike of it (`WAKE_ALIKES`)."""
        first = words[:WAKE_WITHIN_WORDS]
        if self.settings.wake_word in first:
            return first.index(self.settings.wake_word)
        alikes = WAKE_ALIKES.get(self.settings.wake_word, frozenset())
        return next((i for i, word in enumerate(first) if word in alikes), None)

    def _second_hearing(self, transcript: Transcript, heard: str) -> str | None:
        """What follows the wake word in the engine's second hearing (`Transcript.rehear`), when the first gives
        no knee answer outright and the second does, or (unless the first was a command or follow-up) the second
        with the knee restored does. Only a knee question answered outright (the knee named): also
        taking a command or follow-up the first hearing lacked turned "speed it up" into "snead it up" -> louder
        (quiet held-out set, benchmarks/bench_ear.py). Asked only then: a clear first hearing costs no second decode."""
        if transcript.rehear is None or self.dialogue.readings.answers_outright(heard):
            return None
        again = transcript.rehear()
        after = self._after_wake(again.text)  # what follows the first pause, or "coach, <question>"
        if after and after != heard and self.dialogue.readings.answers_outright(after):
            return after
        if self.dialogue.readings.asks_for_something(heard):
            # A command heard first stands: "continue the warm up" restored as "knee the warmup" got warm-up
            # advice for three voices of four at 20 dB (listen path, benchmarks/bench_ear.py).
            return None
        # The weakest evidence last: the second hearing with the knee restored.
        reading = self._other_reading(after or heard, again.restored, restored=True)
        return reading if reading is not None and self.dialogue.readings.answers_outright(reading) else None

    def _late_wake(self, transcript: Transcript) -> bool:
        """The wake word further in, followed by a clear knee question: in gym noise the babble before the
        question decodes as words ("i it that a coach knee hurts at the bottom of my squats"), and the wake
        word among the first three lost 46% of questions at 20 dB (benchmarks/bench_ear.py)."""
        words = transcript.text.split()
        if not self.settings.clear_questions or self.settings.wake_word not in words:
            return False
        skip = words.index(self.settings.wake_word) + 1
        after = " ".join(words[skip:])
        return bool(after) and self.dialogue.readings.answers_outright(after, sure=transcript.sure_text(skip=skip))

    def _clear_question(self, transcript: Transcript) -> bool:
        return (
            self.settings.clear_questions
            and self.settings.activation is Activation.WAKE
            and self.dialogue.readings.answers_outright(transcript.text, sure=transcript.sure_text())
        )

    def _wake_confidence(self, transcript: Transcript) -> float:
        found = [w.confidence for w in transcript.words if w.text == self.settings.wake_word]
        return found[0] if found and found[0] is not None else 1.0

    def _ignore(self, heard: str, why: str) -> None:
        self.ignored += 1
        self.on_ignored(heard, why)

    def _act(self, command: Command) -> bool:
        """Route a command to the warm-up when it runs, else to the voice. True if something acted on it."""
        if command is Command.START_WARMUP and self.start_warmup is not None and self.warmup is None:
            self.warmup = self.start_warmup()
            self.recognizer.commands_only(self.warmup is not None)
            self._interrupting = False  # commands_only switched the search: barge-in switches it again
            return False
        if self.warmup is not None and self.warmup.handle(command):
            if command is Command.STOP:
                self.warmup_finished()
            return True
        if command is Command.STOP:
            self.voice.stop()
            return True
        return command is not Command.REPEAT and self.voice.handle(command)

    def warmup_finished(self) -> None:
        self.warmup = None
        self.recognizer.commands_only(False)
        self._interrupting = False

    def _say(self, text: str) -> None:
        self._saying = text
        self.voice.say(text, wait=False)


def _replaced(before: list[str], after: list[str]) -> list[str]:
    """The words of `before` that `after` replaced: what lies between the words both begin and end with."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    return before[start : len(before) - end]
