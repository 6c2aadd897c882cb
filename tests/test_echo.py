"""The echo cancellers and the reference buffer (benchmarks/bench_bargein.py measures them in the echo room)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from voicecoach.audio import echo
from voicecoach.audio.echo import FRAME, NAMES, load_canceller, make_canceller
from voicecoach.audio.echo_reference import ReferenceBuffer
from voicecoach.audio.echo_stage import EchoStage
from voicecoach.audio.format import SAMPLE_RATE, AudioChunk

RATE = 16_000


def erle_db(near: np.ndarray, cleaned: np.ndarray) -> float:
    """Echo return loss enhancement: how much quieter the cleaned signal is than the microphone, in dB."""
    return float(10 * np.log10(np.mean(near.astype(float) ** 2) / (np.mean(cleaned.astype(float) ** 2) + 1e-9)))


def loadable(name: str) -> bool:
    try:
        make_canceller(name)
    except (ImportError, OSError, RuntimeError):
        return False
    return True


def missing(name: str) -> str:
    """The skip reason when canceller `name` does not load: the part to install."""
    if name == "webrtc":
        return "echo canceller webrtc needs pywebrtc-audio (pip install -e '.[speech]'; x86-64 and aarch64 wheels only)"
    return f"echo canceller {name} needs Debian package libspeexdsp1 (apt-get install libspeexdsp1)"


def test_reference_buffer_lines_playback_up_by_the_clock() -> None:
    buffer = ReferenceBuffer(keep_seconds=1.0)
    assert not buffer.read(5.0, 10).any()  # nothing played yet: silence
    tone = np.arange(1, 161, dtype=np.int16)
    buffer.write(tone, heard_at=10.0)
    buffer.write(tone, heard_at=10.0 + 0.02)  # a 10 ms gap between the two blocks
    got = buffer.read(10.0 - 0.001, 16 + 160 + 160 + 160 + 16)
    assert not got[:16].any()
    assert (got[16:176] == tone).all()
    assert not got[176:336].any()
    assert (got[336:496] == tone).all()
    assert not got[496:].any()


def test_reference_buffer_forgets_old_audio() -> None:
    buffer = ReferenceBuffer(keep_seconds=0.1)
    buffer.write(np.full(1600, 7, np.int16), heard_at=0.0)
    buffer.write(np.full(1600, 9, np.int16), heard_at=0.1)
    assert not buffer.read(0.0, 100).any()
    assert (buffer.read(0.1, 100) == 9).all()


@pytest.mark.parametrize("name", NAMES)
def test_canceller_removes_a_delayed_echo(name: str) -> None:
    if not loadable(name):
        pytest.skip(missing(name))
    rng = np.random.default_rng(1)
    seconds = 6
    far = (rng.standard_normal(seconds * RATE) * 3000).astype(np.int16)
    path = np.zeros(800)
    path[480], path[560], path[700] = 0.6, 0.2, -0.1  # 30 ms delay and two reflections
    near = np.convolve(far.astype(np.float64), path)[: len(far)].astype(np.int16)
    canceller = make_canceller(name)
    out = np.concatenate([canceller.process(near[i : i + 480], far[i : i + 480]) for i in range(0, len(far), 480)])
    tail = slice(3 * RATE, None)  # converged
    erle = erle_db(near[tail], out[tail])
    assert erle > 15, f"{name}: ERLE {erle:.1f} dB"
    assert len(out) == len(near) and len(out) % FRAME == 0


def test_no_canceller_is_one_log_line(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(name: str) -> echo.EchoCanceller:
        raise ImportError(f"no {name}")

    monkeypatch.setattr(echo, "make_canceller", broken)
    with caplog.at_level(logging.INFO, logger="voicecoach.audio"):
        assert load_canceller() is None
    assert len(caplog.records) == 1 and "no echo canceller" in caplog.records[0].getMessage()


def test_unknown_canceller_name() -> None:
    with pytest.raises(ValueError, match="unknown echo canceller"):
        make_canceller("nope")


def test_near_end_gate_opens_on_the_lifter_not_on_cancelled_echo() -> None:
    from voicecoach.audio.echo_trust import NearEndGate

    gate = NearEndGate(window_chunks=10, needed=3)
    loud = np.full(480, 3000, np.int16)
    for _ in range(10):  # echo: loud at the microphone, 30 dB down after cancellation
        assert not gate.update(loud, (loud // 32).astype(np.int16))
    for _ in range(3):  # the lifter over the echo: most of it survives
        gate.update(loud, (loud // 2).astype(np.int16))
    assert gate.open
    for _ in range(10):
        gate.update(loud, np.zeros(480, np.int16))
    assert not gate.open


def test_echo_stage_passes_file_chunks_through() -> None:
    from voicecoach.audio.echo_stage import EchoStage
    from voicecoach.audio.format import AudioChunk

    class Nothing:
        name = "nothing"

        def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
            return np.zeros_like(near)

        def reset(self) -> None:
            pass

    stage = EchoStage(Nothing(), ReferenceBuffer())
    chunk = AudioChunk(np.full(480, 5, np.int16).tobytes())
    assert stage.clean(chunk) == (chunk, True)  # no capture time: not live, nothing to cancel
    live = AudioChunk(chunk.audio, captured=12.0)
    cleaned, near = stage.clean(live)
    assert not np.frombuffer(cleaned.audio, "<i2").any() and not near


def test_barge_in_waits_until_the_canceller_has_heard_five_seconds_of_the_coach() -> None:
    from voicecoach.audio.echo_trust import CONVERGE_SECONDS, Convergence

    convergence = Convergence()
    speech, silence = np.full(480, 3000, np.int16), np.zeros(480, np.int16)
    for _ in range(1000):  # silence between replies teaches the canceller nothing
        assert not convergence.update(silence, silence, silence)
    chunks = round(CONVERGE_SECONDS * 16_000 / 480)
    # Echo only 10 dB down: not seen to cancel, so the full five seconds.
    leaked = (speech / 10 ** (10 / 20)).astype(np.int16)
    assert not any(convergence.update(speech, speech, leaked) for _ in range(chunks - 1))
    assert convergence.update(speech, speech, leaked) and convergence.update(silence)  # converged stays converged


def test_a_canceller_seen_to_cancel_is_trusted_after_a_second_of_the_coach() -> None:
    from voicecoach.audio.echo_trust import CONVERGED_ERLE_DB, CONVERGED_WINDOW_SECONDS, Convergence

    speech, silence = np.full(480, 3000, np.int16), np.zeros(480, np.int16)
    window = -(-int(CONVERGED_WINDOW_SECONDS * 16_000) // 480)  # chunks to fill the window
    gone = (speech / 10 ** ((CONVERGED_ERLE_DB + 1) / 20)).astype(np.int16)
    convergence = Convergence()
    for _ in range(window - 1):
        assert not convergence.update(speech, speech, gone)
        assert not convergence.update(silence, silence, silence)  # pauses count for nothing
    assert convergence.update(speech, speech, gone)
    # A second with the echo gone only lately: the window is judged whole (the first half let 10 dB through).
    convergence = Convergence()
    half = (speech / 10 ** (10 / 20)).astype(np.int16)
    for _ in range(window // 2):
        assert not convergence.update(speech, speech, half)
    for _ in range(window // 2):
        assert not convergence.update(speech, speech, gone)
    assert any(convergence.update(speech, speech, gone) for _ in range(window))
    # A microphone that hears nothing proves nothing; and without its measure only the five seconds count.
    for rule, mic in ((Convergence(), silence), (Convergence(erle_db=None), speech)):
        assert not any(rule.update(speech, mic, silence) for _ in range(2 * window))


def test_reference_buffer_keeps_blocks_contiguous_through_stamp_jitter() -> None:
    """Callbacks run late by a millisecond or so: the blocks still follow each other sample for sample."""
    rng = np.random.default_rng(2)
    buffer = ReferenceBuffer(keep_seconds=2.0)
    blocks = [np.arange(k * 320, (k + 1) * 320, dtype=np.int16) for k in range(50)]
    stamps = [1.0 + k * 0.02 + rng.uniform(0, 0.0015) for k in range(len(blocks))]
    for block, stamp in zip(blocks, stamps, strict=True):
        buffer.write(block, heard_at=stamp)
    start = buffer.index(stamps[0])
    assert start is not None
    assert (buffer.read_at(start, 50 * 320) == np.concatenate(blocks)).all()


def jittered_room(canceller: echo.EchoCanceller, seconds: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """The coach's noise-like voice through a short echo path, both clocks stamped up to 1.5 ms late as
    PulseAudio's callbacks are: (microphone, cleaned) after an `EchoStage`."""
    from voicecoach.audio.echo_stage import EchoStage
    from voicecoach.audio.format import AudioChunk

    rng = np.random.default_rng(3)
    far = (rng.standard_normal(int(seconds * RATE)) * 3000).astype(np.int16)
    path = np.zeros(400)
    path[80], path[160], path[300] = 0.7, 0.2, -0.1  # 5 ms to the microphone and two reflections
    near = np.convolve(far.astype(np.float64), path)[: len(far)].astype(np.int16)
    reference = ReferenceBuffer(keep_seconds=4.0)
    stage = EchoStage(canceller, reference)
    cleaned: list[np.ndarray] = []
    block, chunk = 320, 480
    written = 0
    for start in range(0, len(far) - chunk + 1, chunk):
        while written < start + chunk + 2 * block:  # the player runs a little ahead of the microphone
            reference.write(far[written : written + block], 10.0 + written / RATE + rng.uniform(0, 0.0015))
            written += block
        captured = 10.0 + start / RATE + rng.uniform(0, 0.0015)
        out, _ = stage.clean(AudioChunk(near[start : start + chunk].tobytes(), captured=captured))
        cleaned.append(np.frombuffer(out.audio, "<i2"))
    out_all = np.concatenate(cleaned)
    return near[: len(out_all)], out_all


@pytest.mark.parametrize("name", NAMES)
def test_echo_stage_cancels_through_jittery_stamps(name: str) -> None:
    """The reference reads on sample for sample (LOCK_SAMPLES): re-placing each chunk by its jittery stamp
    slipped it by a few samples at random, and speex cancelled 3 dB in the PulseAudio room."""
    if not loadable(name):
        pytest.skip(missing(name))
    near, cleaned = jittered_room(make_canceller(name))
    tail = slice(4 * RATE, None)
    erle = erle_db(near[tail], cleaned[tail])
    assert erle > 15, f"{name}: ERLE {erle:.1f} dB through jittery stamps"


class Unchanged:
    """A canceller that takes nothing out, under the name the stage judges by."""

    def __init__(self, name: str) -> None:
        self.name = name

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        return near

    def reset(self) -> None:
        pass


def drifting_room(stage: EchoStage, seconds: float, drift: float) -> None:
    """The coach's noise through an echo path whose delay grows by `drift` seconds per second (two clocks), fed
    chunk by chunk through `stage` (an EchoStage) with exact stamps."""
    from voicecoach.audio.format import AudioChunk

    rng = np.random.default_rng(4)
    far = (rng.standard_normal(int(seconds * RATE)) * 3000).astype(np.int16)
    delay = 0.005 + drift * np.arange(len(far)) / RATE
    source = np.clip(np.arange(len(far)) - np.round(delay * RATE).astype(int), 0, None)
    near = (0.7 * far[source]).astype(np.int16)
    reference = stage.reference
    chunk = 480
    reference.write(far, 10.0)
    for start in range(0, len(far) - chunk + 1, chunk):
        stage.clean(AudioChunk(near[start : start + chunk].tobytes(), captured=10.0 + start / RATE))


@pytest.mark.parametrize(("drift", "switches"), [(0.0, False), (3e-4, True)])
def test_echo_stage_switches_canceller_once_the_echo_path_moves(drift: float, switches: bool) -> None:
    """A linear canceller chosen for a fixed path gives way to the moving-path one when the measured delay drifts
    (module-loopback's ~300 ppm), and only then."""
    if not loadable("speex"):
        pytest.skip(missing("speex"))
    first, second = make_canceller("speex"), make_canceller("speex")
    second.name = "moving"
    stage = EchoStage(first, ReferenceBuffer(keep_seconds=12.0), moving_path=second)
    drifting_room(stage, 10.0, drift)
    assert (stage.name == "moving") is switches, stage.delay.measured


@pytest.mark.parametrize(
    ("delays_ms", "switches"),
    [
        ([45.6, 8.4, 45.6, 60.0, 45.7], False),  # one stream, one clock: wrong peaks beside a steady delay
        ([29.8, 29.8, 26.7, 26.7, 26.7], False),  # a one-off jump, steady after it
        ([27.1, 27.1, 26.9, 26.6, 26.5], True),  # module-loopback's two clocks: a steady drift
        ([-4.9, -4.9, -5.6, -5.6, -5.6], False),  # gym noise joined the sink: a small step, steady after it
    ],
)
def test_wrong_delay_peaks_are_not_a_moving_echo_path(delays_ms: list[float], switches: bool) -> None:
    """The delays the room measured (bargein_room.py): only a drift among the estimates switches the canceller."""
    if not loadable("speex"):
        pytest.skip(missing("speex"))
    stage = EchoStage(make_canceller("speex"), ReferenceBuffer(), moving_path=make_canceller("speex-residual"))
    stage.delay.measured = [d / 1000 for d in delays_ms]
    stage._check_path()
    assert (stage.name == "speex-residual") is switches


def test_a_step_of_the_echo_path_is_followed_at_once_and_is_not_movement() -> None:
    """The room with gym noise after an underrun (bargein_room.py): the delay stepped 60 -> 32 ms and settled to
    31.3 ms. The offset follows the second estimate of a step; one wrong peak moves nothing; the settling does not
    switch the canceller (the decision is the stage's own: no real canceller needed)."""

    stage = EchoStage(Unchanged("speex"), ReferenceBuffer(), moving_path=Unchanged("speex-residual"))
    delay = stage.delay
    for ms in [60.0, 60.0, 8.4, 60.0, 60.0]:
        delay._add(ms / 1000)
    assert (delay.jumps, round(delay.offset * 1000, 1)) == (0, 60.0)
    delay._add(0.0323)
    assert round(delay.offset * 1000, 1) == 60.0  # one far estimate: wait for the next
    for ms in [32.3, 32.3, 31.5, 31.5, 31.5, *[31.3] * 10]:
        delay._add(ms / 1000)
        stage._check_path()
        assert stage.name == "speex", delay.measured
    assert (delay.jumps, round(delay.offset * 1000, 1)) == (1, 31.3)


def test_after_the_speaker_ran_dry_the_next_estimate_is_the_delay_and_the_gate_waits_for_it() -> None:
    """An output underflow steps the echo delay by the gap (audio.duplex counts them in the reference buffer): the
    next estimate is taken at once, not at the second agreeing one, and until it comes (at most
    UNDERFLOW_HOLD_SECONDS) what passes the canceller is not taken for the lifter. A stalled stream likewise."""
    from voicecoach.audio.echo_delay import UNDERFLOW_HOLD_SECONDS

    reference = ReferenceBuffer()
    stage = EchoStage(Unchanged("none"), reference)
    rng = np.random.default_rng(1)
    seconds = 0.0

    def chunk(level: float) -> AudioChunk:
        nonlocal seconds
        seconds += 0.03
        samples = (rng.standard_normal(480) * level).astype("<i2")
        return AudioChunk(samples.tobytes(), SAMPLE_RATE, seconds, 100.0 + seconds)

    def gate_after(chunks: int, level: float) -> bool:
        return [stage.clean(chunk(level))[0] for _ in range(chunks)] and stage.gate.open

    gate_after(60, 20.0)  # the room
    assert gate_after(10, 3000.0), "the lifter opens the gate"
    stage.delay._add(0.060)
    reference.underflows += 1
    assert not gate_after(10, 3000.0), "the speaker ran dry: no lifter until the delay is measured again"
    assert stage.delay.remeasuring
    stage.delay._add(0.0323)
    assert (stage.delay.jumps, round(stage.delay.offset * 1000, 1)) == (1, 32.3)
    assert not stage.delay.remeasuring and gate_after(10, 3000.0)
    reference.underflows += 1
    gate_after(round(UNDERFLOW_HOLD_SECONDS / 0.03) + 1, 20.0)  # the coach went quiet: nothing to measure
    assert stage.delay.remeasuring is False and gate_after(5, 3000.0), "no estimate came: the gate opens again"
    seconds += 3.0  # the stream stalled and was reopened (microphone.py): a new path, measured as after an underflow
    assert not gate_after(1, 3000.0) and stage.delay.remeasuring
    for ms in [54.3, 54.2, 53.3, 53.3, 53.2, 53.2]:  # the room after a reopen: settling, which is no drift
        stage.delay._add(ms / 1000)
    assert [round(m * 1000, 1) for m in stage.delay.measured] == [53.2]


def test_a_linear_canceller_hears_the_lifter_only_once_the_echo_path_holds_still() -> None:
    """speex models one fixed echo path: while the measured delay still moves (the echo room's module-loopback
        after a step: -82.5, -82.6, -82.7, -83.1 ms, then the switch to WebRTC 11 s later) the coach's voice leaks
        through it and decoded as commands, so nothing counts as the lifter; four estimates within 0.25 ms let it
        through again. Only while the stage may still switch (the "auto" choice); a canceller named explicitly, or
    WebRTC once switched to, is not held back."""

    seconds = 0.0

    def heard(stage: EchoStage) -> bool:
        nonlocal seconds
        result = False
        for level in [20.0] * 60 + [3000.0] * 10:  # the room, then the lifter
            seconds += 0.03
            samples = (np.random.default_rng(int(seconds * 100)).standard_normal(480) * level).astype("<i2")
            result = stage.clean(AudioChunk(samples.tobytes(), SAMPLE_RATE, seconds, 100.0 + seconds))[1]
        return result

    for fallback, hears_anyway in [(Unchanged("webrtc"), False), (None, True)]:
        name = "speex-residual"
        stage = EchoStage(Unchanged(name), ReferenceBuffer(), moving_path=fallback)
        stage.convergence.heard = stage.convergence.needed
        assert heard(stage) is hears_anyway, f"{name}: nothing measured yet"
        for ms in [-0.8] * 5:
            stage.delay._add(ms / 1000)
        assert stage.delay.steady and heard(stage), f"{name}: the path holds still"
        for ms in [-82.5, -82.5, -82.6, -82.7, -83.1]:  # a step, then a drift while it settles
            stage.delay._add(ms / 1000)
        assert heard(stage) is hears_anyway and stage.delay.steady is False, f"{name}: the path drifts"
        for ms in [-83.1, -83.1, -83.1]:
            stage.delay._add(ms / 1000)
        assert stage.delay.steady and heard(stage), f"{name}: the path holds still again"


class Counting(Unchanged):
    """Takes nothing out, and counts the chunks it was given."""

    def __init__(self) -> None:
        super().__init__("speex-residual")
        self.chunks = 0

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        self.chunks += 1
        return near


def test_the_canceller_rests_while_the_coach_is_quiet_but_never_inside_an_utterance() -> None:
    """Idle, the canceller was the stage's main cost (QUIET_COACH_SECONDS): it is bypassed once the coach has been
    quiet that long, and runs again from the first chunk the coach's playback reaches. The switch waits for a gap
    in the lifter's speech: made inside a question, it cut the question in two (lost in the room)."""
    from voicecoach.audio.echo_stage import QUIET_COACH_SECONDS

    canceller = Counting()
    reference = ReferenceBuffer()
    stage = EchoStage(canceller, reference)
    rng = np.random.default_rng(3)
    clock = 100.0

    def feed(seconds: float, level: float) -> list[bool]:
        """Microphone chunks of noise at `level`; for each, whether the canceller was given it."""
        nonlocal clock
        given = []
        for _ in range(round(seconds / 0.03)):
            before = canceller.chunks
            audio = (rng.standard_normal(480) * level).astype("<i2").tobytes()
            cleaned, _ = stage.clean(AudioChunk(audio, SAMPLE_RATE, clock, clock))
            given.append(canceller.chunks > before)
            assert cleaned.audio == audio  # this canceller takes nothing out, bypassed or not
            clock += 0.03
        return given

    def coach_plays(seconds: float) -> None:
        reference.write((rng.standard_normal(int(seconds * SAMPLE_RATE)) * 3000).astype(np.int16), clock)

    coach_plays(1.0)
    assert all(feed(1.0, 20.0)), "the coach plays: every chunk is cancelled"
    after = feed(QUIET_COACH_SECONDS + 1.0, 20.0)
    assert all(after[:95]) and not any(after[-20:]), "quiet for QUIET_COACH_SECONDS: bypassed"
    assert not any(feed(2.0, 3000.0)), "the lifter's question, bypassed from its start to its end"
    coach_plays(1.0)
    assert all(feed(1.0, 20.0)), "the coach plays again: cancelled from its first chunk"
    assert all(feed(2.0, 20.0)) and all(feed(3.0, 3000.0)), "the lifter speaks past the quiet mark: no switch"
    settling = feed(1.5, 20.0)
    assert settling[0] and not settling[-1], "the switch comes in the gap after the lifter's words"


@pytest.mark.parametrize("name", ["speex-residual", "webrtc"])
def test_a_canceller_back_from_rest_cancels_the_next_answer_at_once(name: str) -> None:
    """The coach answers, rests (the canceller bypassed, the lifter talking), and answers again: the second
    answer is cancelled from its first quarter second, by the filter the first answer trained (see
    RESUME_PRIMING_SECONDS for how a cold resume fared)."""
    if not loadable(name):
        pytest.skip(missing(name))
    stage = EchoStage(make_canceller(name), ReferenceBuffer(keep_seconds=12.0))
    rng = np.random.default_rng(5)

    def speech(seconds: float) -> np.ndarray:
        count = int(seconds * SAMPLE_RATE)
        syllables = np.repeat(rng.uniform(0.2, 1.0, count // 1600 + 1), 1600)[:count]
        return rng.standard_normal(count) * 3000 * syllables

    far = np.concatenate([speech(6.0), np.zeros(5 * SAMPLE_RATE), speech(1.0)])
    path = np.zeros(1200)
    path[[640, 700, 900]] = [0.6, -0.3, 0.1]  # 40 ms, then two reflections
    near = np.convolve(far, path)[: len(far)] + rng.standard_normal(len(far)) * 30
    near[8 * SAMPLE_RATE : 10 * SAMPLE_RATE] += speech(2.0)  # the lifter, while the coach rests
    stage.reference.write(far.astype(np.int16), 100.0)
    near16 = np.clip(near, -32768, 32767).astype("<i2")
    cleaned = []
    for start in range(0, len(near16), 480):
        at = 100.0 + start / SAMPLE_RATE
        out, _ = stage.clean(AudioChunk(near16[start : start + 480].tobytes(), SAMPLE_RATE, at, at))
        cleaned.append(np.frombuffer(out.audio, "<i2"))
        if start == 10 * SAMPLE_RATE:
            assert stage.bypassed, "the coach has rested for 4 s"
    second = slice(11 * SAMPLE_RATE, 11 * SAMPLE_RATE + SAMPLE_RATE // 4)
    erle = erle_db(near16[second], np.concatenate(cleaned)[second])
    assert erle > 25, f"{name}: ERLE {erle:.1f} dB over the first 0.25 s of the answer after a rest"
