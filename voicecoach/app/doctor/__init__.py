"""`voicecoach doctor`: is this box ready to coach? One `Check` per question, each with its fix.

The checks, in order: the speech engine and model; the microphone (present, and its level); the
speaker (plays a test phrase, and the microphone hears it clearly over the room's own noise); free
memory; free disk; CPU temperature; power/throttling. A reading this machine does not expose, or the
bundled engine running for want of a Vosk model, is a warning, not a failure.

Nothing here prints: `voicecoach.cli.doctor` shows the checks. The level analysis and the readers are
pure functions over arrays and file paths, so tests can feed them synthetic audio and fake /proc files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from voicecoach.app.doctor.checks import DBFS_FLOOR, GOOD_SNR_DB, HEARD_SNR_DB, NOISE_SECONDS, Check, DoctorOptions
from voicecoach.app.doctor.host import (
    check_disk,
    check_engine,
    check_memory,
    check_temperature,
    check_throttling,
    read_available_mb,
    read_temperature_c,
    read_throttled,
)
from voicecoach.app.doctor.levels import (
    Level,
    analyse,
    dbfs,
    frame_levels,
    microphone_check,
    phrase_snr_db,
    speaker_check,
)
from voicecoach.app.doctor.sound import check_sound


def default_folders() -> tuple[Path, ...]:
    """Where voicecoach writes: the models folder and the log folder."""
    import platformdirs

    from voicecoach.recognizer.models import data_dir

    return (data_dir(), platformdirs.user_state_path("voicecoach"))


def iter_checks(options: DoctorOptions) -> Iterator[Check]:
    """The checks in report order, each as soon as it is done (the sound check takes a few seconds)."""
    yield check_engine(options.model)
    if options.sound:
        yield from check_sound(options)
    yield check_memory(options.meminfo)
    yield check_disk(options.folders or default_folders())
    yield check_temperature(options.thermal)
    yield check_throttling(options.throttled_command)


def run_checks(options: DoctorOptions | None = None) -> list[Check]:
    return list(iter_checks(options or DoctorOptions()))


def passed(checks: Sequence[Check]) -> bool:
    """True when nothing failed (warnings allowed)."""
    return all(check.status != "fail" for check in checks)


__all__ = [
    "DBFS_FLOOR",
    "GOOD_SNR_DB",
    "HEARD_SNR_DB",
    "NOISE_SECONDS",
    "Check",
    "DoctorOptions",
    "Level",
    "analyse",
    "check_disk",
    "check_engine",
    "check_memory",
    "check_sound",
    "check_temperature",
    "check_throttling",
    "dbfs",
    "default_folders",
    "frame_levels",
    "iter_checks",
    "microphone_check",
    "passed",
    "phrase_snr_db",
    "read_available_mb",
    "read_temperature_c",
    "read_throttled",
    "run_checks",
    "speaker_check",
]
