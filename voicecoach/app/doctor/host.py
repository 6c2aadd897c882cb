"""The box itself: speech engine, memory, disk, CPU temperature and power, read where the machine exposes them."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from voicecoach.errors import ModelError

if TYPE_CHECKING:
    pass

from voicecoach.app.doctor.checks import (
    FAIL_TEMPERATURE_C,
    MEMINFO,
    MIN_DISK_MB,
    MIN_MEMORY_MB,
    THERMAL_ZONE,
    THROTTLED_COMMAND,
    WARN_TEMPERATURE_C,
    Check,
)

# --- readers ----------------------------------------------------------------------------------

_NOT_EXPOSED = "not exposed here"


def read_available_mb(path: Path = MEMINFO) -> float | None:
    """MemAvailable in MB from a /proc/meminfo-style file; None when missing or unreadable."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.strip() == "MemAvailable":
            parts = rest.split()
            try:
                kilobytes = float(parts[0])
            except (IndexError, ValueError):
                return None
            return kilobytes / 1024
    return None


def read_temperature_c(path: Path = THERMAL_ZONE) -> float | None:
    """CPU temperature from a sysfs thermal zone (millidegrees C); None when missing or unreadable."""
    try:
        return int(path.read_text().strip()) / 1000
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def read_throttled(command: Sequence[str] = THROTTLED_COMMAND) -> int | None:
    """The Pi firmware's throttle flags (`vcgencmd get_throttled` -> "throttled=0x50005"); None if absent."""
    if not command or shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    _, _, value = done.stdout.strip().partition("=")
    if done.returncode != 0 or not value:
        return None
    try:
        return int(value, 0)
    except ValueError:
        return None


def free_mb(folder: Path) -> tuple[Path, float] | None:
    """Free MB on the file system `folder` lives on (or would: its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        try:
            if candidate.exists():
                return candidate, shutil.disk_usage(candidate).free / 1024**2
        except OSError:
            return None
    return None


# --- the checks -------------------------------------------------------------------------------


def check_engine(model: str | Path | None = None) -> Check:
    """Which recogniser `voicecoach listen` would run, without loading it."""
    from voicecoach.recognizer.models import check_model_folder, find_model

    path, why = find_model(model)
    if path is not None:
        try:
            check_model_folder(path)
        except ModelError as err:
            detail, _, fix = str(err).rpartition("; ")
            return Check("engine", "fail", f"Vosk model ({why}) {detail}", fix)
        if importlib.util.find_spec("vosk") is None:
            return Check("engine", "fail", f"Vosk model {path} ({why}) but no vosk package", "pip install vosk")
        return Check("engine", "ok", f"vosk with {path} ({why})")
    if importlib.util.find_spec("pocketsphinx") is None:
        return Check(
            "engine",
            "fail",
            "no speech engine: neither a Vosk model nor pocketsphinx",
            "voicecoach model download (or install pocketsphinx on a 64-bit OS)",
        )
    return Check(
        "engine",
        "warn",
        "pocketsphinx with its bundled US English model runs; no Vosk model installed",
        "for better recognition: voicecoach model download (~40 MB)",
    )


def check_memory(meminfo: Path = MEMINFO) -> Check:
    available = read_available_mb(meminfo)
    if available is None:
        return Check("memory", "warn", f"available memory {_NOT_EXPOSED} ({meminfo})")
    detail = f"{available:.0f} MB available"
    if available < MIN_MEMORY_MB:
        return Check(
            "memory",
            "fail",
            f"{detail}, needs {MIN_MEMORY_MB} MB",
            "close other programs (or add swap: sudo dphys-swapfile setup)",
        )
    return Check("memory", "ok", detail)


def check_disk(folders: Sequence[Path]) -> Check:
    """Free space where voicecoach writes (models, logs): the fullest of their file systems."""
    readings = [reading for folder in folders if (reading := free_mb(folder)) is not None]
    if not readings:
        return Check("disk", "warn", f"free space {_NOT_EXPOSED} ({', '.join(map(str, folders))})")
    where, free = min(readings, key=lambda reading: reading[1])
    detail = f"{free:.0f} MB free on {where}"
    if free < MIN_DISK_MB:
        return Check(
            "disk",
            "fail",
            f"{detail}, needs {MIN_DISK_MB} MB",
            "free space: sudo apt-get clean, delete old logs (voicecoach log folder)",
        )
    return Check("disk", "ok", detail)


def check_temperature(thermal: Path = THERMAL_ZONE) -> Check:
    celsius = read_temperature_c(thermal)
    if celsius is None:
        return Check("temperature", "warn", f"CPU temperature {_NOT_EXPOSED} ({thermal})")
    detail = f"CPU {celsius:.0f} C"
    fix = "cool the Pi: a heatsink or fan, a case with air holes, out of the sun"
    if celsius >= FAIL_TEMPERATURE_C:
        return Check("temperature", "fail", f"{detail}: the Pi slows down from 80 C", fix)
    if celsius >= WARN_TEMPERATURE_C:
        return Check("temperature", "warn", f"{detail}: close to the 80 C where the Pi slows down", fix)
    return Check("temperature", "ok", detail)


_UNDER_VOLTAGE, _CAPPED, _THROTTLED, _SOFT_TEMP = 0x1, 0x2, 0x4, 0x8
_SINCE_BOOT = 16
"""`get_throttled` bits 0-3 are now; the same bits shifted by 16 say it happened since boot."""
_POWER_FIX = "use the official power supply (5 V, 3 A or more) and a short, thick cable"


def check_throttling(command: Sequence[str] = THROTTLED_COMMAND) -> Check:
    flags = read_throttled(command)
    if flags is None:
        return Check("throttling", "warn", f"throttling {_NOT_EXPOSED} (no {' '.join(command[:1]) or 'command'})")
    now, past = flags & 0xF, (flags >> _SINCE_BOOT) & 0xF
    if flags == 0:
        return Check("throttling", "ok", "no under-voltage or throttling since boot")

    def words(bits: int) -> str:
        names = [
            (_UNDER_VOLTAGE, "under-voltage"),
            (_CAPPED, "CPU speed capped"),
            (_THROTTLED, "throttled"),
            (_SOFT_TEMP, "soft temperature limit"),
        ]
        return ", ".join(name for bit, name in names if bits & bit)

    fix = _POWER_FIX if (now | past) & _UNDER_VOLTAGE else "cool the Pi: a heatsink or fan, out of the sun"
    if now:
        return Check("throttling", "fail", f"now: {words(now)} (get_throttled {flags:#x})", fix)
    return Check("throttling", "warn", f"since boot: {words(past)} (get_throttled {flags:#x})", fix)
