"""The appliance as a gym owner sets it up: one config file steers `listen`, and what lifters asked is logged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_end_to_end import ListenProcess, play_into_room

AUDIO = Path(__file__).resolve().parents[1] / "audio"


def voicecoach(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicecoach", *args], capture_output=True, text=True, timeout=60, env=env
    )


def write_config(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text)
    return path


def test_listen_reads_the_config_and_a_bad_value_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[voice]\nrate = 900\n")
    done = voicecoach("listen", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.strip() == f"voicecoach: {config}:2: voice.rate = 900: must be a whole number from 80 to 320"


def test_a_flag_beats_the_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[voice]\nrate = 200\n")
    shown = voicecoach("config", "show", "--config", str(config), "--json")
    assert json.loads(shown.stdout)["voice.rate"] == {"value": 200, "source": f"{config}:2"}
    # `warmup --dry-run` sizes its slots from the rate: the flag must win over the file
    from_file = voicecoach("warmup", "--dry-run", "--json", "--config", str(config)).stdout
    from_flag = voicecoach("warmup", "--dry-run", "--json", "--config", str(config), "--rate", "120").stdout
    assert json.loads(from_file.splitlines()[-1])["t"] < json.loads(from_flag.splitlines()[-1])["t"]


@pytest.mark.audio
def test_listen_logs_what_lifters_asked(tmp_path: Path, pulse_room: dict[str, str]) -> None:
    logs = tmp_path / "state"
    config = write_config(tmp_path, f'[log]\nfolder = "{logs}"\n\n[listen]\nactivation = "always"\n')
    listening = ListenProcess({**os.environ, **pulse_room}, "--config", str(config))
    try:
        listening.wait_listening()
        turn, attempts = None, 0
        while turn is None and attempts < 3:  # a lifter who is not heard says it again
            attempts += 1
            play_into_room(AUDIO / "my_knees_are_sore_after_running.wav", pulse_room)
            turn = listening.next_turn(timeout=20)
        assert turn is not None, "".join(listening.stderr)
    finally:
        assert listening.stop() == 0
    shown = voicecoach("log", "--folder", str(logs / "turns"), "--json")
    logged = [json.loads(line) for line in shown.stdout.splitlines()]
    assert any(entry["heard"] == turn["heard"] and entry["intent"] == turn["intent"] for entry in logged), logged
