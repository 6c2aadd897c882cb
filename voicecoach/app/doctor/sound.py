"""The sound check: record the room, play a test phrase, and hear it back over the room's own noise."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voicecoach.errors import AudioDeviceError, SynthesisError

if TYPE_CHECKING:
    import numpy as np

from voicecoach.app.doctor.checks import _NO_SOUND_FIX, FIRST_AUDIO_TIMEOUT, Check, DoctorOptions
from voicecoach.app.doctor.levels import _cut_short, analyse, microphone_check, speaker_check


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
        microphone = Microphone(options.input)
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
