"""The boot-time systemd service: unit text, install/uninstall plans, carrying them out, the CLI."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from voicecoach.app import service, systemd
from voicecoach.app.service import (
    CONFIG_PLACEHOLDER,
    UNIT_PATH,
    Command,
    RemoveFile,
    ServiceError,
    ServiceSettings,
    WriteFile,
)
from voicecoach.cli import service as service_cmd
from voicecoach.errors import UsageError

CONFIG_PATH = Path("/etc/voicecoach/config.toml")


class FakeRunner:
    """Records every argv; answers from a table of (argv prefix -> returncode, stderr)."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert kwargs.get("capture_output") and kwargs.get("text")  # stderr must come back as text
        self.calls.append(list(argv))
        for prefix, (code, stderr) in self.answers.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return subprocess.CompletedProcess(list(argv), code, "", stderr)
        return subprocess.CompletedProcess(list(argv), 0, "", "")


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(executable=tmp_path / "venv" / "bin" / "voicecoach")


def sections(unit: str) -> dict[str, list[str]]:
    """Section name -> its `Key=value` lines, comments dropped."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in unit.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            found[current] = []
        elif line and not line.startswith("#"):
            found[current].append(line)
    return found


def test_unit_meets_every_requirement(settings: ServiceSettings) -> None:
    unit = service.unit_text(settings)
    parts = sections(unit)
    assert set(parts) == {"Unit", "Service", "Install"}
    assert {"After=sound.target", "Wants=sound.target", "StartLimitIntervalSec=0"} <= set(parts["Unit"])
    assert {
        "User=voicecoach",
        "SupplementaryGroups=audio",
        f"ExecStart={settings.executable} listen --config /etc/voicecoach/config.toml",
        "Restart=on-failure",
        "RestartSec=5",
        "StandardOutput=journal",
        "StandardError=journal",
        "SyslogIdentifier=voicecoach",
        "Environment=PYTHONUNBUFFERED=1",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=5",
        "StateDirectory=voicecoach",
        "NoNewPrivileges=yes",
        "ProtectSystem=full",
        "PrivateTmp=yes",
        "WorkingDirectory=/var/lib/voicecoach",
    } <= set(parts["Service"])
    environment = " ".join(line for line in parts["Service"] if line.startswith("Environment="))
    assert "XDG_STATE_HOME=/var/lib/voicecoach" in environment
    assert "XDG_DATA_HOME=/var/lib/voicecoach" in environment
    assert parts["Install"] == ["WantedBy=multi-user.target"]
    # Hiding /dev/snd would silence the coach; RestartSteps= is newer than Debian 12's systemd 252.
    keys = {line.split("=", 1)[0] for lines in parts.values() for line in lines}
    assert not keys & {"PrivateDevices", "RestartSteps", "RestartMaxDelaySec", "ProtectHome"}
    comments = " ".join(line for line in unit.splitlines() if line.startswith("#"))
    assert "PulseAudio" in comments and "ALSA" in comments and "audio" in comments


def test_unit_takes_user_config_and_quotes_odd_paths(tmp_path: Path) -> None:
    odd = ServiceSettings(
        executable=tmp_path / "gym 100%" / "voicecoach", user="coach", config=Path("/srv/$cfg/c.toml")
    )
    unit = service.unit_text(odd)
    assert "User=coach" in unit
    assert f'ExecStart="{tmp_path}/gym 100%%/voicecoach" listen --config /srv/$$cfg/c.toml' in unit


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"executable": Path("venv/bin/voicecoach")}, "absolute"),
        ({"executable": Path("/x/voicecoach"), "config": Path("c.toml")}, "absolute"),
        ({"executable": Path("/x/voicecoach"), "user": "Root; rm"}, "user name"),
        ({"executable": Path("/x/voice\ncoach")}, "control characters"),
    ],
)
def test_settings_refuse_what_would_break_the_unit(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(UsageError, match=words) as caught:
        ServiceSettings(**kwargs)
    assert caught.value.exit_status == 2


def _verify(unit_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit_file)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs Debian package systemd (systemd-analyze)")
@pytest.mark.parametrize("folder", ["venv", "gym 100% rack"])
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, folder: str) -> None:
    executable = tmp_path / folder / "voicecoach"
    executable.parent.mkdir()
    executable.write_text("#!/bin/sh\nexit 0\n")
    executable.chmod(0o755)
    unit_file = tmp_path / service.UNIT_NAME
    unit_file.write_text(service.unit_text(ServiceSettings(executable=executable)))
    result = _verify(unit_file)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Unknown key" not in output and "Unknown section" not in output, output
    assert "not executable" not in output, output


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs Debian package systemd (systemd-analyze)")
def test_systemd_analyze_would_catch_a_bad_unit(tmp_path: Path) -> None:
    """The verify test above proves something: a key newer than 252 and a missing executable are reported."""
    unit_file = tmp_path / service.UNIT_NAME
    text = service.unit_text(ServiceSettings(executable=tmp_path / "missing"))
    unit_file.write_text(text.replace("RestartSec=5", "RestartSec=5\nRestartSteps=3"))
    result = _verify(unit_file)
    output = result.stdout + result.stderr
    assert "Unknown key" in output or "RestartSteps" in output
    assert result.returncode != 0 and "missing" in output


def test_install_plan_order(settings: ServiceSettings) -> None:
    steps = service.install_plan(settings)
    assert [type(step) for step in steps] == [Command, WriteFile, WriteFile, Command, Command, Command]
    useradd, config, unit, reload, restart, enable = steps
    assert isinstance(useradd, Command)
    assert useradd.argv == (
        "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups", "audio", "voicecoach",
    )  # fmt: skip
    assert useradd.skip_if == ("getent", "passwd", "voicecoach")
    assert isinstance(config, WriteFile) and config.path == CONFIG_PATH and config.keep_existing
    assert "voicecoach config example" in config.content and "TODO" not in config.content
    assert isinstance(unit, WriteFile) and unit.path == UNIT_PATH and not unit.keep_existing
    assert unit.content == service.unit_text(settings) and unit.mode == 0o644
    assert isinstance(reload, Command) and reload.argv == ("systemctl", "daemon-reload")
    assert isinstance(restart, Command) and restart.argv == ("systemctl", "try-restart", "voicecoach.service")
    assert isinstance(enable, Command) and enable.argv == ("systemctl", "enable", "--now", "voicecoach.service")


def test_install_carried_out_under_a_root(tmp_path: Path, settings: ServiceSettings) -> None:
    runner = FakeRunner({("getent",): (2, "")})  # the user does not exist yet
    report = systemd.run_plan(service.install_plan(settings), runner=runner, root=tmp_path)
    unit_file = tmp_path / "etc/systemd/system/voicecoach.service"
    assert unit_file.read_text() == service.unit_text(settings)
    assert unit_file.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "etc/voicecoach/config.toml").read_text() == CONFIG_PLACEHOLDER
    assert [call[:2] for call in runner.calls] == [
        ["getent", "passwd"],
        ["useradd", "--system"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "try-restart"],
        ["systemctl", "enable"],
    ]
    assert all(line.startswith("done: ") for line in report)
    assert not list(tmp_path.rglob("*.tmp"))  # the atomic writes left nothing behind


def test_existing_user_and_config_are_kept(tmp_path: Path, settings: ServiceSettings) -> None:
    config = tmp_path / "etc/voicecoach/config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[speech]\nrate = 150\n")
    runner = FakeRunner()  # getent succeeds: the user is there
    report = systemd.run_plan(service.install_plan(settings), runner=runner, root=tmp_path)
    assert config.read_text() == "[speech]\nrate = 150\n"
    assert not any(call[0] == "useradd" for call in runner.calls)
    assert report[0].startswith("skipped: ") and report[1].startswith("skipped: ")


def test_reinstall_replaces_the_unit(tmp_path: Path, settings: ServiceSettings) -> None:
    unit_file = tmp_path / "etc/systemd/system/voicecoach.service"
    unit_file.parent.mkdir(parents=True)
    unit_file.write_text("old")
    systemd.run_plan(service.install_plan(settings), runner=FakeRunner(), root=tmp_path)
    assert unit_file.read_text() == service.unit_text(settings)


def test_uninstall_removes_the_unit_and_keeps_config(tmp_path: Path, settings: ServiceSettings) -> None:
    systemd.run_plan(service.install_plan(settings), runner=FakeRunner(), root=tmp_path)
    runner = FakeRunner()
    steps = service.uninstall_plan(settings)
    assert isinstance(steps[1], RemoveFile)
    systemd.run_plan(steps, runner=runner, root=tmp_path)
    assert runner.calls == [["systemctl", "disable", "--now", "voicecoach.service"], ["systemctl", "daemon-reload"]]
    assert not (tmp_path / "etc/systemd/system/voicecoach.service").exists()
    assert (tmp_path / "etc/voicecoach/config.toml").exists()
    assert "config.toml" in service.kept_after_uninstall(settings)
    # Again, with nothing installed: nothing to disable, and no error.
    again = FakeRunner()
    report = systemd.run_plan(steps, runner=again, root=tmp_path)
    assert again.calls == [["systemctl", "daemon-reload"]]
    assert report[:2] == [f"skipped: {steps[0].description}", f"skipped: {steps[1].description}"]


def test_failing_step_names_the_step_and_last_stderr_line(tmp_path: Path, settings: ServiceSettings) -> None:
    runner = FakeRunner({("systemctl", "enable"): (1, "Created symlink...\nFailed to start voicecoach.service.\n")})
    with pytest.raises(ServiceError) as caught:
        systemd.run_plan(service.install_plan(settings), runner=runner, root=tmp_path)
    message = str(caught.value)
    assert message == (
        "start the service now and on every boot failed (systemctl enable --now voicecoach.service): "
        "Failed to start voicecoach.service."
    )
    assert caught.value.exit_status == 1 and "\n" not in message


def test_missing_command_is_a_one_line_error(tmp_path: Path, settings: ServiceSettings) -> None:
    def runner(argv: Sequence[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    with pytest.raises(ServiceError, match=r"^create the system user .*\(getent passwd voicecoach\): .*getent"):
        systemd.run_plan(service.install_plan(settings), runner=runner, root=tmp_path)


def test_check_host(tmp_path: Path) -> None:
    def has(name: str) -> str | None:
        return f"/usr/bin/{name}"

    systemd.check_host("install", euid=0, which=has, systemd_dir=tmp_path)  # all well: no error
    with pytest.raises(ServiceError, match=r"^service install changes /etc and systemd: run it again with sudo$") as e:
        systemd.check_host("install", euid=1000, which=has, systemd_dir=tmp_path)
    assert e.value.exit_status == 2 and isinstance(e.value, UsageError)
    for which, folder in ((lambda _name: None, tmp_path), (has, tmp_path / "absent")):
        with pytest.raises(ServiceError) as caught:
            systemd.check_host("install", euid=0, which=which, systemd_dir=folder)
        assert str(caught.value) == "systemd is not running here; use --dry-run to see the unit"
        assert caught.value.exit_status == 2


def test_preflight_runs_before_any_step(tmp_path: Path, settings: ServiceSettings) -> None:
    runner = FakeRunner()

    def not_root() -> None:
        systemd.check_host("install", euid=1000, which=lambda name: name, systemd_dir=tmp_path)

    with pytest.raises(ServiceError, match="sudo"):
        systemd.run_plan(service.install_plan(settings), runner=runner, root=tmp_path, preflight=not_root)
    assert runner.calls == [] and list(tmp_path.iterdir()) == []


def test_status_lines(tmp_path: Path) -> None:
    runner = FakeRunner()
    answers = {"is-active": "active\n", "is-enabled": "enabled\n"}

    def fake(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        runner(argv, **kwargs)
        if argv[0] == "journalctl":
            return subprocess.CompletedProcess(list(argv), 0, "line one\nline two\n", "")
        return subprocess.CompletedProcess(list(argv), 0, answers[argv[1]], "")

    lines = systemd.status(runner=fake, which=lambda name: name, systemd_dir=tmp_path)
    assert lines == ["running: active", "on boot: enabled", "last 5 journal lines:", "  line one", "  line two"]
    assert ["journalctl", "-u", "voicecoach", "-n", "5", "--no-pager"] in runner.calls
    assert systemd.status(which=lambda _name: None) == ["systemd is not running here, so the service cannot run"]


@pytest.fixture
def open_tree() -> Iterator[Path]:
    """A folder anyone can traverse (pytest's own tmp folders are 0700)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as name:
        folder = Path(name)
        folder.chmod(0o755)
        yield folder


def test_reach_problem_spots_a_private_home(open_tree: Path) -> None:
    executable = open_tree / "home" / "pi" / "voicecoach" / ".venv" / "bin" / "voicecoach"
    executable.parent.mkdir(parents=True, mode=0o755)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    for folder in executable.parents:
        if folder.is_relative_to(open_tree):
            folder.chmod(0o755)
    assert systemd.reach_problem(ServiceSettings(executable=executable, user="nobody")) is None
    (open_tree / "home" / "pi").chmod(0o700)  # Debian 12's default for new homes
    problem = systemd.reach_problem(ServiceSettings(executable=executable, user="nobody"))
    assert problem is not None and f"{open_tree}/home/pi is mode 0700" in problem
    assert f"chmod o+x {open_tree}/home/pi" in problem
    assert systemd.reach_problem(ServiceSettings(executable=executable, user="root")) is None
    gone = systemd.reach_problem(ServiceSettings(executable=open_tree / "nope", user="nobody"))
    assert gone is not None and "No such file" in gone


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="voicecoach")
    service_cmd.register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_dry_run_prints_everything_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a dry run must not run or write anything")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(systemd, "run_plan", refuse)
    monkeypatch.setattr(os, "replace", refuse)
    exe = tmp_path / "voicecoach"
    args = _parse(
        "service", "install", "--dry-run", "--user", "coach", "--config", "/srv/c.toml", "--executable", str(exe)
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    settings = ServiceSettings(executable=exe, user="coach", config=Path("/srv/c.toml"))
    assert service.unit_text(settings) in out
    assert "getent passwd coach >/dev/null || useradd --system --no-create-home" in out
    assert f"write /srv/c.toml ({len(CONFIG_PLACEHOLDER.encode())} bytes, mode 0644) unless it exists" in out
    assert f"write /etc/systemd/system/voicecoach.service ({len(service.unit_text(settings).encode())} bytes" in out
    assert "systemctl enable --now voicecoach.service" in out

    args = _parse("service", "uninstall", "--dry-run", "--executable", str(exe))
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "test -e /etc/systemd/system/voicecoach.service && systemctl disable --now voicecoach.service" in out
    assert "rm -f /etc/systemd/system/voicecoach.service" in out and "kept: /etc/voicecoach/config.toml" in out


def test_cli_install_refuses_without_systemd_or_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = _parse("service", "install", "--executable", str(tmp_path / "voicecoach"))
    monkeypatch.setattr(systemd, "SYSTEMD_RUN_DIR", tmp_path / "absent")
    with pytest.raises(ServiceError, match=r"^systemd is not running here; use --dry-run to see the unit$") as caught:
        args.func(args)
    assert caught.value.exit_status == 2
    if shutil.which("systemctl") is None:
        return  # the no-sudo message needs systemctl to be found first
    monkeypatch.setattr(systemd, "SYSTEMD_RUN_DIR", tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ServiceError, match="run it again with sudo") as caught:
        args.func(args)
    assert caught.value.exit_status == 2


def test_find_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / ".venv" / "bin" / "voicecoach"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert service_cmd.find_executable(".venv/bin/voicecoach") == script  # how ./coach runs it
    monkeypatch.setenv("PATH", str(script.parent))
    assert service_cmd.find_executable("voicecoach") == script
    with pytest.raises(UsageError, match="--executable"):
        service_cmd.find_executable(str(tmp_path / "gone"))


def test_bare_service_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse("service")
    assert args.func(args) == 2
    assert "install" in capsys.readouterr().err
