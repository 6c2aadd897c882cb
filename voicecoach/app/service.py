"""Run the coach on boot as a systemd service: the unit text and the steps that install or remove it.

Everything here is data first (`unit_text`, `install_plan`, `uninstall_plan`) so `--dry-run` can show
exactly what would happen; `voicecoach.app.systemd` is the part that carries them out.

Targets Debian 12 / 64-bit Raspberry Pi OS, i.e. systemd 252: no unit key newer than that is used.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from voicecoach.errors import UsageError, VoicecoachError

UNIT_NAME = "voicecoach.service"
UNIT_PATH = Path("/etc/systemd/system") / UNIT_NAME
STATE_DIR = Path("/var/lib/voicecoach")
"""What `StateDirectory=voicecoach` creates, owned by the service user."""
DEFAULT_CONFIG = Path("/etc/voicecoach/config.toml")

CONFIG_PLACEHOLDER = """\
# voicecoach settings for the boot-time service, which runs `voicecoach listen --config` on this file.
# Every key is optional and the built-in defaults apply until you set one here.
# `voicecoach config example` prints all keys with their defaults and what each one does.
"""

_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")  # Debian's adduser NAME_REGEX, without the Samba `$`


class ServiceError(VoicecoachError):
    """A service step that failed; one line naming the step and why."""

    exit_status = 1


class ServiceUsageError(ServiceError, UsageError):
    """Wrong place or privileges to install (not root, no systemd): nothing was changed."""

    exit_status = 2


@dataclass(frozen=True)
class ServiceSettings:
    executable: Path
    """The venv's `voicecoach` script, absolute; the CLI finds it, it is never hard-coded."""
    user: str = "voicecoach"
    config: Path = DEFAULT_CONFIG
    working_dir: Path = STATE_DIR

    def __post_init__(self) -> None:
        if not _USER_NAME.fullmatch(self.user):
            raise UsageError(f"--user {self.user!r}: not a valid Debian user name (lower-case letters, digits, _ -)")
        for name, path in (("executable", self.executable), ("config", self.config), ("working dir", self.working_dir)):
            if not path.is_absolute():
                raise UsageError(f"{name} {path}: must be an absolute path (the service does not start in this folder)")
            # A newline would let a path inject its own unit lines.
            if any(ord(char) < 32 for char in str(path)):
                raise UsageError(f"{name} {str(path)!r}: control characters are not allowed in a unit file")


@dataclass(frozen=True)
class Command:
    description: str
    argv: tuple[str, ...]
    skip_if: tuple[str, ...] | None = None
    """A probe: when it exits 0 the step is already done (e.g. the user exists) and is skipped."""
    needs: Path | None = None
    """Skip the step when this file is absent (nothing to disable if the unit was never installed)."""


@dataclass(frozen=True)
class WriteFile:
    description: str
    path: Path
    content: str
    mode: int = 0o644
    keep_existing: bool = False
    """True for files the owner edits (the config): never overwrite their work."""


@dataclass(frozen=True)
class RemoveFile:
    description: str
    path: Path


Step = Command | WriteFile | RemoveFile


def _unit_word(word: str) -> str:
    """One ExecStart= word: `%` (specifiers) and `$` (variables) doubled, quoted when it holds spaces."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if any(char.isspace() or char in "\"'\\;" for char in escaped):
        escaped = '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def unit_text(settings: ServiceSettings) -> str:
    exec_start = " ".join(
        _unit_word(word) for word in (str(settings.executable), "listen", "--config", str(settings.config))
    )
    state = STATE_DIR
    return f"""\
# voicecoach: the offline voice coach, started on boot. Written by `voicecoach service install`;
# run that again after changing options, or use `systemctl edit voicecoach` for local overrides.
[Unit]
Description=voicecoach offline voice coach
# Start once the sound card is up. No PulseAudio/PipeWire user session is needed: the service opens
# the card through ALSA/PortAudio directly, as a member of group audio (see SupplementaryGroups=).
After=sound.target
Wants=sound.target
# Never give up restarting: nobody is at an unattended rack to run `systemctl reset-failed`.
StartLimitIntervalSec=0

[Service]
Type=simple
User={settings.user}
SupplementaryGroups=audio
WorkingDirectory={settings.working_dir}
ExecStart={exec_start}
# A fixed back-off between restarts: systemd 252 (Debian 12) has no RestartSteps=.
Restart=on-failure
RestartSec=5
# The turn log and the speech model live in {state}; point platformdirs (and HOME, as the
# system user has none) inside it.
StateDirectory=voicecoach
Environment=XDG_STATE_HOME={state} XDG_DATA_HOME={state} HOME={state}
Environment=PYTHONUNBUFFERED=1
StandardOutput=journal
StandardError=journal
SyslogIdentifier=voicecoach
# Stop on SIGTERM; after 5 s systemd sends SIGKILL, so a stuck audio stream cannot hold up a shutdown.
KillSignal=SIGTERM
TimeoutStopSec=5
# Light hardening that keeps the sound card and the venv reachable: PrivateDevices= would hide
# /dev/snd, and ProtectHome= a checkout in /home.
NoNewPrivileges=yes
ProtectSystem=full
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
"""


def install_plan(settings: ServiceSettings) -> list[Step]:
    user = settings.user
    return [
        Command(
            f"create the system user {user} (group audio) unless it exists",
            ("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups", "audio", user),
            skip_if=("getent", "passwd", user),
        ),
        WriteFile(
            f"write a placeholder config unless {settings.config} exists",
            settings.config,
            CONFIG_PLACEHOLDER,
            keep_existing=True,
        ),
        WriteFile(f"write the unit {UNIT_PATH}", UNIT_PATH, unit_text(settings)),
        Command("reload systemd's unit files", ("systemctl", "daemon-reload")),
        # Re-installing over a running service (new --config, moved venv) must take effect now;
        # try-restart does nothing on a first install, where the next step starts it.
        Command("restart the service if it is already running", ("systemctl", "try-restart", UNIT_NAME)),
        Command("start the service now and on every boot", ("systemctl", "enable", "--now", UNIT_NAME)),
    ]


def uninstall_plan(settings: ServiceSettings) -> list[Step]:
    del settings  # same signature as install_plan; what is removed does not depend on the options
    return [
        Command(
            "stop the service and remove it from boot", ("systemctl", "disable", "--now", UNIT_NAME), needs=UNIT_PATH
        ),
        RemoveFile(f"remove the unit {UNIT_PATH}", UNIT_PATH),
        Command("reload systemd's unit files", ("systemctl", "daemon-reload")),
    ]


def kept_after_uninstall(settings: ServiceSettings) -> str:
    return (
        f"kept: {settings.config}, the user {settings.user}, and the turn log and model in {STATE_DIR} "
        "(remove them by hand if you no longer want them)"
    )


def describe(step: Step) -> str:
    """What a step does as one line: commands shell-quoted (pasteable), files as `write PATH (N bytes)`."""
    if isinstance(step, Command):
        line = shlex.join(step.argv)
        if step.skip_if is not None:
            line = f"{shlex.join(step.skip_if)} >/dev/null || {line}"
        if step.needs is not None:
            line = f"test -e {shlex.quote(str(step.needs))} && {line}"
        return line
    if isinstance(step, WriteFile):
        size = len(step.content.encode())
        return f"write {step.path} ({size} bytes, mode {step.mode:04o})" + (
            " unless it exists" if step.keep_existing else ""
        )
    return f"rm -f {shlex.quote(str(step.path))}"
