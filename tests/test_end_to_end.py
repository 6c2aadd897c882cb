"""End to end with real parts: espeak-ng speech -> real recogniser -> matcher -> dialogue -> pyttsx3 voice.

`answer` is run on the committed spoken WAVs in audio/ (three voices and speeds, rendered once by
benchmarks/make_audio_fixtures.py, so the result does not hang on the installed espeak-ng); `listen` is run as
a separate process in a PulseAudio null-sink "room", hearing a question pyttsx3 renders and plays into the room,
and answering into it.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import RoomRecorder, sound_spans

from voicecoach.audio.chunks import read_wav, wav_to_chunks, write_wav
from voicecoach.recognizer import open_recognizer
from voicecoach.recognizer.base import transcribe_chunks
from voicecoach.text import knowledge
from voicecoach.text.dialogue import Dialogue
from voicecoach.text.domain import build_domain
from voicecoach.voice import render_to_wav

QUESTIONS = [
    ("my knees hurt after squats", "knee_pain_squat"),
    ("my knee hurts on the leg extension", "knee_pain_leg_extension"),
    ("my knees are sore after running on the treadmill", "knee_pain_treadmill"),
    ("how should i warm up my knees", "knee_pain_warmup"),
    ("how do i make my knees stronger", "knee_strengthen"),
    ("my knee is swollen", "knee_pain_red_flag"),
]
NOT_KNEE = [
    "my shoulder hurts when i bench",
    "what is the weather like tomorrow",
    "play some music please",
    "how much protein should i eat",
]
VOICES = ["en_165wpm", "en_us_140wpm", "en_200wpm"]
"""Folders of audio/: espeak-ng's en (pyttsx3's default voice) at 165 and 200 wpm, its en-us at 140 wpm."""


@pytest.fixture(scope="module")
def spoken(audio_fixture: Callable[[str], Path]) -> dict[tuple[str, int], Path]:
    texts = [q for q, _ in QUESTIONS] + NOT_KNEE
    return {(text, i): audio_fixture(f"{folder}/{text}") for i, folder in enumerate(VOICES) for text in texts}


@pytest.mark.parametrize("engine", ["auto", "moonshine"])
def test_answer_spoken_questions(engine: str, spoken: dict[tuple[str, int], Path]) -> None:
    """The default engine, and Moonshine where its model is installed."""
    kb = knowledge.load()
    if engine == "moonshine":
        from voicecoach.recognizer.moonshine_model import bundled_model_dir

        if bundled_model_dir() is None:
            pytest.skip("no Moonshine model: pip install moonshine-voice==0.1.0 onnxruntime")
    recognizer = open_recognizer(build_domain(kb), engine=engine)
    right, total, knee_advice_off_topic = 0, 0, []
    for (text, _voice), path in spoken.items():
        recognizer.reset()
        heard = " ".join(t.text for t in transcribe_chunks(recognizer, wav_to_chunks(path, trailing_silence=1.0)))
        reply = Dialogue(kb, confirm_unnamed=not recognizer.open_vocabulary).turn(heard)  # as `answer`, `listen`
        expected = dict(QUESTIONS).get(text)
        if expected is None:
            if reply.topic is not None and reply.intent != "clarify":  # a "did you mean ...?" is not advice
                knee_advice_off_topic.append((text, heard, reply.topic))
            continue
        total += 1
        right += reply.topic == expected
    off_topic = len(NOT_KNEE) * len(VOICES)
    print(
        f"{recognizer.name}: {right}/{total} spoken questions on topic; knee advice to off-topic speech: "
        f"{len(knee_advice_off_topic)}/{off_topic} {knee_advice_off_topic}"
    )
    # Deterministic engines on fixed audio: floors a little under the measurement. The rate itself (target
    # <= 1%) is measured on ~250 spoken questions by benchmarks/bench_speech.py.
    assert len(knee_advice_off_topic) <= 1
    assert right / total >= ACCURACY_FLOOR[recognizer.name]


ACCURACY_FLOOR = {"pocketsphinx": 0.7, "vosk": 0.7, "moonshine": 0.8}
"""Measured on these voices (deterministic engines); a floor a little under the measurement (moonshine: 15 of 18,
was 10 of 18 before the beam search and the tokenizer's own spelling of the bias words)."""


def test_answer_cli_speaks_the_reply_into_a_wav(spoken: dict[tuple[str, int], Path], tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    done = subprocess.run(
        [sys.executable, "-m", "voicecoach", "answer", "--json", "--out", str(out),
         str(spoken[("my knees are sore after running on the treadmill", 0)])],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["topic"] == "knee_pain_treadmill" and "incline" in record["say"]
    reply = read_wav(out)
    assert len(reply) / 16_000 > 4.0 and sound_spans(reply)


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt garbage", b"not a wav at all"])
def test_answer_rejects_a_broken_wav(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    done = subprocess.run([sys.executable, "-m", "voicecoach", "answer", str(bad)], capture_output=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voicecoach:") and str(bad) in lines[0]


# -- through a sound device ------------------------------------------------------------------------


class ListenProcess:
    """`voicecoach listen --json` as its own process, its JSON turns and stderr collected as they come."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voicecoach", "listen", "--json", "--verbose", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.turns: queue.Queue[dict[str, object]] = queue.Queue()
        self.stderr: list[str] = []
        self._listening = threading.Event()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.turns.put(json.loads(line))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            if "listening on" in line:
                self._listening.set()

    def wait_listening(self, timeout: float = 60) -> None:
        if not self._listening.wait(timeout):
            raise AssertionError(f"listen never started: {''.join(self.stderr)}")

    def next_turn(self, timeout: float) -> dict[str, object] | None:
        try:
            return self.turns.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


@pytest.fixture()
def listening(pulse_room: dict[str, str]) -> Iterator[ListenProcess]:
    import os

    process = ListenProcess({**os.environ, **pulse_room})
    try:
        process.wait_listening()
        time.sleep(5.0)  # PulseAudio capture starts ~2 s after the stream opens
        yield process
    finally:
        process.stop()


def play_into_room(path: Path, env: dict[str, str]) -> None:
    """Play a WAV into the room. A fresh PulseAudio playback stream drops its first ~0.5 s (measured by
    recording the monitor), so each file is led in with a second of silence."""
    import os

    import numpy as np

    padded = path.with_name(f"padded-{path.name}")
    write_wav(padded, np.concatenate([np.zeros(16_000, dtype="<i2"), read_wav(path)]))
    subprocess.run(["paplay", "--device=gym", str(padded)], env={**os.environ, **env}, check=True, timeout=60)


@pytest.mark.audio
def test_listen_answers_a_spoken_question_and_never_itself(
    listening: ListenProcess, pulse_room: dict[str, str], room_recorder: RoomRecorder, tmp_path: Path
) -> None:
    question = tmp_path / "question.wav"
    render_to_wav("hey coach, my knees are sore after running on the treadmill", question)
    # A lifter who is not heard says it again: up to three tries (wake-word reliability itself is a
    # figure of benchmarks/bench_speech.py, not something this loop test can pin down).
    turn, attempts = None, 0
    while turn is None and attempts < 3:
        attempts += 1
        mark = room_recorder.position()
        play_into_room(question, pulse_room)
        question_end = (room_recorder.position() - mark) / 16_000
        turn = listening.next_turn(timeout=20)
    print(f"answered on attempt {attempts}")
    assert turn is not None, "".join(listening.stderr)
    assert turn["topic"] == "knee_pain_treadmill" and "incline" in str(turn["say"])
    time.sleep(14)  # the reply takes ~12 s; anything it triggered would show up as another turn
    assert listening.next_turn(timeout=2) is None, "the coach reacted to its own voice"
    room = room_recorder.since(mark)
    reply_spans = [(a, b) for a, b in sound_spans(room) if a > question_end]
    assert reply_spans, f"no reply was heard in the room; listen said: {''.join(listening.stderr)}"
    assert reply_spans[-1][1] - reply_spans[0][0] > 6.0  # cause + fix, spoken
    assert listening.stop() == 0


@pytest.mark.audio
@pytest.mark.slow
def test_listen_with_moonshine_answers_a_clear_question_without_the_wake_word(
    pulse_room: dict[str, str], audio_fixture: Callable[[str], Path]
) -> None:
    import os

    from voicecoach.recognizer.moonshine_model import bundled_model_dir

    if bundled_model_dir() is None:
        pytest.skip("no Moonshine model: pip install moonshine-voice==0.1.0 onnxruntime")
    process = ListenProcess({**os.environ, **pulse_room}, "--engine", "moonshine")
    try:
        process.wait_listening()
        time.sleep(5.0)  # PulseAudio capture starts ~2 s after the stream opens
        turn, attempts = None, 0
        while turn is None and attempts < 3:  # no "coach": the clear knee question is enough
            attempts += 1
            play_into_room(audio_fixture("my knees are sore after running"), pulse_room)
            turn = process.next_turn(timeout=20)
        assert turn is not None, "".join(process.stderr)
        assert turn["engine"] == "moonshine" and turn["intent"] == "knee_pain_treadmill", turn
    finally:
        assert process.stop() == 0


@pytest.mark.audio
@pytest.mark.slow
def test_listen_with_barge_in_stops_its_answer_when_the_lifter_says_stop(
    pulse_room: dict[str, str], audio_fixture: Callable[[str], Path], room_recorder: RoomRecorder, tmp_path: Path
) -> None:
    """`voicecoach listen --engine moonshine` as a user runs it, barge-in on by default: microphone and speaker in
    one stream, the coach's voice at full level in the microphone (gym sink -> gym.monitor), and "stop" said over
    its answer ends the answer."""
    import os

    from voicecoach.audio.echo import load_canceller
    from voicecoach.recognizer.moonshine_model import bundled_model_dir

    if bundled_model_dir() is None:
        pytest.skip("no Moonshine model: pip install moonshine-voice==0.1.0 onnxruntime")
    if load_canceller("speex-residual") is None:
        pytest.skip("needs Debian package libspeexdsp1 (apt-get install libspeexdsp1)")
    stop = tmp_path / "stop.wav"
    render_to_wav("stop", stop)
    process = ListenProcess({**os.environ, **pulse_room}, "--engine", "moonshine")
    try:
        process.wait_listening()
        started = "".join(process.stderr)
        assert "echo cancellation speex-residual, microphone and speaker in one stream" in started, started
        time.sleep(5.0)  # PulseAudio capture starts ~2 s after the stream opens
        remeasured = ("the speaker ran dry", "the echo path stepped")
        barge_in, said, disturbed, rounds = None, 0, True, 0
        while barge_in is None and disturbed and rounds < 3:
            # A round: a question, then "stop" over its answer. The shared machine may starve the player or the
            # sound server change its queue's length (the echo delay stepped 61 -> 37 ms in one CI run): until the
            # delay is measured again nothing counts as the lifter (by design), and the answer may end before it
            # is. Only such a round is asked again, question and all; a "stop" missed otherwise fails at once.
            rounds += 1
            turn, attempts = None, 0
            while turn is None and attempts < 3:
                attempts += 1
                play_into_room(audio_fixture("my knees are sore after running"), pulse_room)
                turn = process.next_turn(timeout=20)
            assert turn is not None and turn["intent"] == "knee_pain_treadmill", "".join(process.stderr)
            logged = len(process.stderr)
            time.sleep(5.5)  # the answer runs ~12 s; the canceller is trusted within 5 s of the coach's voice
            play_into_room(stop, pulse_room)  # returns once the word has played
            said = room_recorder.position()
            # 1.5 s: the answer must fall silent within 0.6 s of the word (below), so a later turn fails anyway.
            barge_in = process.next_turn(timeout=1.5)
            disturbed = any(event in line for line in process.stderr[logged:] for event in remeasured)
            while barge_in is None and disturbed and process.next_turn(timeout=6) is not None:
                pass  # let the answer end, and a late "stop" go by, before the next round's question
        assert barge_in is not None and barge_in["intent"] == "stop", (barge_in, "".join(process.stderr[-20:]))
        time.sleep(1.0)
        after = sound_spans(room_recorder.since(said))
        assert not [s for s in after if s[0] > 0.6], f"the answer went on after 'stop': {after}"
    finally:
        assert process.stop() == 0
