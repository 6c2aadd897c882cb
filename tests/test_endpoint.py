"""The endpointer's decisions on scripted voice activity and loudness (the real detector runs in
test_recognizer_pocketsphinx.py through the engine)."""

from __future__ import annotations

from voicecoach.const import CHUNK_BYTES
from voicecoach.recognizer import endpoint
from voicecoach.recognizer.endpoint import (
    CLOSING_FRAMES,
    FRAME_SECONDS,
    PREROLL_FRAMES,
    SHORT_CLOSING_FRAMES,
    START_SPEECH,
    START_WINDOW,
    Endpointer,
)


class ScriptedActivity:
    """Frames carry their own verdict and level: byte 0 is 1 for speech, byte 1 the loudness."""

    def is_speech(self, frame: bytes) -> bool:
        return frame[0] == 1


def frame(speech: bool, level: int = 100) -> bytes:
    return bytes([int(speech), level]) + b"\0" * (CHUNK_BYTES - 2)


def run(frames: list[bytes]) -> tuple[Endpointer, list[int], list[int]]:
    """Feed frames; (endpointer, indices where an utterance started, indices where it ended)."""
    ep = Endpointer(ScriptedActivity(), loudness=lambda f: float(f[1]))
    starts, ends = [], []
    for i, f in enumerate(frames):
        was = ep.in_speech
        out = ep.process(f)
        if not was and ep.in_speech:
            starts.append(i)
            assert out is not None and len(out) == CHUNK_BYTES * min(i + 1, START_WINDOW + PREROLL_FRAMES)
        if was and not ep.in_speech:
            ends.append(i)
        if was:
            assert out == f  # no lag: the decoder gets each frame of an utterance as it arrives
    return ep, starts, ends


def test_starts_on_nine_of_ten_speech_frames_with_the_frames_before_it() -> None:
    silence, speech = [frame(False)] * 20, [frame(True)] * 60
    ep, starts, ends = run(silence + speech + silence)
    assert starts == [20 + START_SPEECH - 1]
    assert ep.speech_start == (starts[0] + 1 - START_WINDOW - PREROLL_FRAMES) * FRAME_SECONDS
    assert ends == [80 + CLOSING_FRAMES - 1]


def test_clicks_do_not_start_and_short_pauses_do_not_end() -> None:
    clicks = [frame(True), frame(False)] * 20
    assert run(clicks)[1] == []
    speech = [frame(True)] * 50
    pause = [frame(False)] * (CLOSING_FRAMES - 1)
    _, starts, ends = run(speech + pause + speech + [frame(False)] * 30)
    assert len(starts) == 1 and ends == [len(speech + pause + speech) + CLOSING_FRAMES - 1]


def test_a_fading_tail_counts_as_silence_but_not_in_noise() -> None:
    speech = [frame(True, 200)] * 50
    fading = [frame(True, 2)] * 30  # the detector still says speech; 1% of the loudest frame
    _, _, ends = run(speech + fading)
    assert ends == [50 + CLOSING_FRAMES - 1]
    noise = [frame(True, 60)] * 30  # gym noise under the speech stays "speech": only the detector can end it
    assert run(speech + noise)[2] == []


def test_the_tail_of_an_utterance_does_not_start_another() -> None:
    speech = [frame(True, 200)] * 50
    tail = [frame(True, 3)] * 20
    _, starts, _ = run(speech + tail)
    assert len(starts) == 1


def test_wake_word_alone_waits_longer_for_the_question() -> None:
    wake = [frame(True)] * 20  # "hey coach," then a breath
    pause = [frame(False)] * (CLOSING_FRAMES + 2)
    question = [frame(True)] * 50
    _, starts, ends = run(wake + pause + question + [frame(False)] * 30)
    assert len(starts) == 1 and len(ends) == 1
    _, _, ends = run(wake + [frame(False)] * 30)
    assert ends == [len(wake) + SHORT_CLOSING_FRAMES - 1]


def test_end_of_stream_closes_the_utterance() -> None:
    ep, _, _ = run([frame(True)] * 30)
    assert ep.in_speech and ep.end_stream() == b"" and not ep.in_speech


def test_real_detector_frames_match_the_engine_chunks() -> None:
    assert endpoint.pocketsphinx_vad().is_speech(b"\0" * CHUNK_BYTES) is False
