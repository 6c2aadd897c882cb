"""Sound devices through PortAudio (sounddevice): loaded one way, listed one way, found one way.

A module of its own so that importing it costs nothing: `voicecoach ask` must start fast.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from typing import Any, Literal

from voicecoach.errors import AudioDeviceError

PULSE_LATENCY_MSEC = "60"
"""Buffer asked of PulseAudio by ALSA's pulse plugin (PortAudio's route to PulseAudio)."""

Direction = Literal["input", "output"]
DeviceSpec = int | str | None
"""A device as the user names it: PortAudio index, a part of its name, or None for the default."""

_FIX = {
    "input": "plug a microphone in or pass --input (see `voicecoach devices`)",
    "output": "start the sound server or pass --output (see `voicecoach devices`)",
}
_WHAT = {"input": "microphone", "output": "sound output device"}


def portaudio() -> Any:
    """The sounddevice module, loaded once for microphone, speaker and `voicecoach devices` alike.

    PULSE_LATENCY_MSEC is set first (unless the user set it): without it, PortAudio through ALSA's pulse
    plugin played and recorded erratically whenever capture and playback shared a process (a 2 s reply
    "played" in 0.1 s and was never heard); 30-100 ms all fixed it.
    """
    os.environ.setdefault("PULSE_LATENCY_MSEC", PULSE_LATENCY_MSEC)
    first = "sounddevice" not in sys.modules  # importing it initialises PortAudio, which lists the devices
    try:
        import sounddevice
    except (ImportError, OSError) as err:  # OSError: the package is there but libportaudio2 is not
        raise AudioDeviceError(f"PortAudio is not available ({err}); install Debian's libportaudio2") from None
    if first:
        release_alsa_plugins()
    return sounddevice


def release_alsa_plugins() -> None:
    """Unload the ALSA plugins PortAudio opened to list the devices (its own `Pa_Terminate` does the same).

    Debian's PortAudio 19.6 opens every PCM ALSA's configuration names, and alsa-lib keeps each plugin it loaded
    until its global configuration is freed: libasound2-plugins' a52 encoder alone maps libavcodec and its codec
    libraries. Freed once listed, a stream opened later reads the configuration again and loads the one plugin
    its device needs. Measured on 2 cores (x86-64): importing sounddevice 23 -> 12 MB of resident memory."""
    try:
        ctypes.CDLL("libasound.so.2").snd_config_update_free_global()  # the library PortAudio has loaded
    except (OSError, AttributeError):
        return  # no ALSA (not Linux): PortAudio's other host APIs keep nothing of the kind


@dataclass(frozen=True)
class Device:
    """One PortAudio device."""

    index: int
    name: str
    inputs: int
    """Input channels (0: cannot record)."""
    outputs: int
    """Output channels (0: cannot play)."""
    default_rate: float
    """Hertz the device runs at natively."""
    default_input: bool = False
    default_output: bool = False

    def channels(self, direction: Direction) -> int:
        return self.inputs if direction == "input" else self.outputs


def list_devices() -> list[Device]:
    """Every device PortAudio knows, with which are the defaults."""
    sd = portaudio()
    default_in, default_out = sd.default.device
    return [
        Device(
            index,
            str(info["name"]),
            int(info["max_input_channels"]),
            int(info["max_output_channels"]),
            float(info["default_samplerate"]),
            index == default_in,
            index == default_out,
        )
        for index, info in enumerate(sd.query_devices())
    ]


def rescan() -> None:
    """PortAudio lists devices once per initialisation: start it again to see a device plugged back in."""
    sd = portaudio()
    sd._terminate()
    sd._initialize()
    release_alsa_plugins()


def find_device(spec: DeviceSpec, direction: Direction) -> Device:
    """The device for `spec` (index, part of its name, or None for the default) that can record or play.

    Raises `AudioDeviceError` naming the devices that exist when nothing matches.
    """
    usable = [d for d in list_devices() if d.channels(direction) > 0]
    if not usable:
        asked = f" (asked for {spec!r})" if spec not in (None, "") else ""
        raise AudioDeviceError(f"no {_WHAT[direction]} found{asked}; {_FIX[direction]}")
    found: Device | None
    if spec is None or spec == "":
        found = next((d for d in usable if (d.default_input if direction == "input" else d.default_output)), usable[0])
    elif isinstance(spec, int) or spec.isdigit():
        found = next((d for d in usable if d.index == int(spec)), None)
    else:
        found = next((d for d in usable if spec.lower() in d.name.lower()), None)
    if found is None:
        names = ", ".join(f"{d.index}: {d.name}" for d in usable)
        raise AudioDeviceError(f"no {_WHAT[direction]} matches {spec!r} (there are: {names}); {_FIX[direction]}")
    return found
