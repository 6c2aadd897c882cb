"""`voicecoach doctor`: is this box ready to coach? One `Check` per question, each with its fix.

The checks, in order: the speech engine and model; the microphone (present, and its level); the
speaker (plays a test phrase, and the microphone hears it clearly over the room's own noise); free
memory; free disk; CPU temperature; power/throttling. A reading this machine does not expose, or the
bundled engine running for want of a Vosk model, is a warning, not a failure.

Nothing here prints: `voicecoach.cli.doctor` shows the checks. The level analysis and the readers are
pure functions over arrays and file paths, so tests can feed them synthetic audio and fake /proc files.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from voicecoach.audio.format import CHUNK_SAMPLES
from voicecoach.errors import AudioDeviceError, ModelError, SynthesisError

if TYPE_CHECKING:
    import numpy as np

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


# --- level analysis -----------------------------------------------------------------------------


def dbfs(rms_value: float) -> float:
    """An RMS (int16 units) in dB relative to full scale; silence is `DBFS_FLOOR`."""
    if rms_value <= 0:
        return DBFS_FLOOR
    return max(DBFS_FLOOR, 20.0 * math.log10(rms_value / FULL_SCALE))


def frame_levels(samples: np.ndarray, frame: int = FRAME_SAMPLES) -> np.ndarray:
    """dBFS of each whole 30 ms frame (a partial last frame is dropped)."""
    import numpy as np

    count = len(samples) // frame
    if count == 0:
        return np.zeros(0)
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    power = np.mean(frames**2, axis=1)
    with np.errstate(divide="ignore"):
        levels: np.ndarray = np.maximum(10.0 * np.log10(power / FULL_SCALE**2), DBFS_FLOOR)
    return levels


@dataclass(frozen=True)
class Level:
    """How loud a recording is, in dBFS."""

    rms_db: float
    """The whole recording's RMS level: every sound counts, music and clatter included."""
    peak_db: float
    floor_db: float
    """Noise floor: a low percentile of the 30 ms frame levels."""
    loud_db: float
    """The loud part: a high percentile of the 30 ms frame levels."""
    clipped: float
    """Fraction of samples at full scale."""
    seconds: float

    @property
    def snr_db(self) -> float:
        """The loud part over the floor, in dB."""
        return self.loud_db - self.floor_db

    @property
    def clipping(self) -> bool:
        return self.clipped > MAX_CLIPPED_FRACTION

    @property
    def too_quiet(self) -> bool:
        """Even its loud part is under `TOO_QUIET_DBFS`."""
        return self.loud_db < TOO_QUIET_DBFS


def analyse(samples: np.ndarray, rate: int = 16_000) -> Level:
    """The level of int16 `samples` (see `Level`)."""
    import numpy as np

    data = np.asarray(samples).astype(np.float64)
    if len(data) == 0:
        return Level(DBFS_FLOOR, DBFS_FLOOR, DBFS_FLOOR, DBFS_FLOOR, 0.0, 0.0)
    levels = frame_levels(data)
    if len(levels) == 0:
        levels = np.array([dbfs(float(np.sqrt(np.mean(data**2))))])
    return Level(
        rms_db=dbfs(float(np.sqrt(np.mean(data**2)))),
        peak_db=dbfs(float(np.max(np.abs(data)))),
        floor_db=float(np.percentile(levels, FLOOR_PERCENTILE)),
        loud_db=float(np.percentile(levels, LOUD_PERCENTILE)),
        clipped=float(np.mean(np.abs(data) >= CLIP_LEVEL)),
        seconds=len(data) / rate,
    )


def phrase_snr_db(noise: Level, phrase: Level) -> float:
    """The test phrase's loud part over the room's noise, in dB.

    The noise is its RMS, not its floor: music and clatter between the quiet moments mask a voice just
    as much, so they count against it. The phrase was recorded with the room under it, so the room's
    power is taken off first (at 5 dB the mixture alone reads 1 dB too high)."""
    room = 10 ** (noise.rms_db / 10)
    voice = max(10 ** (phrase.loud_db / 10) - room, 10 ** (DBFS_FLOOR / 10))
    return 10 * math.log10(voice) - noise.rms_db


def microphone_check(device: str, noise: Level, phrase: Level) -> Check:
    """Too quiet (muted, unplugged), clipping (gain too high), else its levels."""
    detail = f"{device!r} level {phrase.loud_db:.0f} dBFS, room noise {noise.rms_db:.0f} dBFS"
    if noise.too_quiet and phrase.too_quiet:
        return Check(
            "microphone",
            "fail",
            f"{device!r} hears almost nothing (level {max(noise.loud_db, phrase.loud_db):.0f} dBFS, "
            f"under {TOO_QUIET_DBFS:.0f} dBFS)",
            "microphone muted or unplugged? check its gain (alsamixer)",
        )
    clipped = max(noise.clipped, phrase.clipped)
    if noise.clipping or phrase.clipping:
        return Check(
            "microphone",
            "warn",
            f"{detail}; {100 * clipped:.1f}% of samples clip at full scale",
            "lower the microphone gain (alsamixer)",
        )
    return Check("microphone", "ok", detail)


def _cut_short(device: str) -> Check:
    return Check(
        "speaker",
        "fail",
        f"{device!r} stopped before the end of the test phrase",
        "check the speaker is connected; restart the sound server",
    )


def speaker_check(device: str, noise: Level, phrase: Level, *, played: bool = True) -> Check:
    """Did the microphone hear the phrase, and clearly enough over the room's noise for recognition?"""
    if not played:
        return _cut_short(device)
    snr = phrase_snr_db(noise, phrase)
    said = f"played the test phrase on {device!r}"
    if noise.too_quiet and phrase.too_quiet:
        return Check(
            "speaker",
            "warn",
            f"{said}; the microphone hears nothing, so it cannot tell whether the phrase was heard",
            "fix the microphone first; if you did not hear the phrase either, turn the speaker on and up",
        )
    if snr >= GOOD_SNR_DB:
        return Check("speaker", "ok", f"{said}; the microphone heard it, SNR {snr:.0f} dB over the room's noise")
    if snr >= HEARD_SNR_DB:
        return Check(
            "speaker",
            "warn",
            f"{said}; heard only {snr:.0f} dB over the room's noise (a voice needs {GOOD_SNR_DB:.0f} dB "
            "to be recognised reliably)",
            _NOISE_FIX,
        )
    return Check(
        "speaker",
        "warn",
        f"{said}; the microphone did not hear it (SNR {snr:.0f} dB, needs {HEARD_SNR_DB:.0f})",
        "if you did not hear the phrase, turn the speaker on and up; if you did, the room drowns it at the microphone: "
        + _NOISE_FIX,
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


class _Recorder:
    """Reads a `Microphone` on its own thread; `since(mark)` is what it heard after `mark()`."""

    def __init__(self, microphone: Any) -> None:
        self._microphone = microphone
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self.live = threading.Event()
        self._thread = threading.Thread(target=self._run, name="doctor-mic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for chunk in self._microphone:
            with self._lock:
                self._chunks.append(chunk.audio)
            self.live.set()

    def mark(self) -> int:
        with self._lock:
            return len(self._chunks)

    def since(self, mark: int, end: int | None = None) -> np.ndarray:
        import numpy as np

        with self._lock:
            audio = b"".join(self._chunks[mark:end])
        return np.frombuffer(audio, "<i2")


def _no_device_fix(err: Exception, what: str) -> tuple[str, str]:
    """An `AudioDeviceError` as (detail, fix); "no ... found" gets the plug-in/sound-server fix.

    The devices module ends its messages with "; <fix>"; a "; " inside parentheses is not one."""
    text = str(err)
    detail, _, fix = text.rpartition("; ")
    if not detail or fix.count(")") > fix.count("("):
        detail, fix = text, ""
    if detail.startswith("no ") and detail.endswith("found"):
        return f"no {what} found", _NO_SOUND_FIX
    return detail, fix or _NO_SOUND_FIX


def check_sound(options: DoctorOptions, *, sleep: Callable[[float], None] = time.sleep) -> list[Check]:
    """The microphone and speaker checks: record the room, play the test phrase, hear it back."""
    with contextlib.ExitStack() as stack:
        microphone, recorder, mic_failure = _open_microphone(options)
        if microphone is not None:
            stack.callback(microphone.close)
        voice, clip, speaker_failure = _open_speaker(options)
        if voice is not None:
            stack.callback(voice.close)
        if recorder is not None and not recorder.live.wait(FIRST_AUDIO_TIMEOUT):
            mic_failure = Check(
                "microphone",
                "fail",
                f"{microphone.device.name!r} opened but gave no audio in {FIRST_AUDIO_TIMEOUT:.0f} s",
                "replug the microphone, or restart the sound server",
            )
            recorder = None
        noise = phrase = None
        if recorder is not None:
            start = recorder.mark()
            sleep(options.seconds)
            noise = analyse(recorder.since(start))
        if voice is not None:
            start = recorder.mark() if recorder is not None else 0
            try:
                played = voice.play(clip, wait=True)
            except AudioDeviceError as err:
                speaker_failure = Check("speaker", "fail", *_no_device_fix(err, "speaker"))
            else:
                if not played:
                    speaker_failure = _cut_short(voice.player.device_name)
                elif recorder is not None:
                    sleep(voice.player.latency + 0.5)  # the output buffer still playing, then capture's delay
                    phrase = analyse(recorder.since(start))
    if mic_failure is None:
        assert microphone is not None and noise is not None
        mic_line = microphone_check(microphone.device.name, noise, phrase or noise)
    else:
        mic_line = mic_failure
    if speaker_failure is None:
        name = voice.player.device_name
        if noise is not None and phrase is not None:
            speaker_line = speaker_check(name, noise, phrase)
        else:
            speaker_line = Check("speaker", "warn", f"played the test phrase on {name!r}; no microphone to hear it")
    else:
        speaker_line = speaker_failure
    return [mic_line, speaker_line]


def _open_microphone(options: DoctorOptions) -> tuple[Any, _Recorder | None, Check | None]:
    from voicecoach.audio.microphone import Microphone

    try:
        microphone = Microphone(options.input, log=io.StringIO())  # its notices are not for this report
    except AudioDeviceError as err:
        return None, None, Check("microphone", "fail", *_no_device_fix(err, "microphone"))
    return microphone, _Recorder(microphone), None


def _open_speaker(options: DoctorOptions) -> tuple[Any, Any, Check | None]:
    """(voice, rendered test phrase, None), or (None, None, the failure).

    The voice raises instead of falling back to printing: the doctor wants the reason. The phrase is
    rendered now so that it follows the noise sample at once."""
    from voicecoach.voice import Player, Pyttsx3Synthesizer, SpokenVoice, VoiceSettings

    try:
        synthesizer = Pyttsx3Synthesizer()
        clip = synthesizer.render(options.phrase, VoiceSettings())
    except SynthesisError as err:
        return None, None, Check("speaker", "fail", f"speech synthesiser: {err}", "install espeak-ng (./setup.sh)")
    try:
        player = Player(options.output)
    except AudioDeviceError as err:
        return None, None, Check("speaker", "fail", *_no_device_fix(err, "speaker"))
    voice = SpokenVoice(synthesizer, player)
    voice.ready()  # a new PulseAudio stream trickles for its first seconds: not during the phrase
    return voice, clip, None


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
