"""`voicecoach service install|uninstall|status`: start the coach on boot with systemd."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voicecoach.app import service, systemd
from voicecoach.app.service import ServiceSettings, ServiceUsageError, Step
from voicecoach.errors import UsageError


def register(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser("service", help="start the coach on boot (systemd)")
    actions = parser.add_subparsers(metavar="ACTION")
    install = actions.add_parser("install", help="install and start the boot-time service (needs sudo)")
    _options(install)
    install.set_defaults(func=run_install)
    uninstall = actions.add_parser("uninstall", help="stop and remove the service; keeps config and logs")
    _options(uninstall)
    uninstall.set_defaults(func=run_uninstall)
    status = actions.add_parser("status", help="is it running, does it start on boot, its last log lines")
    status.set_defaults(func=run_status)
    parser.set_defaults(func=lambda _args: _usage(parser))
    return parser


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the unit and every step; change nothing")
    parser.add_argument(
        "--user", default="voicecoach", metavar="NAME", help="system user to run as (default %(default)s)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=service.DEFAULT_CONFIG,
        metavar="PATH",
        help="config file the service reads (default %(default)s)",
    )
    parser.add_argument(
        "--executable", type=Path, metavar="PATH", help="the voicecoach script to run (default: the one running now)"
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def find_executable(argv0: str | None = None) -> Path:
    """The `voicecoach` script that is running now, as an absolute path the service can start."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    candidate: str | None
    if argv0.endswith(".py") or argv0 in ("", "-c"):
        # `python -m voicecoach`: the script sits beside this venv's python.
        beside = Path(sys.executable).parent / "voicecoach"
        candidate = str(beside) if beside.is_file() else shutil.which("voicecoach")
    elif os.sep in argv0:
        # `./coach` runs `.venv/bin/voicecoach`, relative to the checkout: make it absolute, keep venv symlinks.
        candidate = os.path.abspath(argv0)
    else:
        candidate = shutil.which(argv0)
    if candidate is None or not Path(candidate).is_file():
        raise UsageError("cannot tell which voicecoach script to run; pass --executable PATH")
    return Path(candidate)


def _settings(args: argparse.Namespace) -> ServiceSettings:
    executable = args.executable or find_executable()
    return ServiceSettings(
        executable=Path(os.path.abspath(executable)), user=args.user, config=Path(os.path.abspath(args.config))
    )


def run_install(args: argparse.Namespace) -> int:
    settings = _settings(args)
    steps = service.install_plan(settings)
    problem = systemd.reach_problem(settings)
    if args.dry_run:
        print(f"# {service.UNIT_PATH}")
        print(service.unit_text(settings))
        _print_steps(steps)
        if problem:
            print(f"voicecoach: warning: {problem}", file=sys.stderr)
        return 0
    systemd.check_host("install")
    if problem:
        # Installing anyway would restart-loop every 5 s with status 203/EXEC.
        raise ServiceUsageError(problem)
    for line in systemd.run_plan(steps):
        print(line)
    print("voicecoach now starts on boot: `voicecoach service status`, or follow it with `journalctl -u voicecoach -f`")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    # Uninstalling needs no working executable: fall back to a placeholder so a deleted venv can still be removed.
    try:
        settings = _settings(args)
    except UsageError:
        settings = ServiceSettings(
            executable=Path("/usr/bin/false"), user=args.user, config=Path(os.path.abspath(args.config))
        )
    steps = service.uninstall_plan(settings)
    if args.dry_run:
        _print_steps(steps)
    else:
        systemd.check_host("uninstall")
        for line in systemd.run_plan(steps):
            print(line)
    print(service.kept_after_uninstall(settings))
    return 0


def run_status(args: argparse.Namespace) -> int:
    del args
    for line in systemd.status():
        print(line)
    return 0


def _print_steps(steps: Sequence[Step]) -> None:
    print("# steps (dry run: nothing was changed)")
    for number, step in enumerate(steps, 1):
        print(f"{number}. {step.description}")
        print(f"   {service.describe(step)}")
