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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from voicecoach.app.interrupt import (
    BARGE_IN,
    OVER_ANSWERS,
    HeldCommand,
    SameWord,
    coach_words,
    interrupt_command,
    is_coach_word,
    last_words,
)
from voicecoach.app.wake import WakeWord
from voicecoach.audio.format import AudioChunk
from voicecoach.clock import Clock, RealClock
from voicecoach.commands import Command, CommandHandler
from voicecoach.recognizer.base import Recognizer, Transcript
from voicecoach.text.dialogue import Dialogue
from voicecoach.text.reply import LISTENING, Reply
from voicecoach.voice.base import Voice

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
    the coach's own voice then decodes as command words (measured). `voicecoach listen` turns it on where the
    echo room measured it (`voicecoach.app.ear.listening_ear`)."""


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
        self.wake = WakeWord(settings.wake_word, dialogue.readings, clear_questions=settings.clear_questions)
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
        self._held = HeldCommand()
        self._same_word = SameWord()
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
        self._held.reset()

    def _interrupt(self, chunk: AudioChunk, near: bool) -> None:
        """The coach speaks and its voice is cancelled: only the interrupting commands, never its own words."""
        if not self._interrupting:
            self._interrupt_search(True)
        final = self.recognizer.accept(chunk)
        if final is not None:
            heard = final.text
            words = heard.split()
            self._held.reset()
        else:  # a partial result only when the lifter may be speaking: Moonshine decodes to make one
            heard = self.recognizer.partial() if near else ""
            held = self._held.update(heard.split())
            words = [held] if held else []
        # What it says now, and the end of its last reply (its "Okay, stopped." echoes into the next warm-up).
        spoken = coach_words(self.voice.saying) | coach_words(last_words(self._saying))
        for word in words:
            command = interrupt_command(word)
            if command is None or is_coach_word(word, spoken) or not near:
                continue
            if self.warmup is None and command not in OVER_ANSWERS:
                continue
            if self._same_word.again(command, now := self.clock.monotonic()):
                self._interrupt_search(True)
                self.on_ignored(heard, f"{command.value} again: the tail of the word acted on")
                return
            self._same_word.acted(command, now)
            self._act(command)
            self._interrupt_search(True)  # a fresh utterance for the next command (after _act switched searches)
            reply = Reply(word, command.value, 1.0, "", self.dialogue.state.topic)
            # The turn keeps all that was heard around the word: why the coach stopped, when it should not have.
            self.on_turn(Turn(heard, reply, self.recognizer.name, None, None))
            return

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
        at = self.wake.position(words)
        alike = at is not None and self.wake.is_alike(words[at])
        if at is not None or self.wake.late(transcript):
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
            second = self.wake.best(text, transcript)
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
        unsure = woken and (alike or self.wake.confidence(transcript) < self.settings.min_wake_confidence)
        if unsure and self.dialogue.matcher.match(text).intent is None:
            self._ignore(text, "unsure wake word, unclear request")
            return None
        reply = self.dialogue.turn(text, sure=sure, rivals=self.wake.rivals(text, transcript), clear=transcript.clear)
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

    def _clear_question(self, transcript: Transcript) -> bool:
        return (
            self.settings.clear_questions
            and self.settings.activation is Activation.WAKE
            and self.dialogue.readings.answers_outright(transcript.text, sure=transcript.sure_text())
        )

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
