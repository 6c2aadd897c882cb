"""Barge-in's ear: the microphone, the echo canceller and where its reference comes from, wired one way.

`voicecoach listen` (`listening_ear`: barge-in on where measured, or as set) and the echo-room benchmark
(benchmarks/bargein_room.py) both build it here, so what the room measures is what the lifter gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from voicecoach.audio.duplex import DuplexMicrophone
    from voicecoach.audio.echo import EchoCanceller
    from voicecoach.audio.echo_reference import ReferenceBuffer
    from voicecoach.audio.echo_stage import EchoStage
    from voicecoach.audio.microphone import Microphone

Streams = Literal["auto", "duplex", "separate"]
"""auto: the speaker in the microphone's stream when the devices can run as one, else two streams."""


@dataclass(frozen=True)
class BargeInEar:
    """The microphone barge-in listens with, and the echo canceller on what the coach plays."""

    microphone: Microphone
    canceller: EchoCanceller | None
    reference: ReferenceBuffer
    switch_when_moving: bool = True
    """Switch to the canceller for a moving echo path if the measured delay drifts (only for "auto")."""

    @property
    def duplex(self) -> DuplexMicrophone | None:
        """The microphone, when it runs the speaker in the same stream (`audio.duplex`): the player plays through it."""
        from voicecoach.audio.duplex import DuplexMicrophone

        return self.microphone if isinstance(self.microphone, DuplexMicrophone) else None

    def stage(self, voice: Any) -> EchoStage | None:
        """The echo stage for the session, once the voice is open (None: no canceller, or no sound out)."""
        from voicecoach.audio.echo import moving_path_fallback
        from voicecoach.audio.echo_stage import EchoStage
        from voicecoach.voice import SpokenVoice

        if self.canceller is None or not isinstance(voice, SpokenVoice):
            return None  # no canceller, or no sound out and so no echo
        if self.duplex is None:
            voice.player.reference = self.reference  # two streams: the player stamps what it writes by the clock
        fallback = moving_path_fallback(self.canceller) if self.switch_when_moving else None
        return EchoStage(self.canceller, self.reference, moving_path=fallback)


def barge_in_ear(
    input_device: str | int | None,
    output_device: str | int | None,
    on_status: Callable[[str], None],
    *,
    streams: Streams = "auto",
    canceller: str = "auto",
) -> BargeInEar:
    """Barge-in's microphone: with a canceller, the speaker in the same full-duplex stream when the devices can
    run as one (a fixed echo path), else two streams. One status line says which runs, or why none does.
    `streams` and `canceller` other than "auto" force a choice (the echo-room benchmark compares them)."""
    from voicecoach.audio.duplex import DuplexMicrophone
    from voicecoach.audio.echo import load_canceller
    from voicecoach.audio.echo_reference import ReferenceBuffer
    from voicecoach.audio.microphone import Microphone
    from voicecoach.errors import AudioDeviceError

    reference = ReferenceBuffer()
    microphone: Microphone
    if streams == "separate":
        microphone, how = Microphone(input_device), "two streams"
    else:
        try:
            microphone = DuplexMicrophone(input_device, output_device, reference)
            how = "microphone and speaker in one stream"
        except AudioDeviceError as err:
            if streams == "duplex":
                raise
            microphone, how = Microphone(input_device), f"two streams, so the echo path may move ({err})"
    chosen = load_canceller(canceller, fixed_path=isinstance(microphone, DuplexMicrophone))
    if chosen is None:
        on_status("barge-in without echo cancellation: only 'stop' can cut in, and the coach may hear itself")
    else:
        on_status(f"barge-in: echo cancellation {chosen.name}, {how}")
    return BargeInEar(microphone, chosen, reference, switch_when_moving=canceller == "auto")


MEASURED_ENGINES = frozenset({"moonshine"})
"""Engines whose interrupt search met barge-in's bar in the echo room (benchmarks/bargein_room.py, quiet, 4 voices:
46 and 45 of 48 warm-up commands acted on within 1 s, 32 of 32 "stop"s silencing an answer within 0.5 s, nothing
taken from a 10-minute warm-up and 20 answers with no lifter). With them barge-in is on unless set off."""


def listening_ear(
    setting: bool | None,
    engine: str,
    input_device: str | int | None,
    output_device: str | int | None,
    on_status: Callable[[str], None],
) -> tuple[BargeInEar | None, str]:
    """`voicecoach listen`'s ear: (barge-in's ear or None, why barge-in is off when not set and off ("" if on or set).
    `setting` True / False forces it on / off; None (not set) turns it on only as measured: an engine of
    MEASURED_ENGINES, microphone and speaker in one full-duplex stream (a fixed echo path) and a canceller that
    loads. Otherwise the coach keeps its half-duplex rules (deaf while it speaks), which never hear its own voice."""
    from voicecoach.errors import AudioDeviceError

    if setting is False:
        return None, ""
    if setting is True:
        return barge_in_ear(input_device, output_device, on_status), ""
    if engine not in MEASURED_ENGINES:
        return None, f"barge-in off: measured with the moonshine engine, not {engine} (--barge-in turns it on)"
    lines: list[str] = []
    try:
        ear = barge_in_ear(input_device, output_device, lines.append, streams="duplex")
    except AudioDeviceError as err:
        return None, f"barge-in off: microphone and speaker do not run as one stream ({err})"
    if ear.canceller is None:
        ear.microphone.close()  # the plain microphone opens the device again
        return None, "barge-in off: no echo canceller loads (apt-get install libspeexdsp1)"
    for line in lines:
        on_status(line)
    return ear, ""
