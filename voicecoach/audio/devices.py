"""PortAudio (through sounddevice), loaded one way for microphone, speaker and `voicecoach devices`.

A module of its own so that importing it costs nothing: `voicecoach ask` must start fast.
"""

from __future__ import annotations

import os
from typing import Any

from voicecoach.errors import AudioDeviceError

PULSE_LATENCY_MSEC = "60"
"""Buffer asked of PulseAudio by ALSA's pulse plugin (PortAudio's route to PulseAudio)."""


def portaudio() -> Any:
    """The sounddevice module, loaded once for microphone, speaker and `voicecoach devices` alike.

    PULSE_LATENCY_MSEC is set first (unless the user set it): without it, PortAudio through ALSA's pulse
    plugin played and recorded erratically whenever capture and playback shared a process (a 2 s reply
    "played" in 0.1 s and was never heard); 30-100 ms all fixed it.
    """
    os.environ.setdefault("PULSE_LATENCY_MSEC", PULSE_LATENCY_MSEC)
    try:
        import sounddevice
    except (ImportError, OSError) as err:  # OSError: the package is there but libportaudio2 is not
        raise AudioDeviceError(f"PortAudio is not available ({err}); install Debian's libportaudio2") from None
    return sounddevice
