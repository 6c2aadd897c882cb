"""Parts 5 and 6 in a private PulseAudio room: `voicecoach listen --json` as a separate process.

latency: end of a played "hey coach, ..." question to the first reply sound (shared tools/reply_gaps.py);
idle: CPU and peak memory of the listen process in silence and in gym noise.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from speech.common import PREFIX, REPLY_GAPS, REPO, VOICES, Speaker, Summary, header


def _tests_module(name: str) -> ModuleType:
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module(name)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid: int, key: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return "?"


def megabytes(value: str) -> str:
    """ "87548 kB" -> "85.5 MB"."""
    number, _, unit = value.partition(" ")
    return f"{int(number) / 1024:.1f} MB" if unit == "kB" and number.isdigit() else value


@contextlib.contextmanager
def pulse_room() -> Iterator[dict[str, str]]:
    """The tests' private PulseAudio room; yields the full environment for subprocesses."""
    with _tests_module("conftest").pulse_room_running() as env:
        yield {**os.environ, **env}


def wait_quiet(recorder: Any, mark: int, *, quiet: float = 1.5, timeout: float = 30.0) -> None:
    """Until the room has been silent for `quiet` seconds (the reply ended), or `timeout`."""
    conftest = _tests_module("conftest")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        room = recorder.since(mark)
        seconds = len(room) / 16_000
        spans = conftest.sound_spans(room)
        if seconds > quiet and (not spans or seconds - spans[-1][1] >= quiet):
            return
        time.sleep(0.25)


def run_latency(
    speaker: Speaker,
    questions: list[tuple[str, str]],
    workdir: Path,
    summary: Summary,
    engine: str,
    *,
    chosen: bool = False,
) -> None:
    """`chosen`: run `voicecoach listen --engine ENGINE` (with moonshine, barge-in on: one duplex stream)."""
    header("5. end of question to first reply sound (voicecoach listen --json in a PulseAudio room)")
    conftest = _tests_module("conftest")
    e2e = _tests_module("test_end_to_end")
    from voicecoach.audio.chunks import write_wav

    files = [speaker.speak(PREFIX + text, VOICES[0]) for text, _ in questions]
    turns: list[dict[str, Any] | None] = []
    barge_ins: list[dict[str, Any]] = []
    stray: list[dict[str, Any]] = []
    """Turns after a question's own turn: the coach answering itself or a question split in two."""
    with pulse_room() as env:
        recorder = conftest.RoomRecorder()
        recorder.wait_until_live()
        process = e2e.ListenProcess(env, *(["--engine", engine] if chosen else []))
        try:
            process.wait_listening()
            print("".join(line for line in process.stderr if "barge-in" in line), end="")
            time.sleep(5.0)  # PulseAudio capture starts ~2 s after the stream opens
            start = recorder.position()
            for path in files:
                mark = recorder.position()
                e2e.play_into_room(path, env)
                turn = process.next_turn(timeout=20)
                while turn is not None and turn.get("start") is None:  # a barge-in ("stop" heard mid-reply)
                    barge_ins.append(turn)
                    turn = process.next_turn(timeout=20)
                turns.append(turn)
                wait_quiet(recorder, mark)
                while (extra := process.next_turn(timeout=0.5)) is not None:
                    (barge_ins if extra.get("start") is None else stray).append(extra)
            time.sleep(1.0)
            room = recorder.since(start)
        finally:
            code = process.stop()
            recorder.close()
    room_path = workdir / "room-latency.wav"
    write_wav(room_path, room)
    done = subprocess.run(
        [sys.executable, str(REPLY_GAPS), str(room_path), *map(str, files)], capture_output=True, text=True, timeout=120
    )
    gaps: list[int | None] = json.loads(done.stdout.strip().splitlines()[-1])["gaps_ms"] if done.returncode == 0 else []
    if done.returncode != 0:
        print(f"reply_gaps.py failed: {done.stderr.strip()[-300:]}")
    endpoint_ms = endpoint_silence_ms()
    for (text, expected), gap, turn in zip(questions, gaps + [None] * len(questions), turns, strict=False):
        got = f"{turn['topic'] or turn['intent']}, heard {turn['heard']!r}" if turn else "no turn"
        beyond = f", beyond endpoint {gap - endpoint_ms:.0f} ms" if gap is not None else ""
        print(f"  {PREFIX + text!r}: gap {gap if gap is not None else 'none'} ms{beyond}  [{got}; expected {expected}]")
    measured = [g for g in gaps if g is not None]
    if measured:
        mean, worst = sum(measured) / len(measured), max(measured)
        print(
            f"{engine}: gaps {measured} ms: mean {mean:.0f} ms, max {worst} ms; endpointer closing silence "
            f"{endpoint_ms:.0f} ms -> beyond endpoint mean {mean - endpoint_ms:.0f} ms, "
            f"max {worst - endpoint_ms:.0f} ms "
            f"({len(measured)}/{len(files)} replies heard; listen exit code {code})"
        )
        summary.add("latency: end of question -> reply, mean ms", engine, f"{mean:.0f}")
        summary.add("latency: beyond endpoint, mean ms", engine, f"{mean - endpoint_ms:.0f}")
    else:
        print(f"{engine}: no reply heard in the room; listen stderr:\n{''.join(process.stderr)[-1500:]}")
        summary.add("latency: end of question -> reply, mean ms", engine, "no reply")
    if barge_ins or stray:
        print(
            f"  barge-ins while the coach spoke (nobody said stop): {[t['heard'] for t in barge_ins]}; "
            f"extra turns: {[t['heard'] for t in stray]}"
        )
    summary.add("latency: self barge-ins / extra turns", engine, f"{len(barge_ins)} / {len(stray)}")
    right = sum(1 for (_, expected), t in zip(questions, turns, strict=False) if t and t.get("topic") == expected)
    summary.add("latency: right topic in the room", engine, f"{right}/{len(questions)}")


def endpoint_silence_ms() -> float:
    """Silence the PocketSphinx engine's endpointer needs to close an utterance (voicecoach.recognizer.endpoint)."""
    from voicecoach.recognizer import endpoint

    return 1000 * endpoint.CLOSING_FRAMES * endpoint.FRAME_SECONDS


def run_idle(
    noise: Path, seconds: float, workdir: Path, summary: Summary, engine: str, *, chosen: bool = False
) -> None:
    """`chosen`: run `voicecoach listen --engine ENGINE` (else listen picks its own, which `engine` names)."""
    header("6. CPU and memory of `voicecoach listen` while idle-listening")
    e2e = _tests_module("test_end_to_end")
    from voicecoach.audio.chunks import read_wav, write_wav

    clip = workdir / f"noise-{seconds:g}s.wav"
    write_wav(clip, read_wav(noise)[: int((seconds + 2) * 16_000)])
    with pulse_room() as env:
        process = e2e.ListenProcess(env, *(["--engine", engine] if chosen else []))
        pid = process.proc.pid
        try:
            process.wait_listening()
            time.sleep(5.0)  # start-up (model load, output warm-up, capture start) is not idle time
            figures = {}
            for label, player in (("silence", None), ("gym noise", clip)):
                playing = (
                    subprocess.Popen(["paplay", "--device=gym", str(player)], env=env) if player is not None else None
                )
                time.sleep(0.5)
                cpu0, wall0 = cpu_seconds(pid), time.monotonic()
                time.sleep(seconds)
                cpu1, wall1 = cpu_seconds(pid), time.monotonic()
                if playing is not None:
                    playing.wait(timeout=seconds + 30)
                figures[label] = 100 * (cpu1 - cpu0) / (wall1 - wall0)
            hwm, rss = megabytes(proc_status(pid, "VmHWM")), megabytes(proc_status(pid, "VmRSS"))
            time.sleep(2.0)
        finally:
            code = process.stop()
    turns = []
    while (turn := process.next_turn(timeout=0.1)) is not None:
        turns.append(turn)
    ignored = [line.strip() for line in process.stderr if line.startswith("voicecoach: ignored")]
    print(
        f"{engine}: CPU over {seconds:.0f} s: silence {figures['silence']:.1f}% of one core, gym noise "
        f"{figures['gym noise']:.1f}%; peak memory VmHWM {hwm} (VmRSS {rss}); turns during noise {len(turns)}, "
        f"ignored utterances {len(ignored)}; exit code {code}"
    )
    for turn in turns[:5]:
        print(f"    turn from noise: {turn}")
    for line in ignored[:5]:
        print(f"    {line}")
    summary.add("idle: CPU % of one core, silence", engine, f"{figures['silence']:.1f}%")
    summary.add("idle: CPU % of one core, gym noise", engine, f"{figures['gym noise']:.1f}%")
    summary.add("idle: peak memory (VmHWM)", engine, hwm)
