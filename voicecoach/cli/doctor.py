"""`voicecoach doctor`: one line per check of the box (engine, microphone, speaker, memory, disk, heat).

Exit status 0 when no check failed (warnings allowed), else 1. Settings come from the config file
(`load_config`); --input/--output/--model override it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from voicecoach.cli.options import add_config_option, load_settings
from voicecoach.errors import UsageError

_SHOWN = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def register(sub: Any) -> None:
    doctor = sub.add_parser("doctor", help="check the engine, microphone, speaker, memory, disk and CPU heat")
    doctor.add_argument("--input", metavar="DEVICE", help="microphone: index or part of its name")
    doctor.add_argument("--output", metavar="DEVICE", help="speaker: index or part of its name")
    doctor.add_argument("--model", metavar="PATH", help="Vosk model folder to check")
    add_config_option(doctor)
    doctor.add_argument(
        "--seconds",
        type=float,
        help="seconds of the room's own noise to record before the test phrase (default 1.5)",
    )
    doctor.add_argument("--json", action="store_true", help="one JSON object per check")
    doctor.set_defaults(func=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    from voicecoach.app.doctor import NOISE_SECONDS, DoctorOptions, default_folders, iter_checks

    seconds = NOISE_SECONDS if args.seconds is None else args.seconds
    if not 0.3 <= seconds <= 30:
        raise UsageError("--seconds must be between 0.3 and 30")
    config = load_settings(args)
    folders = default_folders()
    if config.log.folder is not None:
        folders = (*folders, Path(config.log.folder))
    options = DoctorOptions(
        input=config.audio.input,
        output=config.audio.output,
        model=config.engine.model,
        seconds=seconds,
        folders=folders,
    )
    failed = False
    for check in iter_checks(options):
        failed = failed or check.status == "fail"
        if args.json:
            print(json.dumps(check.as_json(), ensure_ascii=False), flush=True)
        else:
            line = f"{_SHOWN[check.status]:5} {check.name}: {check.detail}"
            if check.fix:
                line += f" -> fix: {check.fix}"
            print(line, flush=True)
    return 1 if failed else 0


__all__ = ["register", "run_doctor"]
