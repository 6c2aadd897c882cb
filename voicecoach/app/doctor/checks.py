"""What a doctor check reports, the options it runs with, and the thresholds it judges by."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from voicecoach.audio.format import CHUNK_SAMPLES

if TYPE_CHECKING:
    pass


Status = Literal["ok", "warn", "fail"]

TEST_PHRASE = "Coach check. One, two, three."

# --- thresholds -------------------------------------------------------------------------------

FULL_SCALE = 32768.0
"""int16 full scale: 0 dBFS."""
DBFS_FLOOR = -96.0
"""Digital silence reads as this instead of minus infinity: the dynamic range of 16-bit audio."""
FRAME_SAMPLES = CHUNK_SAMPLES
"""30 ms at 16 kHz: the frame the recognisers' endpointer judges speech by, so levels use it too."""
FLOOR_PERCENTILE = 10.0
"""The noise floor is the level 10% of frames stay under: the room between sounds, ignoring clanks."""
LOUD_PERCENTILE = 90.0
"""The loud part is the level 10% of frames reach: speech, not the pauses between words."""

TOO_QUIET_DBFS = -60.0
"""Room noise and the test phrase both under this: a live microphone in any gym picks up more than
that (speech at a metre is ~-30 dBFS on a USB microphone at normal gain), so it is muted or unplugged."""
CLIP_LEVEL = 32767
"""A sample at (or beyond) this magnitude hit full scale."""
MAX_CLIPPED_FRACTION = 0.001
"""More than 0.1% of samples at full scale is audible distortion, and recognisers mistake it for noise."""
HEARD_SNR_DB = 10.0
"""The phrase's loud part 10 dB over the room's noise: clearly the phrase, not a louder moment of the room."""
GOOD_SNR_DB = 15.0
"""A voice needs ~15 dB over the noise for reliable recognition (Vosk and PocketSphinx both fall
apart quickly below it); between HEARD and GOOD the coach hears but often mishears."""

MIN_MEMORY_MB = 150
"""A Vosk small model plus espeak-ng and Python need ~150 MB beyond what is already running."""
MIN_DISK_MB = 200
"""A Vosk small model download (~40 MB zip, ~70 MB unpacked, both on disk at once) plus months of logs."""
WARN_TEMPERATURE_C = 75.0
"""Pi 4 and 5 slow the CPU (soft limit) from 80 C; 75 C leaves no margin in a warm gym."""
FAIL_TEMPERATURE_C = 82.0
"""Past the soft limit: the Pi is throttling now, and the recogniser falls behind real time."""

NOISE_SECONDS = 1.5
"""Default seconds of the room's own noise recorded before the test phrase."""
FIRST_AUDIO_TIMEOUT = 6.0
"""PulseAudio capture starts ~2 s after a stream opens; no audio after this long means a dead input."""

MEMINFO = Path("/proc/meminfo")
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
THROTTLED_COMMAND = ("vcgencmd", "get_throttled")

_NO_SOUND_FIX = "plug one in, or start the sound server (PulseAudio/PipeWire)"
_NOISE_FIX = "move the microphone closer to where lifters stand, turn it away from the speaker, lower the music"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    """What to do about a warning or failure; empty when there is nothing to do."""

    def as_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class DoctorOptions:
    input: int | str | None = None
    output: int | str | None = None
    model: str | Path | None = None
    """Vosk model folder (--model, config engine.model); None: $VOICECOACH_MODEL or the installed one."""
    seconds: float = NOISE_SECONDS
    """Seconds of the room's own noise to record before the test phrase."""
    folders: tuple[Path, ...] = ()
    """Where voicecoach writes (models, logs); empty: the defaults."""
    phrase: str = TEST_PHRASE
    meminfo: Path = MEMINFO
    thermal: Path = THERMAL_ZONE
    throttled_command: Sequence[str] = THROTTLED_COMMAND
    sound: bool = True
    """False skips the microphone and speaker (for tests of the rest)."""
