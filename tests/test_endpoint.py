"""The endpointer's decisions on scripted voice activity and loudness (the real detector runs in
test_recognizer_pocketsphinx.py through the engine)."""

from __future__ import annotations

from voicecoach.audio.format import CHUNK_BYTES
from voicecoach.recognizer import endpoint
from voicecoach.recognizer.endpoint import (
    CLOSING_FRAMES,
    FRAME_SECONDS,
    OPENING_FRAMES,
    PREROLL_FRAMES,
    SHORT_CLOSING_FRAMES,
    START_SPEECH,
    START_WINDOW,
    Endpointer,
)

SPEECH_LEVELS = (200, 120, 80, 160, 3, 140, 90, 180, 60, 100)
"""Speech as the endpointer sees it: loud and soft frames, and a gap between words where the room shows."""


class ScriptedActivity:
    """Frames carry their own verdict and level: byte 0 is 1 for speech, byte 1 the loudness."""

    def is_speech(self, frame: bytes) -> bool:
        return frame[0] == 1


def frame(speech: bool, level: int) -> bytes:
    return bytes([int(speech), level]) + b"\0" * (CHUNK_BYTES - 2)


def speech(n: int, scale: float = 1.0) -> list[bytes]:
    return [frame(True, round(SPEECH_LEVELS[i % len(SPEECH_LEVELS)] * scale)) for i in range(n)]


def silence(n: int, level: int = 1) -> list[bytes]:
    return [frame(False, level)] * n


def run(frames: list[bytes]) -> tuple[Endpointer, list[int], list[int]]:
    """Feed frames; (endpointer, indices where an utterance started, indices where it ended)."""
    ep = Endpointer(ScriptedActivity(), loudness=lambda f: float(f[1]))
    starts, ends = [], []
    for i, f in enumerate(frames):
        was = ep.in_speech
        out = ep.process(f)
        if not was and ep.in_speech:
            starts.append(i)
            expected = i + 1 if i < OPENING_FRAMES else START_WINDOW + PREROLL_FRAMES
            assert out is not None and len(out) == CHUNK_BYTES * expected
        if was and not ep.in_speech:
            ends.append(i)
        if was:
            assert out == f  # no lag: the decoder gets each frame of an utterance as it arrives
    return ep, starts, ends


def test_starts_on_nine_of_ten_speech_frames_with_the_frames_before_it() -> None:
    ep, starts, ends = run(silence(40) + speech(60) + silence(30))
    assert starts == [40 + START_SPEECH - 1]
    assert ep.speech_start == (starts[0] + 1 - START_WINDOW - PREROLL_FRAMES) * FRAME_SECONDS
    assert ends == [100 + CLOSING_FRAMES - 1]


def test_a_stream_that_opens_with_speech_keeps_its_first_word() -> None:
    # The first loud frames become the noise floor, so the start is heard late; the decoder still gets the
    # stream from its first frame (before: the window only, and "my knees are sore" lost "my knees").
    opening = [frame(True, 20)] * 8 + speech(60)
    ep, starts, _ = run(opening + silence(30))
    assert len(starts) == 1 and starts[0] < OPENING_FRAMES and ep.speech_start == 0.0


def test_a_stream_that_opens_with_speech_keeps_its_soft_last_word() -> None:
    """Its floor is its own quiet frames (no room heard before it), so a soft last word ("tips", "please") does not
    clear three times that floor; it must still not end the utterance. After a room was heard, the same floor
    rule holds (test_in_steady_noise_speech_is_what_clears_the_noise_floor)."""
    soft = [frame(True, 25)] * 12  # 8x under the loudest frame, under three times the speech's quiet frames
    _, starts, ends = run(speech(40) + soft + silence(30))
    assert len(starts) == 1 and ends == [40 + len(soft) + CLOSING_FRAMES - 1]


def test_clicks_do_not_start_and_short_pauses_do_not_end() -> None:
    clicks = [frame(True, 100), frame(False, 1)] * 20
    assert run(clicks)[1] == []
    pause = silence(CLOSING_FRAMES - 1)
    _, starts, ends = run(silence(10) + speech(50) + pause + speech(50) + silence(30))
    assert len(starts) == 1 and ends == [10 + 50 + len(pause) + 50 + CLOSING_FRAMES - 1]


def test_a_fading_tail_counts_as_silence() -> None:
    fading = [frame(True, 2)] * 30  # the detector still says speech; 1% of the loudest frame
    _, _, ends = run(silence(10) + speech(50) + fading)
    assert ends == [60 + CLOSING_FRAMES - 1]


def test_the_tail_of_an_utterance_does_not_start_another() -> None:
    tail = [frame(True, 3)] * 20
    _, starts, _ = run(silence(10) + speech(50) + tail + silence(10))
    assert len(starts) == 1


def test_in_steady_noise_speech_is_what_clears_the_noise_floor() -> None:
    noise = [frame(True, level) for level in (40, 50, 60, 45, 55) * 24]  # babble: "speech" to the detector
    assert run(noise)[1] == []  # noise alone never starts an utterance
    loud_speech = speech(60, scale=1.25)  # ~10 dB over the noise: vowels clear the floor, the gaps do not
    _, starts, ends = run(noise + loud_speech + noise)
    assert len(starts) == 1 and starts[0] >= len(noise)
    assert len(ends) == 1 and len(noise + loud_speech) <= ends[0] < len(noise + loud_speech) + 2 * CLOSING_FRAMES


def test_wake_word_alone_waits_longer_for_the_question() -> None:
    wake = speech(20)  # "hey coach," then a breath
    pause = silence(CLOSING_FRAMES + 2)
    _, starts, ends = run(silence(10) + wake + pause + speech(50) + silence(30))
    assert len(starts) == 1 and len(ends) == 1
    _, _, ends = run(silence(10) + wake + silence(30))
    assert ends == [10 + len(wake) + SHORT_CLOSING_FRAMES - 1]


def test_end_of_stream_closes_the_utterance() -> None:
    ep, _, _ = run(silence(5) + speech(30))
    assert ep.in_speech
    ep.end_stream()
    assert not ep.in_speech


def test_real_detector_frames_match_the_engine_chunks() -> None:
    assert endpoint.pocketsphinx_vad().is_speech(b"\0" * CHUNK_BYTES) is False


class AlwaysSpeech:
    """The detector in gym babble: everything is speech."""

    def is_speech(self, frame: bytes) -> bool:
        return True


def test_a_stream_that_starts_again_learns_its_own_room() -> None:
    """A file padded with digital silence, then the next file (time back at 0) opening on gym noise: the noise is
    the new room's floor, not an utterance from its first frame (which fed Moonshine a second of babble before
    the question, and it read the question twice). The same noise continuing the first stream does open one:
    that stream's room had fallen silent."""
    import numpy as np

    from voicecoach.recognizer.endpoint import StreamEndpointer

    rng = np.random.default_rng(7)

    def noise(n: int) -> list[bytes]:
        return [(rng.normal(0, 1000, CHUNK_BYTES // 2)).astype("<i2").tobytes() for _ in range(n)]

    def feed(ep: StreamEndpointer, frames: list[bytes], start: float) -> list[int]:
        return [i for i, f in enumerate(frames) if ep.feed(f, start + i * FRAME_SECONDS) is not None and ep.opened]

    def after_a_padded_file(next_start: float) -> list[int]:
        ep = StreamEndpointer(AlwaysSpeech())
        first = noise(66) + [b"\0" * CHUNK_BYTES] * 33
        feed(ep, first, 0.0)
        ep.restart()  # what `reset` does between files
        return feed(ep, noise(33), next_start)

    assert after_a_padded_file(0.0) == []
    assert after_a_padded_file(99 * FRAME_SECONDS) != []
