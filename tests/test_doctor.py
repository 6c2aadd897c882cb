"""`voicecoach doctor`: the level analysis on synthetic audio, the readers on fake files, and the CLI in
the PulseAudio room (every check passes) and with no sound server at all (FAIL naming the fix)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from voicecoach.app import doctor
from voicecoach.app.doctor import (
    DBFS_FLOOR,
    GOOD_SNR_DB,
    HEARD_SNR_DB,
    Check,
    DoctorOptions,
    analyse,
    check_disk,
    check_engine,
    check_memory,
    check_temperature,
    check_throttling,
    dbfs,
    frame_levels,
    microphone_check,
    passed,
    phrase_snr_db,
    read_available_mb,
    read_temperature_c,
    read_throttled,
    run_checks,
    sound,
    speaker_check,
)
from voicecoach.cli.main import main

RATE = 16_000
LINE = re.compile(r"^(ok   |WARN |FAIL ) (\w+): .+$")


def tone(db: float, seconds: float, freq: float = 300.0) -> np.ndarray:
    """A sine whose RMS is `db` dBFS (its peak is 3 dB higher)."""
    t = np.arange(int(seconds * RATE)) / RATE
    amplitude = 32768 * 10 ** (db / 20) * np.sqrt(2)
    samples: np.ndarray = np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return samples


def noise(db: float, seconds: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise whose RMS is `db` dBFS."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0, 32768 * 10 ** (db / 20), int(seconds * RATE)), -32768, 32767).astype(np.int16)


# --- level analysis ---------------------------------------------------------------------------


def test_dbfs_full_scale_sine_and_silence() -> None:
    assert dbfs(32768) == pytest.approx(0.0)
    assert dbfs(32768 / 10) == pytest.approx(-20.0)
    assert dbfs(0) == DBFS_FLOOR
    assert analyse(tone(-3.0, 1.0)).rms_db == pytest.approx(-3.0, abs=0.1)
    silent = analyse(np.zeros(RATE, np.int16))
    assert silent.rms_db == silent.floor_db == silent.loud_db == DBFS_FLOOR


def test_frame_levels_are_30_ms_frames() -> None:
    levels = frame_levels(np.concatenate([tone(-40, 0.3), tone(-10, 0.3)]))
    assert len(levels) == 20  # 0.6 s of 30 ms frames
    assert levels[:9] == pytest.approx(-40, abs=0.5)
    assert levels[-9:] == pytest.approx(-10, abs=0.5)


def test_floor_loud_part_and_snr_of_a_voice_over_room_noise() -> None:
    # 2 s of room noise at -60 dBFS with a 1 s "voice" at -20 dBFS on top of part of it.
    room = noise(-60, 2.0)
    room[8000:24000] += tone(-20, 1.0)
    level = analyse(room)
    assert level.floor_db == pytest.approx(-60, abs=1.5)
    assert level.loud_db == pytest.approx(-20, abs=1.0)
    assert level.snr_db == pytest.approx(40, abs=2.5)
    assert level.seconds == pytest.approx(2.0)
    assert not level.clipping and not level.too_quiet


def test_phrase_snr_counts_the_room_loud_moments_not_only_its_floor() -> None:
    # A quiet room with clanks: its floor is low, but the clanks mask a voice too.
    room = noise(-70, 2.0)
    room[::4000] = 30000  # clicks
    room[16000:20000] += noise(-25, 0.25, seed=1)  # one clank
    room_level = analyse(room)
    phrase = analyse(tone(-20, 1.5) + noise(-70, 1.5, seed=2))
    assert room_level.floor_db < -65
    assert phrase_snr_db(room_level, phrase) < phrase.loud_db - room_level.floor_db - 20


def test_clipping_fraction() -> None:
    loud = tone(-20, 1.0)
    loud[:100] = 32767  # 0.6% of samples at full scale
    loud[100:200] = -32768
    assert analyse(loud).clipped == pytest.approx(200 / RATE)
    assert analyse(loud).clipping
    barely = tone(-20, 1.0)
    barely[:10] = 32767  # 0.06%: a stray peak, not clipping
    assert not analyse(barely).clipping


def test_microphone_ok_too_quiet_and_clipping() -> None:
    room, voice = analyse(noise(-55, 1.0)), analyse(tone(-25, 1.0))
    ok = microphone_check("USB mic", room, voice)
    assert ok == Check("microphone", "ok", "'USB mic' level -25 dBFS, room noise -55 dBFS")

    quiet = microphone_check("USB mic", analyse(noise(-80, 1.0)), analyse(tone(-65, 1.0)))
    assert quiet.status == "fail"
    assert "muted or unplugged" in quiet.fix and "alsamixer" in quiet.fix

    clipped = tone(-3, 1.0)
    clipped[::50] = 32767  # 2%
    loud = microphone_check("USB mic", analyse(noise(-55, 1.0)), analyse(clipped))
    assert loud.status == "warn"
    assert "lower the microphone gain" in loud.fix
    assert "2.0% of samples clip" in loud.detail


@pytest.mark.parametrize(
    ("room_db", "status", "words"),
    [
        (-60.0, "ok", "heard it, SNR 40 dB"),
        (-32.0, "warn", "heard only 12 dB"),
        (-26.0, "warn", "did not hear it (SNR 6 dB"),
    ],
)
def test_speaker_heard_over_the_room(room_db: float, status: str, words: str) -> None:
    room = analyse(noise(room_db, 1.5))
    phrase = analyse(tone(-20, 2.0) + noise(room_db, 2.0, seed=3))
    check = speaker_check("pulse", room, phrase)
    assert check.status == status
    assert words in check.detail
    if status == "warn":
        assert HEARD_SNR_DB < GOOD_SNR_DB  # the thresholds the three cases straddle
        assert "move the microphone closer" in check.fix and "lower the music" in check.fix
        assert "turn it away from the speaker" in check.fix


def test_speaker_cut_short_fails_and_a_deaf_microphone_cannot_judge_it() -> None:
    room = analyse(noise(-60, 1.0))
    assert speaker_check("pulse", room, analyse(tone(-20, 1.0)), played=False).status == "fail"
    deaf = speaker_check("pulse", analyse(np.zeros(RATE, np.int16)), analyse(np.zeros(RATE, np.int16)))
    assert deaf.status == "warn"
    assert "microphone hears nothing" in deaf.detail


# --- readers ----------------------------------------------------------------------------------


def test_memory_reader_and_check(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        3884136 kB\nMemFree:  200000 kB\nMemAvailable:    1048576 kB\n")
    assert read_available_mb(meminfo) == 1024
    assert check_memory(meminfo) == Check("memory", "ok", "1024 MB available")
    meminfo.write_text("MemAvailable:      102400 kB\n")
    low = check_memory(meminfo)
    assert low.status == "fail" and "needs 150 MB" in low.detail and low.fix
    for unreadable in (tmp_path / "missing", tmp_path):  # no file; a folder
        assert read_available_mb(unreadable) is None
        assert check_memory(unreadable).status == "warn"
        assert "not exposed here" in check_memory(unreadable).detail
    meminfo.write_text("MemTotal: 1 kB\n")  # an old kernel without MemAvailable
    assert check_memory(meminfo).status == "warn"


@pytest.mark.parametrize(
    ("content", "status"),
    [("48312\n", "ok"), ("76000\n", "warn"), ("82000\n", "fail"), ("garbage\n", "warn"), (None, "warn")],
)
def test_temperature(tmp_path: Path, content: str | None, status: str) -> None:
    zone = tmp_path / "temp"
    if content is not None:
        zone.write_text(content)
    check = check_temperature(zone)
    assert check.status == status
    if content is None or content == "garbage\n":
        assert read_temperature_c(zone) is None
        assert "not exposed here" in check.detail
    else:
        assert read_temperature_c(zone) == int(content) / 1000
    if status != "ok" and content in ("76000\n", "82000\n"):
        assert "heatsink" in check.fix


@pytest.mark.parametrize(
    ("output", "status", "fix"),
    [
        ("throttled=0x0", "ok", ""),
        ("throttled=0x50000", "warn", "official power supply"),  # under-voltage and throttled since boot
        ("throttled=0x50005", "fail", "official power supply"),  # under-voltage now
        ("throttled=0x80008", "fail", "heatsink"),  # soft temperature limit now
        ("throttled=0x80000", "warn", "heatsink"),
    ],
)
def test_throttling(output: str, status: str, fix: str) -> None:
    command = ("sh", "-c", f"echo {output}")
    assert read_throttled(command) == int(output.partition("=")[2], 16)
    check = check_throttling(command)
    assert check.status == status
    assert fix in check.fix


def test_throttling_not_exposed() -> None:
    assert read_throttled(("no-such-vcgencmd", "get_throttled")) is None
    check = check_throttling(("no-such-vcgencmd", "get_throttled"))
    assert check.status == "warn" and "not exposed here" in check.detail
    assert check_throttling(("sh", "-c", "echo nonsense; exit 1")).status == "warn"


def test_disk_checks_the_nearest_existing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_yet = tmp_path / "models" / "not" / "made"
    check = check_disk([not_yet])
    assert check.status == "ok" and str(tmp_path) in check.detail

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda _path: usage(10**9, 10**9, 100 * 1024**2))
    low = check_disk([not_yet])
    assert low.status == "fail" and "100 MB free" in low.detail and "needs 200 MB" in low.detail and low.fix


def test_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("VOICECOACH_MODEL", raising=False)
    bundled = check_engine()
    assert bundled.status == "warn"  # the bundled engine runs: a warning, not a failure
    assert "pocketsphinx" in bundled.detail and "voicecoach model download" in bundled.fix

    broken = check_engine(tmp_path / "no-model")
    assert broken.status == "fail" and "voicecoach model download" in broken.fix

    model = tmp_path / "vosk-model"
    for name in ("am/final.mdl", "conf/model.conf", "graph/HCLG.fst"):
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_bytes(b"x")
    pytest.importorskip("vosk", reason="needs the vosk package")
    assert check_engine(model) == Check("engine", "ok", f"vosk with {model} (--model)")


def test_run_checks_order_and_passed(tmp_path: Path) -> None:
    options = DoctorOptions(
        sound=False,
        folders=(tmp_path,),
        meminfo=tmp_path / "none",
        thermal=tmp_path / "none",
        throttled_command=("no-such-vcgencmd",),
    )
    checks = run_checks(options)
    assert [c.name for c in checks] == ["engine", "memory", "disk", "temperature", "throttling"]
    assert passed(checks)  # unreadable readings are warnings
    assert not passed([*checks, Check("speaker", "fail", "x", "y")])


def test_no_sound_devices_fail_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicecoach.audio import devices

    monkeypatch.setattr(devices, "list_devices", list)
    mic, speaker = doctor.check_sound(DoctorOptions(seconds=0.3))
    assert mic == Check(
        "microphone", "fail", "no microphone found", "plug one in, or start the sound server (PulseAudio/PipeWire)"
    )
    assert speaker.status == "fail" and "start the sound server" in speaker.fix


@pytest.mark.parametrize(
    ("message", "detail", "fix"),
    [
        ("no microphone found; plug a microphone in", "no microphone found", sound._NO_SOUND_FIX),
        (
            "no microphone matches 'usb' (there are: 0: pulse); plug a microphone in or pass --input (see devices)",
            "no microphone matches 'usb' (there are: 0: pulse)",
            "plug a microphone in or pass --input (see devices)",
        ),
        (
            "cannot open microphone 'x' (16000 Hz: bad; 44100 Hz: bad)",
            "cannot open microphone 'x' (16000 Hz: bad; 44100 Hz: bad)",
            sound._NO_SOUND_FIX,
        ),
    ],
)
def test_device_errors_split_into_detail_and_fix(message: str, detail: str, fix: str) -> None:
    from voicecoach.errors import AudioDeviceError

    assert sound._no_device_fix(AudioDeviceError(message), "microphone") == (detail, fix)


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_takes_devices_from_config_flags_override_and_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[audio]\ninput = "USB"\noutput = 2\n')
    seen: list[DoctorOptions] = []
    results = [Check("engine", "ok", "vosk"), Check("temperature", "warn", "not exposed here")]

    def fake(options: DoctorOptions) -> Iterator[Check]:
        seen.append(options)
        yield from results

    monkeypatch.setattr(doctor, "iter_checks", fake)
    assert main(["doctor", "--config", str(config), "--output", "1", "--seconds", "2"]) == 0
    assert (seen[0].input, seen[0].output, seen[0].seconds) == ("USB", 1, 2.0)
    assert capsys.readouterr().out.splitlines() == [
        "ok    engine: vosk",
        "WARN  temperature: not exposed here",
    ]
    results.append(Check("speaker", "fail", "no speaker found", "plug one in"))
    assert main(["doctor", "--config", str(config), "--json"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1] == {"check": "speaker", "status": "fail", "detail": "no speaker found", "fix": "plug one in"}
    assert main(["doctor", "--seconds", "0"]) == 2  # a usage error, before anything is measured


def run_doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicecoach", "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def report(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """check name -> its line; every stdout line must be a check line."""
    lines = done.stdout.splitlines()
    for line in lines:
        assert LINE.match(line), f"not a check line: {line!r}\n{done.stderr}"
    return {LINE.match(line).group(2): line for line in lines}  # type: ignore[union-attr]


@pytest.mark.audio
def test_doctor_in_the_room_passes_and_hears_its_phrase(pulse_room: dict[str, str]) -> None:
    done = run_doctor({**os.environ, **pulse_room})
    lines = report(done)
    assert list(lines) == ["engine", "microphone", "speaker", "memory", "disk", "temperature", "throttling"]
    assert not any(line.startswith("FAIL") for line in lines.values()), done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines["microphone"].startswith("ok ")
    heard = re.search(r"^ok    speaker: .*heard it, SNR (\d+) dB", lines["speaker"])
    assert heard, lines["speaker"]
    assert int(heard.group(1)) >= GOOD_SNR_DB
    assert "Traceback" not in done.stderr


@pytest.mark.audio
def test_doctor_in_a_muted_room_fails_the_microphone(pulse_room: dict[str, str]) -> None:
    env = {**os.environ, **pulse_room}
    subprocess.run(["pactl", "set-sink-mute", "gym", "1"], env=env, check=True, timeout=10)
    try:
        done = run_doctor(env, "--json", "--seconds", "0.5")
    finally:
        subprocess.run(["pactl", "set-sink-mute", "gym", "0"], env=env, check=True, timeout=10)
    checks = {c["check"]: c for c in map(json.loads, done.stdout.splitlines())}
    assert done.returncode == 1
    assert checks["microphone"]["status"] == "fail"
    assert "muted or unplugged" in checks["microphone"]["fix"]
    assert checks["speaker"]["status"] == "warn"


def test_doctor_without_a_sound_server_fails_and_names_the_fix(tmp_path: Path) -> None:
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent", "XDG_RUNTIME_DIR": str(tmp_path)}
    devices = subprocess.run(
        [sys.executable, "-m", "voicecoach", "devices"], env=env, capture_output=True, text=True, timeout=60
    )
    if devices.stdout.strip() != "no sound devices found":
        pytest.skip(f"this machine has sound devices without a sound server: {devices.stdout.strip()}")
    done = run_doctor(env, "--seconds", "0.5")
    lines = report(done)
    assert done.returncode == 1, done.stdout
    fix = "-> fix: plug one in, or start the sound server (PulseAudio/PipeWire)"
    assert lines["microphone"] == f"FAIL  microphone: no microphone found {fix}"
    assert lines["speaker"] == f"FAIL  speaker: no speaker found {fix}"
    assert lines["memory"].startswith("ok ")
    assert "Traceback" not in done.stderr
