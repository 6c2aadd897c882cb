"""The turn log: appending, rotation, torn lines, grouping what went unanswered, and `voicecoach log`."""

from __future__ import annotations

import argparse
import json
import threading
from datetime import datetime
from pathlib import Path

import pytest

from voicecoach.app.turnlog import (
    HEARD_MAX_CHARS,
    LoggedTurn,
    TurnLog,
    TurnLogError,
    TurnRecorder,
    default_key,
    open_turn_log,
)
from voicecoach.cli import log as log_cmd


def turn(heard: str, *, answered: bool = True, intent: str = "knee_pain_squat", minute: int = 0) -> LoggedTurn:
    return LoggedTurn(
        time=f"2026-11-29T14:{minute:02d}:05+01:00",
        heard=heard,
        intent=intent if answered else "unknown",
        confidence=0.82 if answered else None,
        answered=answered,
        topic="knees" if answered else None,
        engine="vosk",
    )


def test_round_trip(tmp_path: Path) -> None:
    log = TurnLog(tmp_path / "turns")
    written = [turn("my knees hurt after squats"), turn("my hamstring is tight", answered=False, minute=1)]
    for item in written:
        log.append(item)
    assert log.read() == written
    assert log.read(limit=1) == written[-1:]
    assert log.skipped == 0
    assert (tmp_path / "turns" / "turns.jsonl").stat().st_mode & 0o777 == 0o640
    lines = (tmp_path / "turns" / "turns.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["heard"] == "my knees hurt after squats"


def test_now_stamps_local_time_with_offset_to_the_second() -> None:
    stamped = LoggedTurn.now("my knees hurt", "knee_pain", answered=True, engine="typed")
    parsed = datetime.fromisoformat(stamped.time)
    assert parsed.utcoffset() is not None and parsed.microsecond == 0
    assert len(stamped.time) == len("2026-11-29T14:03:05+01:00")


def test_rotation_keeps_n_files(tmp_path: Path) -> None:
    one_line = len(json.dumps(turn("question 000").__dict__, separators=(",", ":"))) + 1
    log = TurnLog(tmp_path, max_bytes=one_line * 2, keep=2)  # two turns per file
    for number in range(9):
        log.append(turn(f"question {number:03d}"))
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["turns.jsonl", "turns.jsonl.1", "turns.jsonl.2"]
    assert all(path.stat().st_size <= one_line * 2 for path in tmp_path.iterdir())
    # The oldest files were dropped; what is left reads in order, newest last.
    assert [item.heard for item in log.read()] == [f"question {number:03d}" for number in range(4, 9)]


def test_keep_zero_just_starts_over(tmp_path: Path) -> None:
    log = TurnLog(tmp_path, max_bytes=10, keep=0)
    log.append(turn("first"))
    log.append(turn("second"))
    assert [path.name for path in tmp_path.iterdir()] == ["turns.jsonl"]
    assert [item.heard for item in log.read()] == ["second"]


def test_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    log = TurnLog(tmp_path)
    log.append(turn("my knees hurt after squats"))
    whole = json.dumps(turn("my back hurts").__dict__)
    with (tmp_path / "turns.jsonl").open("a") as handle:
        handle.write(whole[: len(whole) // 2])  # the power went out mid-write
    assert [item.heard for item in log.read()] == ["my knees hurt after squats"]
    assert log.skipped == 1
    # A fresh log (as after the reboot) finishes the torn line first, so the next turn stays whole.
    after = TurnLog(tmp_path)
    after.append(turn("my knees hurt again"))
    assert [item.heard for item in after.read()] == ["my knees hurt after squats", "my knees hurt again"]
    assert after.skipped == 1


def test_hand_edits_are_skipped_not_fatal(tmp_path: Path) -> None:
    good = json.dumps(turn("fine").__dict__)
    bad = ["not json", "[1, 2]", json.dumps({"heard": "no other fields"}), good.replace("true", '"yes"'), "\xff\xfe"]
    (tmp_path / "turns.jsonl").write_text("\n".join([*bad, good, ""]), encoding="latin-1")
    log = TurnLog(tmp_path)
    assert [item.heard for item in log.read()] == ["fine"]
    assert log.skipped == len(bad)


def test_concurrent_appends_stay_whole(tmp_path: Path) -> None:
    log = TurnLog(tmp_path, max_bytes=4000, keep=100)  # small files: threads also race the rotation

    def worker(name: int) -> None:
        for number in range(40):
            log.append(turn(f"thread {name} question {number} " + "x" * 50))

    threads = [threading.Thread(target=worker, args=(name,)) for name in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    heard = [item.heard for item in log.read()]
    assert log.skipped == 0 and len(heard) == 8 * 40 and len(set(heard)) == 8 * 40
    assert all(path.stat().st_size <= 4000 for path in log.files())


def test_huge_heard_text_is_capped(tmp_path: Path) -> None:
    log = TurnLog(tmp_path)
    log.append(turn("a" * 100_000))
    assert len(log.read()[0].heard) == HEARD_MAX_CHARS
    assert (tmp_path / "turns.jsonl").stat().st_size < 1000


def test_odd_text_survives(tmp_path: Path) -> None:
    log = TurnLog(tmp_path)
    odd = 'she said "stop"\nthen\udc80 무릎'  # quotes, a newline, a lone surrogate from a bad decode
    log.append(turn(odd))
    assert log.read()[0].heard == odd
    assert len((tmp_path / "turns.jsonl").read_bytes().splitlines()) == 1


def test_unanswered_grouped_most_asked_first(tmp_path: Path) -> None:
    log = TurnLog(tmp_path)
    asked = [
        ("my hamstring is tight", 1),
        ("My hamstring is tight!", 2),
        ("what about my elbow", 3),
        ("my   hamstring, is TIGHT", 4),
        ("what about my elbow?", 5),
        ("my neck hurts", 6),
        ("my hamstring is tight", 7),
    ]
    for heard, minute in asked:
        log.append(turn(heard, answered=False, minute=minute))
    log.append(turn("my knees hurt after squats", minute=8))  # answered: not listed
    groups = log.unanswered()
    assert [(group.key, group.count) for group in groups] == [
        ("my hamstring is tight", 4),
        ("what about my elbow", 2),
        ("my neck hurts", 1),
    ]
    assert groups[0].last_time == "2026-11-29T14:07:05+01:00"
    assert groups[0].examples == ("my hamstring is tight", "my   hamstring, is TIGHT", "My hamstring is tight!")
    # The caller may pass its own normaliser (the matcher's).
    assert [group.count for group in log.unanswered(key=lambda heard: heard.split()[0].lower())] == [5, 2]


def test_default_key() -> None:
    assert default_key("  My KNEE'S   sore!?  ") == "my knees sore"
    assert default_key("what's up... coach") == "whats up coach"


def test_folder_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("a file, not a folder")
    folder = tmp_path / "afile" / "sub"
    with pytest.raises(TurnLogError) as caught:
        TurnLog(folder).append(turn("my knees hurt"))
    message = str(caught.value)
    assert str(folder) in message and "[log] turns = false" in message and "\n" not in message
    assert caught.value.exit_status == 1
    assert TurnLog(folder).read() == []  # reading a missing folder is just an empty log


def test_open_turn_log_warns_once_and_returns_none(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    warnings: list[str] = []
    assert open_turn_log(tmp_path / "afile" / "sub", warn=warnings.append) is None
    assert len(warnings) == 1 and "carrying on without the turn log" in warnings[0]
    made = open_turn_log(tmp_path / "ok" / "turns", warn=warnings.append)
    assert made is not None and (tmp_path / "ok" / "turns" / "turns.jsonl").exists() and len(warnings) == 1


def test_recorder_never_raises(tmp_path: Path) -> None:
    warnings: list[str] = []
    recorder = TurnRecorder(tmp_path / "turns", warn=warnings.append)
    recorder.record(turn("first"))
    (tmp_path / "turns" / "turns.jsonl").unlink()
    (tmp_path / "turns").rmdir()
    (tmp_path / "turns").write_text("the folder became a file")  # e.g. the SD card went bad
    recorder.record(turn("second"))
    recorder.record(turn("third"))
    assert not recorder.enabled and len(warnings) == 1
    off = TurnRecorder(None, warn=warnings.append)
    off.record(turn("ignored"))
    assert not off.enabled and len(warnings) == 1


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="voicecoach")
    log_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["log", *argv])
    result: int = args.func(args)
    return result


def test_cli_plain_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = TurnLog(tmp_path)
    log.append(turn("my knees hurt after squats", minute=3))
    log.append(turn("my hamstring is tight", answered=False, minute=4))
    assert _run("--folder", str(tmp_path)) == 0
    assert capsys.readouterr().out.splitlines() == [
        '2026-11-29 14:03  answered  knee_pain_squat  "my knees hurt after squats"',
        '2026-11-29 14:04  unanswered  unknown  "my hamstring is tight"',
    ]
    assert _run("--folder", str(tmp_path), "--limit", "1") == 0
    assert capsys.readouterr().out.splitlines() == ['2026-11-29 14:04  unanswered  unknown  "my hamstring is tight"']


def test_cli_unanswered_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = TurnLog(tmp_path)
    for minute in range(5):
        log.append(turn("my hamstring is tight", answered=False, minute=minute))
    log.append(turn("my neck hurts", answered=False, minute=9))
    assert _run("--folder", str(tmp_path), "--unanswered") == 0
    assert capsys.readouterr().out.splitlines() == [
        '  5x  "my hamstring is tight" (last 2026-11-29 14:04)',
        '  1x  "my neck hurts" (last 2026-11-29 14:09)',
    ]
    assert _run("--folder", str(tmp_path), "--unanswered", "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == {
        "key": "my hamstring is tight",
        "count": 5,
        "last": "2026-11-29T14:04:05+01:00",
        "examples": ["my hamstring is tight"],
    }
    assert _run("--folder", str(tmp_path), "--json", "--limit", "2") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["heard"] for row in rows] == ["my hamstring is tight", "my neck hurts"]
    assert set(rows[0]) == {"time", "heard", "intent", "confidence", "answered", "topic", "engine"}


def test_cli_empty_or_missing_log_is_one_friendly_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder in (tmp_path, tmp_path / "missing"):
        assert _run("--folder", str(folder)) == 0
        assert capsys.readouterr().out == f"No turns logged yet in {folder}.\n"
        assert _run("--folder", str(folder), "--unanswered") == 0
        assert capsys.readouterr().out == f"Nothing unanswered in the turn log ({folder}).\n"
    assert not (tmp_path / "missing").exists()  # reading never creates the folder


def test_cli_reports_skipped_lines_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    TurnLog(tmp_path).append(turn("my knees hurt after squats"))
    with (tmp_path / "turns.jsonl").open("a") as handle:
        handle.write('{"time": "2026-')
    assert _run("--folder", str(tmp_path), "--json") == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert "skipped 1 unreadable line" in captured.err


def test_cli_default_folder_is_the_users_state_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert log_cmd.default_folder() == tmp_path / "voicecoach" / "turns"


def test_cli_rejects_negative_limit(tmp_path: Path) -> None:
    from voicecoach.errors import UsageError

    with pytest.raises(UsageError, match="--limit"):
        _run("--folder", str(tmp_path), "--limit", "-1")
