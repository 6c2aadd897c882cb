"""The voice stage with its real parts: espeak-ng through pyttsx3, PortAudio through a PulseAudio null sink."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import RECORD_RATE, RoomRecorder, sound_spans

from voicecoach.audio.resample import resample_bytes
from voicecoach.commands import Command
from voicecoach.errors import AudioDeviceError, AudioFileError, SynthesisError
from voicecoach.text import knowledge
from voicecoach.voice import (
    MAX_RATE,
    MIN_RATE,
    Player,
    PrintedVoice,
    Pyttsx3Synthesizer,
    SpeechClip,
    SpokenVoice,
    Voice,
    VoiceSettings,
    list_voices,
    open_voice,
    render_to_wav,
    warn_no_sound,
    words_around,
)

REPLY = "Keep your knees in line with your toes and push through the whole foot."  # 14 words
TEN_WORDS = "My knee hurts on the way up from a deep squat."
ROOT = Path(__file__).resolve().parents[1]


def samples(clip: SpeechClip) -> np.ndarray:
    return np.frombuffer(clip.audio, "<i2")


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values.astype(np.float64) ** 2))) if len(values) else 0.0


@pytest.fixture(scope="module")
def synth() -> Pyttsx3Synthesizer:
    return Pyttsx3Synthesizer()


@pytest.fixture(autouse=True)
def _fresh_warning() -> None:
    warn_no_sound.reset()


# --- rendering (espeak-ng, no sound device needed) ---------------------------------------------


def test_renders_speech_length_audio(synth: Pyttsx3Synthesizer) -> None:
    clip = synth.render(TEN_WORDS, VoiceSettings())
    assert clip.rate == 22_050
    assert 1.0 < clip.seconds < 6.0
    assert rms(samples(clip)) > 500  # speech, not silence


def test_rate_changes_duration(synth: Pyttsx3Synthesizer) -> None:
    slow = synth.render(REPLY, VoiceSettings(rate=120))
    fast = synth.render(REPLY, VoiceSettings(rate=240))
    assert slow.seconds > 1.5 * fast.seconds


def test_volume_changes_level(synth: Pyttsx3Synthesizer) -> None:
    loud = rms(samples(synth.render(REPLY, VoiceSettings(volume=1.0))))
    quiet = rms(samples(synth.render(REPLY, VoiceSettings(volume=0.3))))
    assert quiet < 0.5 * loud


def test_long_reply_is_complete(synth: Pyttsx3Synthesizer) -> None:
    # pyttsx3's runAndWait returns before espeak-ng has finished: a long text must not come back cut.
    one = synth.render(REPLY, VoiceSettings())
    five = synth.render(" ".join([REPLY] * 5), VoiceSettings())
    assert five.seconds > 4.5 * one.seconds


def test_cache_renders_once(synth: Pyttsx3Synthesizer) -> None:
    before = synth.renders
    first = synth.render("Three more reps.", VoiceSettings(rate=150))
    again = synth.render("Three more reps.", VoiceSettings(rate=150))
    assert again is first and synth.renders == before + 1
    synth.render("Three more reps.", VoiceSettings(rate=175))
    assert synth.renders == before + 2


def test_cache_is_bounded() -> None:
    small = Pyttsx3Synthesizer(cache_size=2)
    for word in ("one", "two", "three"):
        small.render(word, VoiceSettings())
    small.render("one", VoiceSettings())
    assert small.renders == 4  # "one" was evicted


def test_cache_is_bounded_in_bytes_too() -> None:
    """Long answers must not pile up in memory over a day: the oldest go once the rendered audio passes the budget."""
    answer = "Your knees hurt after squats because they travel forward while your hips stay back. " * 2
    first = Pyttsx3Synthesizer().render(answer, VoiceSettings())
    small = Pyttsx3Synthesizer(cache_bytes=int(2.5 * len(first.audio)))
    for n in range(3):
        small.render(f"{n}. {answer}", VoiceSettings())
    small.render("0. " + answer, VoiceSettings())
    small.render("2. " + answer, VoiceSettings())
    assert small.renders == 4  # the first answer was evicted, the last one kept


def test_empty_text_is_an_empty_clip(synth: Pyttsx3Synthesizer) -> None:
    assert synth.render("  ", VoiceSettings()).audio == b""


def test_unknown_voice_is_a_synthesis_error_and_engine_recovers(synth: Pyttsx3Synthesizer) -> None:
    with pytest.raises(SynthesisError, match="no-such-voice"):
        synth.render("hello", VoiceSettings(voice="no-such-voice"))
    assert synth.render("hello again", VoiceSettings()).seconds > 0.3


def test_voices_listed_and_usable(synth: Pyttsx3Synthesizer) -> None:
    voices = list_voices()
    ids = {v.id for v in voices}
    assert len(voices) > 10 and any(v.endswith("en-us") for v in ids)
    us = next(v for v in voices if v.id.endswith("en-us"))
    assert synth.render("hello", VoiceSettings(voice=us.id)).seconds > 0.2


def test_render_from_threads(synth: Pyttsx3Synthesizer) -> None:
    results: dict[int, float] = {}

    def work(n: int) -> None:
        results[n] = synth.render(f"Set number {n} done.", VoiceSettings()).seconds

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(0.5 < s < 4 for s in results.values())


def test_stdout_stays_clean() -> None:
    # pyttsx3 prints "Audio saved to ..." from espeak's thread; our stdout must carry only our output.
    code = (
        "from voicecoach.voice import Pyttsx3Synthesizer, VoiceSettings\n"
        "s = Pyttsx3Synthesizer()\n"
        "for r in (150, 200): s.render('Brace your core before you descend.', VoiceSettings(rate=r))\n"
        "print('{\"ok\": true}')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"ok": true}\n'


def test_render_to_wav(tmp_path: Path) -> None:
    path = tmp_path / "reply.wav"
    clip = render_to_wav(TEN_WORDS, path, VoiceSettings(rate=150))
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22_050)
        assert wav.getnframes() == len(clip.audio) // 2 > 22_050


def test_render_to_unwritable_path_is_audio_file_error(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="cannot write"):
        render_to_wav("hello", tmp_path / "no-such-folder" / "reply.wav")


# --- settings and commands (pure logic) --------------------------------------------------------


def test_settings_are_bounded() -> None:
    slow, fast = VoiceSettings(), VoiceSettings()
    for _ in range(50):
        slow, fast = slow.slower(), fast.faster()
    assert (slow.rate, fast.rate) == (MIN_RATE, MAX_RATE)
    quiet, loud = VoiceSettings(volume=0.5), VoiceSettings(volume=0.5)
    for _ in range(10):
        quiet, loud = quiet.quieter(), loud.louder()
    assert (quiet.volume, loud.volume) == (0.1, 1.0)


def test_printed_voice_handles_commands_and_prints_only_when_asked() -> None:
    out = io.StringIO()
    voice = PrintedVoice(out=out)
    assert voice.handle(Command.SLOWER) and voice.settings.rate == 140
    assert voice.handle(Command.QUIETER) and voice.settings.volume == 0.8
    assert voice.handle(Command.STOP) and not voice.handle(Command.SKIP)
    assert voice.say("Rest thirty seconds.") is False and out.getvalue() == "Rest thirty seconds.\n"
    silent = PrintedVoice(out=None)
    silent.say("nothing printed")
    assert silent.said == ["nothing printed"]


def test_resample_keeps_duration() -> None:
    tone = (np.sin(np.arange(22_050) / 22_050 * 2 * np.pi * 200) * 8000).astype("<i2").tobytes()
    out = np.frombuffer(resample_bytes(tone, 22_050, 48_000), "<i2")
    assert len(out) == 48_000 and abs(rms(out) - rms(np.frombuffer(tone, "<i2"))) < 100


@pytest.mark.parametrize(("rate", "target"), [(22_050, 48_000), (22_050, 16_000), (48_000, 16_000), (16_000, 44_100)])
def test_resample_a_block_at_a_time_gives_the_samples_of_one_whole_interpolation(rate: int, target: int) -> None:
    from voicecoach.audio.resample import resample

    clip = np.random.default_rng(rate + target).integers(-32768, 32767, 12 * rate + 7).astype("<i2")
    whole = np.arange(int(len(clip) / rate * target)) / target
    expected = np.clip(np.round(np.interp(whole, np.arange(len(clip)) / rate, clip.astype(np.float64))), -32768, 32767)
    assert np.array_equal(resample(clip, rate, target), expected.astype("<i2"))


# --- fallback without sound --------------------------------------------------------------------


def test_missing_device_falls_back_to_printing_and_warns_once(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AudioDeviceError, match="no-such-speaker"):
        Player("no-such-speaker")
    first = open_voice("no-such-speaker")
    second = open_voice("no-such-speaker")
    assert isinstance(first, PrintedVoice) and isinstance(second, PrintedVoice)
    assert first.say("Ice the knee for ten minutes.") is False
    second.say("Then stretch.")
    captured = capsys.readouterr()
    assert captured.out == "Ice the knee for ten minutes.\nThen stretch.\n"
    assert captured.err == ""  # the library logs; only the CLI writes to the terminal
    warnings = [r for r in caplog.records if r.name == "voicecoach.voice"]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    message = warnings[0].getMessage()
    assert message.startswith("no sound output (") and "printing replies instead" in message


def test_the_cli_shows_the_no_sound_warning_once_on_stderr() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voicecoach", "ask", "--speak", "-"],
        input=b"my knees hurt after squats\nwhy\n",
        capture_output=True,
        timeout=60,
        env={**os.environ, "PULSE_SERVER": "unix:/nonexistent", "AUDIODEV": "null"},
    )
    assert done.returncode == 0, done.stderr
    warnings = done.stderr.decode().splitlines()
    assert len(warnings) == 1
    assert warnings[0].startswith("voicecoach: no sound output (") and "printing replies instead" in warnings[0]


# --- through the real device: the PulseAudio null sink -----------------------------------------


@pytest.fixture
def voice(pulse_room: dict[str, str]) -> Iterator[SpokenVoice]:
    spoken = open_voice(None, VoiceSettings(), out=None)
    assert isinstance(spoken, SpokenVoice), "the null sink should be a usable output"
    assert spoken.ready(), "the null sink never started playing in real time"
    yield spoken
    spoken.close()


def _heard(recorder: RoomRecorder, mark: int, settle: float = 0.6) -> list[tuple[float, float]]:
    time.sleep(settle)  # let the tail of the sound reach the monitor
    return sound_spans(recorder.since(mark))


@pytest.mark.audio
def test_coach_is_heard_in_the_room(voice: SpokenVoice, room_recorder: RoomRecorder) -> None:
    states: list[tuple[bool, float]] = []
    voice.add_listener(lambda on: states.append((on, time.monotonic())))
    clip = voice.render(REPLY)
    mark = room_recorder.position()
    started = time.monotonic()
    assert voice.say(REPLY) is True
    elapsed = time.monotonic() - started
    spans = _heard(room_recorder, mark)
    assert spans, "nothing reached gym.monitor"
    heard = spans[-1][1] - spans[0][0]
    # Against the clip's own sound, not its length: espeak-ng's silence around the words varies from render to
    # render (3.764 or 3.785 s for this reply, the same 3.39 s of sound), and the room hears no silence.
    own = sound_spans(np.frombuffer(clip.audio, "<i2"), rate=clip.rate)
    assert abs(heard - (own[-1][1] - own[0][0])) < 0.2, (spans, own)
    level = rms(room_recorder.since(mark))
    assert level > 300
    assert [on for on, _ in states] == [True, False]
    assert clip.seconds - 0.1 < elapsed < clip.seconds + 1.0  # say() blocks for the whole reply


@pytest.mark.audio
def test_stop_cuts_the_reply_short(voice: SpokenVoice, room_recorder: RoomRecorder) -> None:
    states: list[bool] = []
    voice.add_listener(states.append)
    long_reply = " ".join([REPLY] * 3)
    voice.render(long_reply)  # render first: measure playback only
    mark = room_recorder.position()
    assert voice.say(long_reply, wait=False) is True
    assert voice.speaking
    time.sleep(1.2)
    assert voice.handle(Command.STOP)
    assert not voice.speaking and voice.wait(1.0) is False
    spans = _heard(room_recorder, mark, settle=1.0)
    heard = spans[-1][1] - spans[0][0]
    # 1.2 s played before stop; the sound must end within ~300 ms of it (vs ~13 s uncut).
    assert 0.9 < heard < 1.2 + 0.3, spans
    assert states == [True, False]


@pytest.mark.audio
def test_louder_and_quieter_reach_the_room(voice: SpokenVoice, room_recorder: RoomRecorder) -> None:
    levels = []
    for command in (Command.LOUDER, Command.QUIETER, Command.QUIETER, Command.QUIETER):
        voice.handle(command)
        mark = room_recorder.position()
        voice.say(TEN_WORDS)
        time.sleep(0.5)
        levels.append(rms(room_recorder.since(mark)))
    assert voice.settings.volume == 0.4
    assert levels[-1] < 0.6 * levels[0], levels


@pytest.mark.audio
def test_new_reply_interrupts_the_old_one(voice: SpokenVoice) -> None:
    states: list[bool] = []
    voice.add_listener(states.append)
    voice.say(" ".join([REPLY] * 3), wait=False)
    time.sleep(0.3)
    assert voice.say("Stop.") is True
    assert states == [True, False, True, False]


@pytest.mark.audio
def test_resamples_when_device_refuses_the_rate(pulse_room: dict[str, str], synth: Pyttsx3Synthesizer) -> None:
    player = Player(None, rate=48_000)  # as with a Pi's hw: device that only takes 48 kHz
    try:
        assert player.rate == 48_000 and player.ready()
        clip = synth.render("Good.", VoiceSettings())
        started = time.monotonic()
        assert player.play(clip) is True
        assert time.monotonic() - started > clip.seconds - 0.1
    finally:
        player.close()


@pytest.mark.audio
def test_voice_protocol_is_met(voice: SpokenVoice) -> None:
    def speak(v: Voice, text: str) -> bool:
        return v.say(text)

    assert speak(voice, "Good.") is True
    assert speak(PrintedVoice(out=None), "Good.") is False


def _env_without_pulse(pulse_room: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in pulse_room}


@pytest.mark.audio
def test_listeners_bracket_the_sound(voice: SpokenVoice, record_room: Callable[[float], np.ndarray]) -> None:
    # record_room is the simple helper other tests use: it returns what the room heard meanwhile.
    heard: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: heard.append(record_room(2.5)))
    worker.start()
    on_times: list[float] = []
    voice.add_listener(lambda on: on_times.append(time.monotonic()))
    time.sleep(0.2)
    voice.say("Good set.")
    worker.join()
    assert len(on_times) == 2 and on_times[1] > on_times[0]
    assert len(heard[0]) >= 2 * RECORD_RATE and sound_spans(heard[0])


@pytest.mark.audio
def test_prepared_replies_start_without_rendering_and_follow_rate_changes(voice: SpokenVoice) -> None:
    synth = voice.synthesizer
    assert isinstance(synth, Pyttsx3Synthesizer)
    replies = [f"{topic.cause} {topic.fix}" for topic in knowledge.load().topics[:2]]
    voice.prepare(replies)
    assert voice.prepared(timeout=20)
    before = synth.renders
    voice.say(replies[0], wait=False)
    assert synth.renders == before  # played from the cache
    voice.stop()
    voice.handle(Command.SLOWER)  # a new rate: the prepared replies are rendered again, in the background
    assert voice.prepared(timeout=20) and synth.renders == before + len(replies)
    voice.handle(Command.QUIETER)  # volume is applied by the player: nothing to render again
    assert voice.prepared(timeout=20) and synth.renders == before + len(replies)


def test_words_around_places_words_by_their_share_of_the_text() -> None:
    text = "stop " + "one two three four five six seven eight nine ten " * 3 + "last"
    assert "stop" in words_around(text, 0.0, 20.0).split()
    middle = words_around(text, 10.0, 20.0).split()
    assert "stop" not in middle and "last" not in middle and 4 <= len(middle) <= 8
    assert words_around(text, 21.0, 20.0).split()[-1] == "last"  # the echo tail after the clip ended
    assert words_around("", 1.0, 2.0) == ""


@pytest.mark.audio
def test_saying_follows_the_playback_position(voice: SpokenVoice) -> None:
    text = "Stop training that leg. " + "See a physio before you load the knee again. " * 4 + "Goodbye."
    voice.say(text, wait=False)
    time.sleep(0.3)
    assert "Stop" in voice.saying.split()  # heard now: a "stop" in the echo is the coach's own
    time.sleep(5.0)
    mid = voice.saying.split()
    assert mid and "Stop" not in mid and "Goodbye." not in mid  # a lifter's "stop" now is the lifter's
    voice.stop()
    assert voice.saying == ""
