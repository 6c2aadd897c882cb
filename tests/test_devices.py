"""Sound devices through PortAudio: what listing them leaves in the process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = "sorted({l.split()[-1].rsplit('/', 1)[-1] for l in open('/proc/self/maps') if 'libasound_module' in l})"


def loaded_plugins(code: str) -> str:
    return subprocess.run([sys.executable, "-c", f"{code}; print({PLUGINS})"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs Linux's /proc to see mapped libraries")
def test_listing_the_devices_leaves_no_alsa_plugin_loaded() -> None:
    """PortAudio opens every PCM ALSA names to list the devices; alsa-lib kept each plugin (a52 maps libavcodec)
    until `devices.release_alsa_plugins` freed them: the listen process's peak 172.6 -> 161.7 MB."""
    plain = loaded_plugins("import sounddevice")
    if plain == "[]":
        pytest.skip("no ALSA plugins to load here (Debian's libasound2-plugins)")
    listed = loaded_plugins("from voicecoach.audio.devices import list_devices, rescan; list_devices(); rescan()")
    assert listed == "[]", (plain, listed)
