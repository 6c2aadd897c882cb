"""The CLI contract other issues rely on, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def voicecoach(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "voicecoach", *args], input=stdin, capture_output=True, timeout=60)


def test_ask_prints_the_spoken_reply() -> None:
    done = voicecoach("ask", "my knee hurts when I squat")
    assert done.returncode == 0
    assert "toes" in done.stdout.decode()


def test_ask_json_has_the_contract_fields() -> None:
    record = json.loads(voicecoach("ask", "--json", "my knees hurt after the treadmill").stdout)
    assert record["intent"] == record["topic"] == "knee_pain_treadmill"
    assert 0.0 <= record["confidence"] <= 1.0 and "incline" in record["say"]


def test_batch_lines_are_independent_and_survive_bad_input() -> None:
    lines = [
        b"my knees hurt after squats",
        b"why",
        b"",
        b"   ",
        b"[unk]",
        b"\xff\xfe\x00bad",
        b"x" * 100_000,
        b"\x1b[31mknee\x07",
        b"my knees hurt after the treadmill",
    ]
    done = voicecoach("ask", "--json", "-", stdin=b"\n".join(lines) + b"\n")
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == len(lines)
    assert records[0]["topic"] == "knee_pain_squat"
    assert records[1]["topic"] is None  # independent: "why" has no context
    assert all(r["intent"] == "unknown" for r in records[2:6])
    assert records[-1]["topic"] == "knee_pain_treadmill"


def test_conversation_carries_context() -> None:
    done = voicecoach("ask", "--json", "--conversation", "-", stdin=b"my knees hurt after squats\nwhy\n")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["topic"] for r in records] == ["knee_pain_squat", "knee_pain_squat"]
    assert records[1]["intent"] == "why"


def test_topics_lists_every_topic() -> None:
    out = voicecoach("topics").stdout.decode()
    for topic in [
        "knee_pain_squat",
        "knee_pain_leg_extension",
        "knee_pain_treadmill",
        "knee_pain_warmup",
        "knee_strengthen",
        "knee_pain_red_flag",
    ]:
        assert topic in out


def test_kb_check_ok_and_broken(tmp_path: Path) -> None:
    assert voicecoach("kb", "check").returncode == 0
    broken = tmp_path / "broken.txt"
    broken.write_text("[topic knee_pain_squat]\ntitle: x\ncolour: red\n")
    done = voicecoach("kb", "check", str(broken))
    assert done.returncode == 2
    assert (
        done.stderr.decode().strip()
        == f"voicecoach: {broken}:3: unknown field 'colour' in [topic]; allowed: title, cause, fix, more, cue, say"
    )


@pytest.mark.parametrize("args", [("ask", "--kb", "/nonexistent", "hi"), ("topics", "--kb", "/nonexistent")])
def test_bad_kb_path_is_one_line_exit_2(args: tuple[str, ...]) -> None:
    done = voicecoach(*args)
    assert done.returncode == 2
    assert len(done.stderr.decode().strip().splitlines()) == 1 and b"Traceback" not in done.stderr


def test_kb_swaps_in_another_knowledge_base(tmp_path: Path) -> None:
    kb = tmp_path / "kb.txt"
    kb.write_text(
        "[topic knee_pain_squat]\ntitle: Squats\ncause: Custom cause.\nfix: Custom fix.\nmore: More.\n"
        "cue: One cue\ncue: Two cue\nsay: my knees hurt after squats\nsay: squats hurt\nsay: squat pain knee\n"
    )
    record = json.loads(voicecoach("ask", "--json", "--kb", str(kb), "my knees hurt after squats").stdout)
    assert record["say"] == "Custom cause. Custom fix."


@pytest.mark.parametrize("command", [["listen"], ["answer", "question.wav"], ["warmup", "--dry-run"]])
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--volume", "0.05"], "--volume must be 0.1-1.0, got 0.05"),
        (["--volume", "0"], "--volume must be 0.1-1.0, got 0"),
        (["--volume", "1.5"], "--volume must be 0.1-1.0, got 1.5"),
        (["--volume", "nan"], "--volume 'nan': not a finite number"),
        (["--rate", "5"], "--rate must be 80-320 words per minute, got 5"),
        (["--rate", "fast"], "--rate 'fast': not a whole number"),
    ],
)
def test_voice_options_are_checked_alike_by_every_command(command: list[str], option: list[str], message: str) -> None:
    done = voicecoach(*command, *option)
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"voicecoach: {message}"


@pytest.mark.parametrize("command", ["listen", "answer", "warmup"])
def test_voice_options_are_spelled_alike(command: str) -> None:
    from voicecoach.voice.base import VoiceSettings

    text = " ".join(voicecoach(command, "--help").stdout.decode().split())
    assert "--output DEVICE" in text and "--device" not in text
    assert f"(default {VoiceSettings.rate})" in text and "0.1-1.0 (default 1.0)" in text
