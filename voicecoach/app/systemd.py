"""Carry out a service plan on this machine, and ask systemd how the service is doing.

The plans and the unit are pure data in `voicecoach.app.service`; this is the part that runs commands
and writes files, so it is kept small and every outside call (runner, root, which) can be replaced.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from voicecoach.app.durable import fsync_folder
from voicecoach.app.service import (
    UNIT_NAME,
    Command,
    RemoveFile,
    ServiceError,
    ServiceSettings,
    ServiceUsageError,
    Step,
    WriteFile,
)

SYSTEMD_RUN_DIR = Path("/run/systemd/system")
"""Exists only when systemd is PID 1 (sd_booted()); looked up at call time so tests can point it elsewhere."""
COMMAND_TIMEOUT_S = 120.0
"""`systemctl enable --now` waits for the start job; a wedged sound card must not hang the installer."""

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def check_host(
    action: str,
    *,
    euid: int | None = None,
    which: Callable[[str], str | None] = shutil.which,
    systemd_dir: Path | None = None,
) -> None:
    """Refuse early, with one line, where the plan cannot work; nothing has been changed yet."""
    systemd_dir = SYSTEMD_RUN_DIR if systemd_dir is None else systemd_dir
    # systemd first: on a machine without it, sudo would not help.
    if which("systemctl") is None or not systemd_dir.is_dir():
        raise ServiceUsageError("systemd is not running here; use --dry-run to see the unit")
    if (os.geteuid() if euid is None else euid) != 0:
        raise ServiceUsageError(f"service {action} changes /etc and systemd: run it again with sudo")


def run_plan(
    steps: Sequence[Step],
    *,
    runner: Runner | None = None,
    root: Path = Path("/"),
    preflight: Callable[[], None] | None = None,
) -> list[str]:
    """Carry out `steps` in order; return one line per step saying what happened.

    File steps happen under `root` (tests, image builds); commands run as they are. `preflight`
    (usually `lambda: check_host("install")`) runs first. Stops at the first failure with `ServiceError`.
    """
    run = runner or subprocess.run  # looked up per call so tests can patch subprocess.run
    if preflight is not None:
        preflight()
    report: list[str] = []
    for step in steps:
        if isinstance(step, Command):
            done = _run_command(step, run, root)
        elif isinstance(step, WriteFile):
            done = _write_file(step, _under(root, step.path))
        else:
            done = _remove_file(step, _under(root, step.path))
        report.append(f"{'done' if done else 'skipped'}: {step.description}")
    return report


def _under(root: Path, path: Path) -> Path:
    return root / path.relative_to(path.anchor)


def _call(step: Command, argv: tuple[str, ...], run: Runner) -> subprocess.CompletedProcess[str]:
    try:
        return run(list(argv), capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as err:  # useradd missing, a hung systemctl
        raise ServiceError(f"{step.description} failed ({shlex.join(argv)}): {err}") from err


def _run_command(step: Command, run: Runner, root: Path) -> bool:
    if step.needs is not None and not _under(root, step.needs).exists():
        return False
    if step.skip_if is not None and _call(step, step.skip_if, run).returncode == 0:
        return False
    result = _call(step, step.argv, run)
    if result.returncode != 0:
        raise ServiceError(f"{step.description} failed ({shlex.join(step.argv)}): {_last_line(result)}")
    return True


def _last_line(result: subprocess.CompletedProcess[Any]) -> str:
    for stream in (result.stderr, result.stdout):
        lines = str(stream or "").strip().splitlines()
        if lines:
            return lines[-1].strip()
    return f"exit status {result.returncode}"


def _write_file(step: WriteFile, path: Path) -> bool:
    if step.keep_existing and path.exists():
        return False
    # Write beside it and rename, so a power cut leaves the old unit or the new one, never half of one.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, step.mode)
        try:
            os.fchmod(fd, step.mode)  # the umask must not decide who can read the unit
            os.write(fd, step.content.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        fsync_folder(path.parent)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise ServiceError(f"{step.description} failed: {path}: {err.strerror or err}") from err
    return True


def _remove_file(step: RemoveFile, path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as err:
        raise ServiceError(f"{step.description} failed: {path}: {err.strerror or err}") from err
    fsync_folder(path.parent)
    return True


def reach_problem(settings: ServiceSettings) -> str | None:
    """Why the service user could not run the executable, or None.

    Debian 12 creates home folders 0700, so a checkout in /home/pi installs fine and then fails with
    status 203/EXEC on every restart. Only the owner and "other" bits are trusted: a new system user
    belongs to no group that could open the way.
    """
    try:
        uid: int | None = pwd.getpwnam(settings.user).pw_uid
    except KeyError:
        uid = None  # created by the plan, so it owns nothing yet
    if uid == 0:
        return None
    target = settings.executable
    for place in [*reversed(target.parents), target]:
        try:
            info = place.stat()
        except OSError as err:
            return f"the service cannot start {target}: {place}: {err.strerror}"
        needed = stat.S_IXOTH | (stat.S_IROTH if place == target else 0)  # a script is read by its interpreter
        if info.st_uid != uid and info.st_mode & needed != needed:
            fix = "rx" if place == target else "x"
            return (
                f"user {settings.user} cannot reach {target}: {place} is mode {info.st_mode & 0o7777:04o}; "
                f"move the checkout somewhere readable (e.g. /opt/voicecoach) or run: chmod o+{fix} {place}"
            )
    return None


def status(
    *,
    runner: Runner | None = None,
    which: Callable[[str], str | None] = shutil.which,
    systemd_dir: Path | None = None,
    journal_lines: int = 5,
) -> list[str]:
    """Whether the service runs and starts on boot, and its last journal lines, as text lines."""
    run = runner or subprocess.run
    if which("systemctl") is None or not (SYSTEMD_RUN_DIR if systemd_dir is None else systemd_dir).is_dir():
        return ["systemd is not running here, so the service cannot run"]
    lines = [
        f"running: {_answer(run, ('systemctl', 'is-active', UNIT_NAME))}",
        f"on boot: {_answer(run, ('systemctl', 'is-enabled', UNIT_NAME))}",
    ]
    if which("journalctl") is not None:
        probe = Command("read the journal", ("journalctl", "-u", "voicecoach", "-n", str(journal_lines), "--no-pager"))
        result = _call(probe, probe.argv, run)
        journal = str(result.stdout or result.stderr or "").strip().splitlines()
        lines.append(f"last {journal_lines} journal lines:")
        lines.extend(f"  {line}" for line in journal or ["(none)"])
    return lines


def _answer(run: Runner, argv: tuple[str, ...]) -> str:
    """The one-word answer of `systemctl is-*`; these exit non-zero for "inactive", which is an answer too."""
    result = _call(Command(argv[1], argv), argv, run)
    out = str(result.stdout or "").strip().splitlines()
    return out[0] if out else _last_line(result)
