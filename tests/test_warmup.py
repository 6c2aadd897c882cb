"""The warm-up: timeline, scheduler on a fake clock, commands from other threads, CLI, and real audio."""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import subprocess
import sys
import termios
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

from voicecoach.cli import warmup as cli_warmup
from voicecoach.commands import Command, command_from_key
from voicecoach.errors import UsageError
from voicecoach.text.spoken import speech_seconds
from voicecoach.voice.base import SpeechClip, VoiceSettings
from voicecoach.warmup.plan import WarmupPlan, parse_tempo
from voicecoach.warmup.runner import Started, WarmupRunner, render_warmup_wav
from voicecoach.warmup.timeline import WarmupEvent, build_timeline, rep_words

ROOT = Path(__file__).resolve().parent.parent
ONSETS = ROOT.parent / "shared" / "tools" / "warmup_onsets.py"
"""The shared timing tool, beside the checkout (CI lays `../shared` there)."""


def _onsets() -> Path:
    if not ONSETS.is_file():
        pytest.skip(f"needs ../shared/tools/warmup_onsets.py beside the checkout (looked at {ONSETS})")
    return ONSETS


class RoomRecorderLike(Protocol):
    """What this module uses of conftest's `room_recorder`."""

    def position(self) -> int: ...

    def since(self, mark: int) -> Any: ...


CUES = ("Knees track over toes", "Slow and controlled")


class FakeClock:
    """Time moves only when the runner waits (or a play takes time); actions fire at set times."""

    def __init__(self) -> None:
        self.now = 0.0
        self.actions: list[tuple[float, Callable[[], object]]] = []

    def at(self, t: float, action: Callable[[], object]) -> None:
        self.actions.append((t, action))
        self.actions.sort(key=lambda a: a[0])

    def monotonic(self) -> float:
        return self.now

    def wait(self, deadline: float, interrupt: threading.Event) -> bool:
        while not interrupt.is_set():
            if self.actions and self.actions[0][0] <= deadline:
                t, action = self.actions.pop(0)
                self.now = max(self.now, t)
                action()
                continue
            assert deadline != math.inf, "the runner would wait forever"
            self.now = max(self.now, deadline)
            return False
        return True


class FakeVoice:
    def __init__(self, clock: FakeClock | None = None, cost: Callable[[str], float] = lambda _: 0.0) -> None:
        self.settings = VoiceSettings()
        self.clock = clock
        self.cost = cost
        self.played: list[tuple[float, str]] = []
        self.stops = 0
        self.lock = threading.Lock()

    def play(self, clip: SpeechClip, *, wait: bool = True) -> bool:
        with self.lock:
            now = self.clock.now if self.clock else time.monotonic()
            self.played.append((now, clip.text))
            if self.clock:
                self.clock.now += self.cost(clip.text)  # a slow audio back end
        return True

    def say(self, text: str, *, wait: bool = True) -> bool:
        return self.play(SpeechClip(text, b"", 16000), wait=wait)

    def stop(self) -> None:
        self.stops += 1

    @property
    def speaking(self) -> bool:
        return False

    def add_listener(self, listener: Callable[[bool], None]) -> None:
        pass


class FakeSynth:
    """Clips as long as the plan's own estimate, of a loud square-ish signal."""

    def __init__(self) -> None:
        self.rendered: list[str] = []

    def render(self, text: str, settings: VoiceSettings) -> SpeechClip:
        self.rendered.append(text)
        samples = int(speech_seconds(text, settings.rate) * 16000)
        return SpeechClip(text, (b"\x10\x27\xf0\xd8" * samples)[: samples * 2], 16000)


def plan(**options: object) -> WarmupPlan:
    defaults: dict[str, object] = {"sets": 2, "reps": 3, "tempo": "3-1-1", "rest": 20.0}
    return WarmupPlan.make("squats", **{**defaults, **options})  # type: ignore[arg-type]


def runner_on(clock: FakeClock, p: WarmupPlan | None = None, **voice: object) -> tuple[WarmupRunner, FakeVoice]:
    v = FakeVoice(clock, **voice)  # type: ignore[arg-type]
    return WarmupRunner(p or plan(), v, FakeSynth(), cues=CUES, clock=clock), v


def kinds(started: list[Started], kind: str) -> list[WarmupEvent]:
    return [s.event for s in started if s.event.kind == kind]


# --- timeline ------------------------------------------------------------------------------------


def test_counts_per_rep_follow_the_tempo() -> None:
    words, length = rep_words(parse_tempo("3-1-1"), 1)
    assert [w for _, w in words] == ["down", "two", "three", "hold", "up", "one"]
    assert [o for o, _ in words] == [0, 1, 2, 3, 4, 5]
    assert length == 6
    assert [w for _, w in rep_words(parse_tempo("2-0-2"), 7)[0]] == ["down", "two", "up", "two", "seven"]


def test_timeline_has_every_count_announcement_rest_cue_and_summary() -> None:
    timeline = build_timeline(plan(), CUES)
    counts = [e for e in timeline if e.kind == "count"]
    assert len(counts) == 2 * 3 * 6  # sets * reps * (3 + hold + up + rep number)
    assert {(e.set, e.rep) for e in counts} == {(s, r) for s in (1, 2) for r in (1, 2, 3)}
    announces = [e.say for e in timeline if e.kind == "announce"]
    assert announces == [
        "Set one of two, bodyweight squats, slow and controlled.",
        "Set two of two, bodyweight squats, slow and controlled.",
    ]
    rest = [e.say for e in timeline if e.kind == "rest"]
    assert rest[0] == "Rest, twenty seconds." and rest[-5:] == ["five", "four", "three", "two", "one"]
    assert "ten seconds" in rest and all(e.set == 1 for e in timeline if e.kind == "rest")
    assert [e.say for e in timeline if e.kind == "cue"] == list(CUES)
    assert timeline[-1].kind == "summary" and timeline[0].t == 0
    assert {e.kind for e in timeline} == {"announce", "count", "cue", "rest", "summary"}


def test_default_routines_follow_the_article() -> None:
    squats, legs = WarmupPlan.make("squats"), WarmupPlan.make("leg-extensions")
    assert squats.sets >= 4 and 3 <= legs.sets <= 4
    assert squats.tempo.eccentric >= 2  # slow and controlled
    # Without knowledge-base cues the article's own cues are used.
    assert any(e.kind == "cue" for e in build_timeline(legs))


@pytest.mark.parametrize("rate", [80, 165, 320])
@pytest.mark.parametrize("options", [{}, {"tempo": "1-0-1", "rest": 3.0}, {"reps": 12, "tempo": "2.5-0.5-1.5"}])
def test_each_phrase_fits_before_the_next_slot(rate: int, options: dict[str, object]) -> None:
    timeline = build_timeline(plan(rate=rate, **options), CUES)
    for event, after in itertools.pairwise(timeline):
        assert event.t + speech_seconds(event.say, rate) < after.t, (event, after)


def test_no_timing_drift_in_the_plan_itself() -> None:
    timeline = build_timeline(plan(sets=4, reps=10), CUES)
    downs = [e.t for e in timeline if e.say == "down" and e.set == 1]
    assert all(abs((b - a) - 6.0) < 1e-6 for a, b in itertools.pairwise(downs) if b - a < 7)


@pytest.mark.parametrize("text", ["3-1-1", "3/1/1", "2.5 - 0 - 1"])
def test_parse_tempo_accepts(text: str) -> None:
    assert parse_tempo(text).pause in (0, 1)


@pytest.mark.parametrize("text", ["", "abc", "3-1", "3-1-1-1", "21-1-1", "3-21-1", "0-1-1", "3--1-1", "nan-1-1"])
def test_parse_tempo_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--tempo"):
        parse_tempo(text)


# --- the scheduler on a fake clock ---------------------------------------------------------------


def test_plays_every_event_on_its_slot() -> None:
    clock = FakeClock()
    runner, voice = runner_on(clock)
    started = runner.run()
    assert [s.event for s in started] == runner.events == build_timeline(plan(), CUES)
    assert all(s.late == 0 and s.due == s.event.t for s in started)
    assert [text for _, text in voice.played] == [e.say for e in runner.events]


def test_slow_playback_does_not_accumulate() -> None:
    clock = FakeClock()
    # Every play blocks 0.3 s and one announcement blocks 5 s: later events still start on their slots.
    runner, _ = runner_on(clock, cost=lambda text: 5.0 if text.startswith("Set one") else 0.3)
    started = runner.run()
    assert max(s.late for s in started) > 0
    assert sum(s.late > 0 for s in started) <= 2
    assert started[-1].late == 0 and started[-1].actual == started[-1].event.t


def test_pause_shifts_the_rest_of_the_plan() -> None:
    clock = FakeClock()
    runner, voice = runner_on(clock)
    clock.at(10.0, lambda: runner.handle(Command.PAUSE))
    clock.at(15.0, lambda: runner.handle(Command.RESUME))
    started = runner.run()
    assert not [s for s in started if 10.0 < s.actual < 15.0]
    for s in started:
        assert s.due == (s.event.t if s.event.t < 10.0 else s.event.t + 5.0)
        assert s.late == 0
    assert voice.stops == 1  # pause cuts the phrase that was playing


def test_pause_while_paused_holds_and_resume_needs_a_pause() -> None:
    # A spoken "pause" heard twice (its tail decoded again after the first was acted on) toggled the count back
    # on, and the lifter's "resume" then had nothing to act on (echo room, espeak-ng, 2 of 12 pauses a run).
    clock = FakeClock()
    runner, _ = runner_on(clock)
    results: list[bool] = []
    clock.at(1.0, lambda: results.append(runner.handle(Command.RESUME)))
    clock.at(5.0, lambda: results.append(runner.handle(Command.PAUSE)))
    clock.at(5.4, lambda: results.append(runner.handle(Command.PAUSE)))
    clock.at(7.0, lambda: results.append(runner.handle(Command.RESUME)))
    started = runner.run()
    assert results == [False, True, False, True]
    assert started[-1].due == started[-1].event.t + 2.0


def test_space_toggles_pause_and_resume() -> None:
    assert command_from_key(" ") is Command.PAUSE
    assert command_from_key(" ", paused=True) is Command.RESUME
    assert command_from_key("p", paused=True) is Command.PAUSE


def test_skip_jumps_to_the_next_set_announcement_now() -> None:
    clock = FakeClock()
    runner, voice = runner_on(clock)
    clock.at(8.0, lambda: runner.handle(Command.SKIP))
    started = runner.run()
    after = [s for s in started if s.actual >= 8.0]
    assert after[0].event.kind == "announce" and after[0].event.set == 2 and after[0].actual == 8.0
    assert not kinds(started, "rest")  # the rest after set one was skipped with it
    assert voice.stops == 1


def test_skip_in_the_rest_and_in_the_last_set() -> None:
    clock = FakeClock()
    runner, _ = runner_on(clock)
    rest_start = next(e.t for e in runner.events if e.kind == "rest")
    clock.at(rest_start + 2.0, lambda: runner.handle(Command.SKIP))
    started = runner.run()
    nxt = next(s for s in started if s.actual >= rest_start + 2.0 and s.event.kind != "rest")
    assert nxt.event.kind == "announce" and nxt.event.set == 2 and nxt.actual == rest_start + 2.0
    # In the last set a skip ends with the summary.
    clock2 = FakeClock()
    runner2, _ = runner_on(clock2, plan(sets=1))
    clock2.at(6.0, lambda: runner2.handle(Command.SKIP))
    started2 = runner2.run()
    assert started2[-1].event.kind == "summary" and started2[-1].actual == 6.0
    assert not [s for s in started2 if s.event.kind == "count" and s.actual > 6.0]


def test_two_skips_skip_two_sets() -> None:
    clock = FakeClock()
    runner, _ = runner_on(clock, plan(sets=3))
    clock.at(8.0, lambda: runner.handle(Command.SKIP))
    clock.at(8.0, lambda: runner.handle(Command.SKIP))
    started = runner.run()
    assert [s.event.set for s in kinds_started(started, "announce")] == [1, 3]


def kinds_started(started: list[Started], kind: str) -> list[Started]:
    return [s for s in started if s.event.kind == kind]


def test_stop_ends_at_once_and_later_commands_do_not_apply() -> None:
    clock = FakeClock()
    runner, voice = runner_on(clock)
    clock.at(8.0, lambda: runner.handle(Command.STOP))
    started = runner.run()
    assert started[-1].actual < 8.0 and clock.now == 8.0
    assert voice.stops == 1
    assert runner.handle(Command.RESUME) is False and runner.handle(Command.SKIP) is False


def test_repeat_says_the_last_announcement_or_cue_again() -> None:
    clock = FakeClock()
    runner, voice = runner_on(clock)
    results: list[bool] = []
    clock.at(-1.0, lambda: results.append(runner.handle(Command.REPEAT)))  # nothing said yet
    clock.at(6.5, lambda: results.append(runner.handle(Command.REPEAT)))
    runner.run()
    assert results == [False, True]
    texts = [text for t, text in voice.played if t == 6.5]
    assert texts == ["Set one of two, bodyweight squats, slow and controlled."]


def test_tempo_change_replans_from_now() -> None:
    clock = FakeClock()
    runner, _ = runner_on(clock, plan(sets=1, reps=5))  # the cue comes after rep two
    first_down = next(e.t for e in runner.events if e.say == "down")
    change_at = first_down + 1.5  # mid-way through rep one
    clock.at(change_at, lambda: runner.handle(Command.SLOWER))
    started = runner.run()
    downs = [s.actual for s in started if s.event.say == "down"]
    assert downs[1] - downs[0] == pytest.approx(6.0)  # rep one finishes at the old tempo
    # Then every rep is slower.
    assert downs[4] - downs[3] == pytest.approx(downs[3] - downs[2]) and downs[3] - downs[2] > 6.5
    assert all(s.late == 0 for s in started)
    assert runner.plan.tempo == parse_tempo("3-1-1").scaled(1.25)
    # Nothing was re-planned into the past.
    assert all(s.due >= change_at for s in started if s.event.rep and s.event.rep > 1)


def test_faster_stops_at_the_fastest_tempo() -> None:
    clock = FakeClock()
    runner, _ = runner_on(clock, plan(sets=1, reps=2, tempo="1-0-1"))
    results: list[bool] = []
    clock.at(5.0, lambda: results.append(runner.handle(Command.FASTER)))
    clock.at(5.5, lambda: results.append(runner.handle(Command.SLOWER)))
    runner.run()
    assert results == [False, True]


def test_unrelated_commands_do_not_apply() -> None:
    runner, _ = runner_on(FakeClock())
    assert runner.handle(Command.LOUDER) is False and runner.handle(Command.YES) is False


def test_only_prepared_clips_are_rendered_during_the_run() -> None:
    clock = FakeClock()
    runner, _ = runner_on(clock, plan(sets=2, reps=3))
    runner.prepare()
    assert isinstance(runner.synth, FakeSynth)
    before = len(runner.synth.rendered)
    clock.at(6.0, lambda: runner.handle(Command.SLOWER))
    clock.at(30.0, lambda: runner.handle(Command.SLOWER))
    runner.run()
    assert len(runner.synth.rendered) == before


class ScaledClock:
    """Real time, 40 times faster: real threads, real races, a short test."""

    SCALE = 40.0

    def monotonic(self) -> float:
        return time.monotonic() * self.SCALE

    def wait(self, deadline: float, interrupt: threading.Event) -> bool:
        left = (deadline - self.monotonic()) / self.SCALE
        return interrupt.wait(min(left, 5.0)) if left > 0 else interrupt.is_set()


def test_handle_is_thread_safe() -> None:
    voice = FakeVoice()
    runner = WarmupRunner(plan(sets=3, reps=4), voice, FakeSynth(), cues=CUES, clock=ScaledClock())
    errors: list[BaseException] = []
    commands = [Command.PAUSE, Command.RESUME, Command.SLOWER, Command.FASTER, Command.REPEAT, Command.SKIP]

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(300):
                runner.handle(rng.choice(commands))
                time.sleep(rng.uniform(0, 0.002))
            runner.handle(Command.RESUME)
        except BaseException as err:  # reported by the test thread below
            errors.append(err)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    done = threading.Thread(target=runner.run)
    done.start()
    for thread in threads:
        thread.join()
    runner.handle(Command.STOP)
    done.join(timeout=10)
    assert not done.is_alive() and not errors
    actual = [s.actual for s in runner.started]
    assert actual == sorted(actual)
    assert all(s.event in runner.events for s in runner.started if s.event.kind != "count")


# --- WAV rendering ------------------------------------------------------------------------------


def test_render_wav_places_each_clip_at_its_time(tmp_path: Path) -> None:
    timeline = [WarmupEvent(0.0, "down", "count", 1, 1), WarmupEvent(1.0, "up", "count", 1, 1)]
    path = tmp_path / "w.wav"
    issues = render_warmup_wav(timeline, FakeSynth(), VoiceSettings(), path)
    assert issues == []
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 16000
        audio = wav.readframes(wav.getnframes())
    samples = memoryview(audio).cast("h")
    assert samples[0] != 0 and samples[15999] == 0 and samples[16000] != 0


def test_render_wav_reports_overlaps(tmp_path: Path) -> None:
    timeline = [WarmupEvent(0.0, "a long sentence said much too late", "cue", 1), WarmupEvent(0.5, "up", "count", 1)]
    issues = render_warmup_wav(timeline, FakeSynth(), VoiceSettings(), tmp_path / "w.wav")
    assert len(issues) == 1 and "into 'up'" in issues[0]


# --- keyboard -----------------------------------------------------------------------------------


def test_keys_become_commands_and_the_terminal_is_restored() -> None:
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "r", closefd=False) as stream:
            before = termios.tcgetattr(slave)
            got: list[Command] = []
            seen = threading.Event()

            def handle(command: Command) -> bool:
                got.append(command)
                if len(got) == 3:
                    seen.set()
                return True

            with cli_warmup.read_keys(handle, stream):
                assert termios.tcgetattr(slave) != before  # cbreak while running
                os.write(master, b"pxs+")
                assert seen.wait(2.0)
            assert termios.tcgetattr(slave) == before
            assert got == [Command.PAUSE, Command.SKIP, Command.FASTER]
            with pytest.raises(RuntimeError), cli_warmup.read_keys(handle, stream):
                raise RuntimeError("boom")
            assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


# --- CLI ----------------------------------------------------------------------------------------

CLI = [sys.executable, "-m", "voicecoach"]


def voicecoach(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_dry_run_json_is_one_event_per_line() -> None:
    result = voicecoach("warmup", "--dry-run", "--json", stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert all({"t", "say", "kind", "set"} <= e.keys() for e in events)
    assert sum(e["kind"] == "announce" for e in events) == 4
    assert sum(e["kind"] == "count" for e in events) == 4 * 10 * 6
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)


def test_dry_run_text_and_options() -> None:
    result = voicecoach(*"warmup --dry-run --exercise leg-extensions --sets 2 --reps 3 --tempo 2-0-2 --rest 15".split())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "[   0.0s] Set one of two, light leg extensions, smooth and controlled."
    assert sum("Set " in line for line in lines) == 2


def test_run_directly_through_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli_warmup.register(parser.add_subparsers())
    args = parser.parse_args(["warmup", "--dry-run", "--sets", "1", "--reps", "2"])
    assert args.func(args) == 0
    assert "Warm-up done" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.parametrize(
    "args",
    [
        ["--exercise", "bench-press"],
        ["--sets", "0"],
        ["--sets", "-2"],
        ["--sets", "two"],
        ["--sets", "500"],
        ["--reps", "0"],
        ["--reps", "-1"],
        ["--tempo", "30-1-1"],
        ["--tempo", "slow"],
        ["--rest", "-5"],
        ["--rest", "100000"],
        ["--rest", "inf"],
        ["--rate", "5"],
        ["--volume", "3"],
        ["--out", "/nonexistent-folder/warmup.wav"],
        ["--out", "/"],
        ["--json"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str]) -> None:
    result = voicecoach("warmup", "--dry-run" if args != ["--json"] else "--sets=1", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("voicecoach: ") and "Traceback" not in result.stderr


@pytest.mark.slow
def test_real_run_without_a_terminal_prints_each_event(tmp_path: Path) -> None:
    # No sound card here: the voice falls back to printing, and the runner keeps real time.
    start = time.monotonic()
    options = "warmup --sets 1 --reps 1 --tempo 1-0-1 --output no-such-device".split()
    result = voicecoach(*options, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("voicecoach: no sound output (") == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("Set one of one, bodyweight squats, slow and controlled.") and "down" in lines[2]
    plan_end = build_timeline(WarmupPlan.make(sets=1, reps=1, tempo="1-0-1"))[-1].t
    assert time.monotonic() - start >= plan_end


# --- real parts: pyttsx3/espeak-ng audio checked by the outside timing tool --------------------


def test_rendered_routine_is_heard_on_plan(tmp_path: Path) -> None:
    pytest.importorskip("pyttsx3", reason="pyttsx3 (the speech extra) is not installed")
    wav, plan_file = tmp_path / "warmup.wav", tmp_path / "plan.jsonl"
    options = ["warmup", "--sets", "1", "--reps", "2", "--rest", "0"]
    rendered = voicecoach(*options, "--out", str(wav))
    assert rendered.returncode == 0, rendered.stderr
    assert "overlap" not in rendered.stderr
    planned = voicecoach(*options, "--dry-run", "--json")
    plan_file.write_text(planned.stdout)
    checked = subprocess.run([sys.executable, str(_onsets()), str(wav), str(plan_file)], capture_output=True, text=True)
    report = json.loads(checked.stdout)
    assert report["missing"] == 0 and report["events"] == len(planned.stdout.splitlines()), report
    assert report["worst_ms"] <= 50 and abs(report["end_drift_ms"]) <= 50, report


@pytest.mark.audio
@pytest.mark.slow
def test_live_warmup_is_heard_on_plan(
    tmp_path: Path, pulse_room: dict[str, str], room_recorder: RoomRecorderLike
) -> None:
    """The whole live path: keys off (no TTY), real pyttsx3 clips, PortAudio into the null sink, a room recording."""
    from voicecoach.audio.chunks import write_wav

    options = ["warmup", "--sets", "1", "--reps", "2", "--rest", "0"]
    mark = room_recorder.position()
    ran = voicecoach(*options, env={**os.environ, **pulse_room}, stdin=subprocess.DEVNULL)
    assert ran.returncode == 0 and "no sound output" not in ran.stderr, ran.stderr
    time.sleep(0.5)  # the recorder's last blocks
    wav, plan_file = tmp_path / "room.wav", tmp_path / "plan.jsonl"
    write_wav(wav, room_recorder.since(mark))
    plan_file.write_text(voicecoach(*options, "--dry-run", "--json").stdout)
    checked = subprocess.run([sys.executable, str(_onsets()), str(wav), str(plan_file)], capture_output=True, text=True)
    report = json.loads(checked.stdout)
    assert report["missing"] == 0, report
    assert report["worst_ms"] <= 50 and abs(report["end_drift_ms"]) <= 50, report
