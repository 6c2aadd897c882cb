"""The live session: one thread owns the recogniser, the warm-up renders for the player, stopping is prompt.

Fakes drive the session's own logic; the last test runs `voicecoach listen` itself in the PulseAudio room
and ends it with SIGINT/SIGTERM while the machine is busy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from voicecoach.app.listener import Activation, ListenSettings
from voicecoach.app.session import PUSH_TO_TALK, Session, SessionState
from voicecoach.audio.format import AudioChunk
from voicecoach.audio.front_end import FrontEnd
from voicecoach.commands import Command
from voicecoach.recognizer.base import Transcript
from voicecoach.text import knowledge
from voicecoach.voice.base import SpeechClip, SpeechListener, VoiceSettings
from voicecoach.voice.speaker import SpokenVoice

SILENCE = AudioChunk(b"\0" * 960)
START_WARMUP = Transcript("coach start the warm up", confidence=0.9)


class ExclusiveRecognizer:
    """Records every call, and any call that began while another was still inside (a race on the decoder)."""

    name = description = "exclusive"
    missing_words: frozenset[str] = frozenset()
    open_vocabulary = False

    def __init__(self, script: dict[int, Transcript]) -> None:
        self.script = script
        self.fed = 0
        self.lock = threading.Lock()
        self.overlaps: list[str] = []
        self.threads: set[str] = set()
        self.commands: list[bool] = []

    def _enter(self, what: str, seconds: float) -> None:
        self.threads.add(threading.current_thread().name)
        if not self.lock.acquire(blocking=False):
            self.overlaps.append(f"{what} on {threading.current_thread().name}")
            return
        try:
            time.sleep(seconds)
        finally:
            self.lock.release()

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        self._enter("accept", 0.002)
        self.fed += 1
        return self.script.get(self.fed)

    def partial(self) -> str:
        return ""

    def finish(self) -> Transcript | None:
        return None

    def hearing(self) -> bool:
        return False

    def reset(self) -> None:
        self._enter("reset", 0.002)

    def commands_only(self, enabled: bool) -> None:
        self.commands.append(enabled)
        self._enter("commands_only", 0.05)  # PocketSphinx switches its search: long enough to be caught

    def interrupt_only(self, enabled: bool) -> None:
        self._enter("interrupt_only", 0.05)


class RecordingSynth:
    def __init__(self) -> None:
        self.rendered: list[tuple[str, float]] = []

    def render(self, text: str, settings: VoiceSettings) -> SpeechClip:
        self.rendered.append((text, settings.volume))
        return SpeechClip(text, b"\x10\x27" * 160, 16000)


class FakePlayer:
    """Stands in for `Player`: no device; remembers the volume it would apply."""

    def __init__(self) -> None:
        self.volume = 1.0
        self.speaking = False
        self.closed = False

    def play(self, clip: SpeechClip, *, wait: bool = True) -> bool:
        return True

    def stop(self) -> None:
        pass

    def add_listener(self, listener: SpeechListener) -> None:
        pass

    def ready(self, timeout: float = 4.0) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class Silence:
    """An endless microphone: a chunk every `pace` seconds until `close()`."""

    def __init__(self, pace: float = 0.001) -> None:
        self.pace = pace
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[AudioChunk]:
        while not self.closed.is_set():
            yield SILENCE
            self.closed.wait(self.pace)

    def close(self) -> None:
        self.closed.set()


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def start(
    recognizer: ExclusiveRecognizer,
    volume: float = 1.0,
    activation: Activation = Activation.WAKE,
    front_end: FrontEnd | None = None,
) -> tuple[Session, Silence, threading.Thread, RecordingSynth, FakePlayer, list[SessionState]]:
    synth, player = RecordingSynth(), FakePlayer()
    voice = SpokenVoice(synth, player, VoiceSettings(volume=volume))  # type: ignore[arg-type]
    states: list[SessionState] = []
    session = Session(
        knowledge.load(),
        recognizer,
        voice,
        synth,
        ListenSettings(activation=activation),
        on_state=states.append,
        front_end=front_end,
    )
    source = Silence()
    loop = threading.Thread(target=session.run, args=(source,), name="session")
    loop.start()
    return session, source, loop, synth, player, states


def test_a_warmup_finishing_on_its_own_thread_never_races_the_loop() -> None:
    """Failed before the session: the warm-up thread called `commands_only` while the loop was in `accept`."""
    recognizer = ExclusiveRecognizer({3: START_WARMUP})
    session, _source, loop, _, _, states = start(recognizer)
    try:
        wait_for(lambda: session.warmup is not None and session.warmup.started)
        runner = session.warmup
        assert runner is not None
        time.sleep(0.2)
        runner.handle(Command.STOP)  # as a key would, from another thread: the runner's thread ends now
        wait_for(lambda: session.warmup is None)
        time.sleep(0.3)  # the loop keeps feeding the recogniser
    finally:
        session.stop()
        loop.join(2.0)
    assert not loop.is_alive()
    assert recognizer.overlaps == []
    assert recognizer.commands == [True, False]  # commands only during the warm-up, then the whole domain again
    assert recognizer.threads == {"session"}  # one thread touched the recogniser
    assert states[:2] == [SessionState.LISTENING, SessionState.WARMING_UP]
    assert SessionState.LISTENING in states[2:] and states[-1] is SessionState.STOPPING


def test_a_warmup_started_by_voice_renders_at_full_volume() -> None:
    """Failed before the session: `listen` rendered the warm-up at 0.5 and the player applied 0.5 again."""
    session, _source, loop, synth, player, _ = start(ExclusiveRecognizer({3: START_WARMUP}), volume=0.5)
    try:
        wait_for(lambda: session.warmup is not None and session.warmup.started)
        runner = session.warmup
        assert runner is not None
        warmup_phrases = set(runner.clips)
    finally:
        session.stop()
        loop.join(2.0)
    volumes = {volume for text, volume in synth.rendered if text in warmup_phrases}
    assert warmup_phrases and volumes == {1.0}
    assert player.volume == 0.5  # applied once, by the player


def test_stop_ends_run_promptly_and_releases_everything() -> None:
    session, source, loop, _, player, states = start(ExclusiveRecognizer({}))
    wait_for(lambda: states)
    begun = time.monotonic()
    threading.Thread(target=session.stop).start()
    loop.join(2.0)
    assert not loop.is_alive() and time.monotonic() - begun < 0.5
    assert source.closed.is_set() and player.closed and session.state is SessionState.STOPPING


class MarkingFrontEnd:
    """Stands in for noise suppression: every chunk it hands on is marked, so the recogniser shows what it got."""

    name = "marking"

    def process(self, chunk: AudioChunk) -> AudioChunk:
        return replace(chunk, audio=b"\x07\x00" * chunk.samples)


class RecordingRecognizer(ExclusiveRecognizer):
    def __init__(self) -> None:
        super().__init__({})
        self.heard: list[bytes] = []

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        self.heard.append(chunk.audio)
        return super().accept(chunk)


def test_the_recogniser_hears_the_microphone_through_the_front_end() -> None:
    recognizer = RecordingRecognizer()
    session, _source, loop, _, _, _ = start(recognizer, front_end=MarkingFrontEnd())
    wait_for(lambda: len(recognizer.heard) >= 20)
    session.stop()
    loop.join(2.0)
    assert recognizer.heard and all(audio == b"\x07\x00" * 480 for audio in recognizer.heard)


def test_stop_skips_audio_still_queued() -> None:
    """Under load the loop falls behind: a stop must not wait for the backlog to be decoded."""
    recognizer = ExclusiveRecognizer({})
    session, _source, loop, _, _, states = start(recognizer)
    wait_for(lambda: states)
    for _ in range(500):
        session._events.put(SILENCE)  # 15 s of audio not yet decoded (~1 s of accept() at 2 ms each)
    fed = recognizer.fed
    session.stop()
    loop.join(2.0)
    assert not loop.is_alive() and recognizer.fed - fed < 100


def test_keys_and_enter_reach_the_loop_through_the_queue() -> None:
    recognizer = ExclusiveRecognizer({})
    session, _source, loop, _, player, _ = start(recognizer, activation=Activation.PUSH)
    try:
        session.post(Command.QUIETER)
        wait_for(lambda: player.volume == 0.8)
        session.post(PUSH_TO_TALK)
        recognizer.script = {recognizer.fed + 20: Transcript("my knees hurt after squats", confidence=0.9)}
        wait_for(lambda: session.ignored == 0 and session.listener.dialogue.state.topic == "knee_pain_squat")
    finally:
        session.stop()
        loop.join(2.0)


# -- `voicecoach listen` and signals -----------------------------------------------------------------------


@pytest.mark.audio
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_listen_ends_within_two_seconds_of_a_signal_under_load(
    pulse_room: dict[str, str], signum: signal.Signals
) -> None:
    """SIGTERM (systemd's stop) and SIGINT (Ctrl-C) both end `listen` cleanly: the summary line, exit status 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicecoach", "listen", "--activation", "always"],
        env={**os.environ, **pulse_room},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    listening = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "listening on" in line:
                listening.set()

    threading.Thread(target=read, daemon=True).start()
    busy: list[subprocess.Popen[bytes]] = []
    try:
        assert listening.wait(60), "".join(lines)
        spin = [sys.executable, "-c", "while True: pass"]
        busy = [subprocess.Popen(spin) for _ in range(max(2, os.cpu_count() or 2))]  # every core busy
        time.sleep(3.0)  # the microphone runs and the load is on
        sent = time.monotonic()
        proc.send_signal(signum)
        status = proc.wait(timeout=20)
        took = time.monotonic() - sent
    finally:
        for process in busy:
            process.kill()
            process.wait()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"{signum.name}: exited {status} after {took:.2f} s")
    assert status == 0, "".join(lines)
    assert took < 2.0, f"{signum.name} took {took:.2f} s"
    time.sleep(0.1)
    assert any("voicecoach: stopped (" in line for line in lines), "".join(lines)
