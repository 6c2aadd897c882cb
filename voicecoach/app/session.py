"""The live session: one owner for the recogniser, the voice and the warm-up.

Whatever happens reaches the session as an event on one queue: audio chunks (from the microphone's
thread), commands (keys), Enter for push-to-talk, "warm-up finished" (from the warm-up's thread) and
stop (a signal handler or any thread). One thread, the one in `run()`, takes them off in order; it alone
touches the recogniser (accept, reset, commands_only) and the listening rules, so nothing races on the
decoder. The design follows wyoming-satellite's event loop and its state enum.

Stopping is prompt by construction: `stop()` sets a flag and posts to the queue (both safe in a signal
handler), the loop drops whatever audio is still queued, and the shutdown closes the microphone, stops
the warm-up and the voice and joins their threads with time limits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from voicecoach.app.listener import Listener, ListenSettings, Turn
from voicecoach.audio.echo_stage import EchoStage
from voicecoach.audio.format import AudioChunk
from voicecoach.audio.front_end import FrontEnd
from voicecoach.clock import Clock, RealClock
from voicecoach.commands import Command
from voicecoach.errors import VoicecoachError
from voicecoach.heap import give_back
from voicecoach.recognizer.base import Recognizer
from voicecoach.text.dialogue import Dialogue
from voicecoach.text.knowledge import KnowledgeBase
from voicecoach.text.reply import opening_replies
from voicecoach.voice.base import Synthesizer, Voice
from voicecoach.warmup.plan import WarmupPlan
from voicecoach.warmup.runner import WarmupRunner, runner_for_voice

JOIN_SECONDS = 0.5
"""How long the shutdown waits for each helper thread (they are daemons: a stuck one never holds the exit)."""
BACKLOG_CHUNKS = 1000
"""Audio queued beyond this (30 s) is dropped and counted: a stalled loop must not grow memory without end."""
TICK_SECONDS = 0.25
"""The loop wakes at least this often even when nothing arrives (no audio: a microphone being reopened)."""


class SessionState(StrEnum):
    LISTENING = "listening"
    ANSWERING = "answering"
    WARMING_UP = "warming_up"
    STOPPING = "stopping"


class AudioSource(Protocol):
    """The microphone as the session needs it: chunks until `close()`, which may come from any thread."""

    def __iter__(self) -> Iterator[AudioChunk]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PushToTalk:
    """Enter pressed: the next utterance is for the coach."""


@dataclass(frozen=True)
class WarmupFinished:
    runner: WarmupRunner
    error: str | None = None


@dataclass(frozen=True)
class SourceEnded:
    error: VoicecoachError | None = None


@dataclass(frozen=True)
class StopRequested:
    pass


PUSH_TO_TALK = PushToTalk()
Event = AudioChunk | Command | PushToTalk | WarmupFinished | SourceEnded | StopRequested


class Session:
    """Listens, answers and runs the warm-up until the source ends or `stop()` is called."""

    def __init__(
        self,
        kb: KnowledgeBase,
        recognizer: Recognizer,
        voice: Voice,
        synthesizer: Synthesizer,
        settings: ListenSettings | None = None,
        *,
        warmup_plan: WarmupPlan | None = None,
        clock: Clock | None = None,
        on_turn: Callable[[Turn], None] = lambda turn: None,
        on_ignored: Callable[[str, str], None] = lambda heard, why: None,
        on_state: Callable[[SessionState], None] = lambda state: None,
        on_status: Callable[[str], None] = lambda message: None,
        echo: EchoStage | None = None,
        front_end: FrontEnd | None = None,
    ) -> None:
        """`synthesizer` renders the warm-up's clips (the voice's own, when it has one). Callbacks run on the
        loop's thread: `on_state` for every change of state, `on_status` for a line worth showing the user."""
        self.kb = kb
        self.recognizer = recognizer
        self.voice = voice
        self.synthesizer = synthesizer
        self.warmup_plan = warmup_plan or WarmupPlan.make("squats")
        topic = self.warmup_plan.exercise.topic
        self.cues = kb.topic(topic).cues if topic in {t.id for t in kb.topics} else ()
        self.clock: Clock = clock or RealClock()
        self.on_state = on_state
        self.on_status = on_status
        self.listener = Listener(
            recognizer,
            Dialogue(kb, confirm_unnamed=not recognizer.open_vocabulary),
            voice,
            settings or ListenSettings(),
            on_turn=on_turn,
            start_warmup=self._start_warmup,
            clock=self.clock,
            on_ignored=on_ignored,
        )
        self.echo = echo
        """Cleans the microphone of the coach's voice (barge-in listens on the cleaned signal), or None."""
        self.listener.echo_cancelled = echo is not None
        self.front_end = front_end
        """Noise suppression after the echo canceller (it needs the coach's voice as it was played), or None."""
        self.state: SessionState | None = None
        self.dropped = 0
        """Audio chunks dropped because the loop fell more than BACKLOG_CHUNKS behind."""
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()  # put() is reentrant: signal-handler safe
        self._stopping = False
        self._warmup_thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """`stop()` was called (or the source ended): `run()` is on its way out."""
        return self._stopping

    @property
    def ignored(self) -> int:
        return self.listener.ignored

    @property
    def warmup(self) -> WarmupRunner | None:
        """The warm-up that runs now, if any."""
        runner = self.listener.warmup
        return runner if isinstance(runner, WarmupRunner) else None

    # -- from any thread -------------------------------------------------------------------------------
    def post(self, event: Command | PushToTalk) -> None:
        """A key's command, or Enter for push-to-talk: handled on the loop's thread, in order."""
        self._events.put(event)

    def stop(self) -> None:
        """End `run()` promptly. Safe from any thread and from a signal handler (a flag and a reentrant put)."""
        self._stopping = True
        self._events.put(StopRequested())

    # -- the loop --------------------------------------------------------------------------------------
    def run(self, source: AudioSource) -> None:
        """Listen on `source` until it ends or `stop()`; then release everything, the voice included."""
        feeder = threading.Thread(target=self._feed, args=(source,), name="microphone", daemon=True)
        try:
            self.voice.prepare(opening_replies(self.kb))  # answers render in the background, not per question
            self.voice.ready()  # a new PulseAudio output stream stutters for its first seconds: pay that now
            if self._stopping:
                return
            feeder.start()
            self._set_state()
            self._loop()
        finally:
            self._shutdown(source, feeder)

    def _loop(self) -> None:
        while True:
            try:
                event = self._events.get(timeout=TICK_SECONDS)
            except queue.Empty:
                self._set_state()
                continue
            if self._stopping:
                return  # whatever audio is still queued is dropped: stop now, not after the backlog
            if isinstance(event, AudioChunk):
                chunk, near = self.echo.clean(event) if self.echo is not None else (event, True)
                if self.front_end is not None:
                    chunk = self.front_end.process(chunk)
                self.listener.process(chunk, near)
            elif isinstance(event, Command):
                self.listener.command(event)
            elif isinstance(event, PushToTalk):
                self.listener.push_to_talk()
            elif isinstance(event, WarmupFinished):
                self._warmup_finished(event)
            elif isinstance(event, SourceEnded):
                if event.error is not None:
                    raise event.error
                self.listener.finish()
                return
            else:
                return  # StopRequested
            self._set_state()

    def _set_state(self) -> None:
        if self._stopping:
            state = SessionState.STOPPING
        elif self.listener.warmup is not None:
            state = SessionState.WARMING_UP
        elif self.voice.speaking:
            state = SessionState.ANSWERING
        else:
            state = SessionState.LISTENING
        if state is not self.state:
            self.state = state
            self.on_state(state)
            if state is SessionState.LISTENING:
                give_back()  # the answer's and the decode's buffers, freed while the coach spoke

    def _feed(self, source: AudioSource) -> None:
        """The microphone's thread: chunks onto the queue, never into the recogniser."""
        try:
            for chunk in source:
                if self._stopping:
                    return
                if self._events.qsize() > BACKLOG_CHUNKS:
                    self.dropped += 1
                    continue
                self._events.put(chunk)
        except VoicecoachError as err:
            self._events.put(SourceEnded(err))
            return
        self._events.put(SourceEnded())

    # -- the warm-up -----------------------------------------------------------------------------------
    def _start_warmup(self) -> WarmupRunner:
        """Called by the listener on the loop's thread; the runner's own thread only posts when it ends."""
        runner = runner_for_voice(self.warmup_plan, self.voice, self.synthesizer, cues=self.cues, clock=self.clock)
        self._warmup_thread = threading.Thread(target=self._run_warmup, args=(runner,), name="warmup", daemon=True)
        self._warmup_thread.start()
        return runner

    def _run_warmup(self, runner: WarmupRunner) -> None:
        error = None
        try:
            runner.run()
        except VoicecoachError as err:
            error = str(err)
        finally:
            self._events.put(WarmupFinished(runner, error))

    def _warmup_finished(self, event: WarmupFinished) -> None:
        if event.error is not None:
            self.on_status(f"the warm-up stopped ({event.error})")
        if self.listener.warmup is event.runner:  # not one stopped by voice, nor an earlier one
            self.listener.warmup_finished()

    # -- the end ---------------------------------------------------------------------------------------
    def _shutdown(self, source: AudioSource, feeder: threading.Thread) -> None:
        self._stopping = True
        self._set_state()
        source.close()
        runner = self.listener.warmup
        if runner is not None:
            runner.handle(Command.STOP)
        self.voice.stop()
        for thread in (feeder, self._warmup_thread):
            if thread is not None and thread.is_alive():
                thread.join(JOIN_SECONDS)
        self.voice.close()  # the output stream closes now, in order, not in an exit-time finalizer
