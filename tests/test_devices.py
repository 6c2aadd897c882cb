"""Sound devices through PortAudio, in the PulseAudio room (tests/conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCAN_THEN_PLAY = """
import json
import numpy as np
import sounddevice

def plugins():
    with open("/proc/self/maps") as maps:
        return sorted({line.split("/")[-1].strip() for line in maps if "libasound_module_pcm_" in line})

scanned = plugins()  # what PortAudio's device scan at import left loaded
from voicecoach.audio.devices import find_device, portaudio
sd = portaudio()
released = plugins()
with sd.OutputStream(samplerate=16000, channels=1, dtype="int16", device=find_device(None, "output").index) as out:
    out.write(np.zeros(1600, np.int16))
print(json.dumps({"scanned": scanned, "released": released}))
"""


def test_the_device_scan_leaves_no_alsa_plugin_loaded_and_streams_still_open(pulse_room: dict[str, str]) -> None:
    """PortAudio's scan opens every PCM ALSA's configuration names (Debian's a52 encoder loads libavcodec and a
    dozen codec libraries, 10 MB of the listen process); `portaudio()` lets ALSA unload them, and the plugin a
    stream needs is loaded again when it opens."""
    import os

    done = subprocess.run(
        [sys.executable, "-c", SCAN_THEN_PLAY], env={**os.environ, **pulse_room}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if not found["scanned"]:
        pytest.skip("the scan loaded no ALSA plugin: needs Debian package libasound2-plugins")
    assert found["released"] == [], found
