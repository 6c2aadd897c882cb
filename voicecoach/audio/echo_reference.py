"""Lining the coach's playback up with what the microphone heard, and the stage the session runs.

`ReferenceBuffer` keeps what the player wrote, stamped with when it is heard (`StreamClock` smooths the
device's timing); `DelayEstimator` measures the real echo delay online; `NearEndGate` says whether the lifter,
not only the echo, was heard; `EchoStage` puts them and a canceller (see `echo`) together per chunk.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
from collections import deque
from itertools import pairwise

import numpy as np

from voicecoach.audio.echo import FRAME, REFERENCE_LEAD_SECONDS, EchoCanceller
from voicecoach.audio.format import SAMPLE_RATE, AudioChunk
from voicecoach.audio.level import NoiseFloor

LOCK_SAMPLES = 32
"""A linear canceller models a fixed echo path, so the reference must advance sample for sample with what it
explains. Both stream clocks jitter by a few samples (callbacks run late; `StreamClock` creeps between them), and
re-placing every block by its time stamp slipped the reference by 0.2-0.4 ms at random: speex's ERLE in the
PulseAudio room was 3 dB, and with 1.5 ms of stamp jitter on noise (tests/test_echo.py) speex / WebRTC cancelled
0.0 / 3.2 dB, 25.6 / 23.7 dB read on sample for sample. A block lands right after the last one unless the stamps
disagree by more than this (2 ms); the microphone side reads on in the same way (`EchoStage`)."""


LOCK_CHUNKS = 33
"""About a second of microphone chunks: the reading side follows the stamps only when their median over this many
disagrees by more than LOCK_SAMPLES (the stamps of a single chunk jitter by up to 1.5 ms, measured in the room)."""
JUMP_SECONDS = 0.02
"""A disagreement this large is a real jump (a stall, a new stream): followed at once."""
MOVING_PATH_SECONDS = 0.00025
"""The measured echo delays (the last four, one a second) spread wider than this: the echo path moves. Measured in
the PulseAudio room: one stream on one clock 0.1 ms; through a module-loopback, whose adaptive resampler plays
two clocks, 0.6 ms within five seconds, and speex then cut answers short (bargein_room.py). Only a drift, though:
the delay changes between at least DRIFT_CHANGES of the three pairs of neighbouring estimates. A step that then
holds is no drift: with gym noise looped into the room the delay stepped 0.7 ms and held (another stream joined
the microphone's sink), and switching to WebRTC there lost the lifter's words (14 of 32 warm-up commands)."""
DRIFT_CHANGES = 2

OUTLIER_SECONDS = 0.002
"""A delay estimate this far from the median is a wrong peak, not movement: the warm-up's repeated counts correlate
at several lags (estimates of 8 and 60 ms beside a steady 45.6 ms, measured), and a one-off jump stays one-off.
Two in a row that agree with each other are a step of the path (`DelayEstimator.jumps`)."""
SETTLE_ESTIMATES = 8
"""After a step the delay settles for a few seconds (measured in the room with gym noise, after an underrun:
60.0 ms, then 32.3, 32.3, 32.3, 31.5, 31.5, 31.5 and 31.3 ms for minutes): only the estimates after that count
as movement (EchoStage switches cancellers on movement). Before, that settling switched speex to WebRTC."""
UNDERFLOW_HOLD_SECONDS = 2.0
"""When the speaker runs dry (an output underflow: the callback came late), the playback restarts later than the
stream's count says, and the echo delay steps by the gap; a stream that stalled and was reopened has a new path.
The next estimate (1.5 s, all of it after the event) is then taken as the delay at once, not at the second
agreeing one; until it comes (at most this long) the near-end gate stays shut, as what passes the canceller is
likely the coach; and the estimates that follow settle (SETTLE_ESTIMATES) before any counts as movement: after a
reopen in the room, 54.3, 54.2, 53.3, 53.3, 53.2 ms, which had switched speex to WebRTC."""
STEADY_ESTIMATES = 4
"""While the stage may still switch to the canceller for moving paths ("auto": speex first, WebRTC if the delay
drifts), speex is trusted only once this many delay estimates in a row, since the start or the last step, agree
within MOVING_PATH_SECONDS. Drift is told from settling only after SETTLE_ESTIMATES and four more, and until then
speex on a drifting path let the coach through the gate: in the echo room (module-loopback, PocketSphinx) a step
at 10.9 s, then -82.5, -82.6, -82.7, -83.1 ... ms, a false "repeat" at 21.1 s, the switch to WebRTC at 22.1 s (the
CI run that failed heard four false commands in 30 s). A canceller named explicitly is taken at its word: the wait
follows every underrun (~5 s), and with one duplex stream on one clock (`--canceller speex-residual`, the room's
second test) it lost "stop" over answers that began with one (3 of 6 in a CI run)."""

log = logging.getLogger("voicecoach.audio")


class ReferenceBuffer:
    """What the speaker plays, by the clock: the player writes blocks, the microphone side reads them back.

    `write(samples, heard_at)`: 16 kHz int16 samples whose first one reaches the speaker at monotonic
    `heard_at`. `read(start, count)`: the `count` samples heard from monotonic `start` on (silence where
    nothing played). Old audio beyond `keep_seconds` is forgotten. Thread-safe.
    """

    def __init__(self, keep_seconds: float = 4.0) -> None:
        self._size = int(keep_seconds * SAMPLE_RATE)
        self._ring = np.zeros(self._size, np.int16)
        self._origin: float | None = None
        self._written = 0  # absolute sample index one past the last written
        self._lock = threading.RLock()
        self.underflows = 0
        """Times the speaker ran dry (the stream says so): the echo delay may have stepped (see DelayEstimator)."""

    def _index(self, when: float) -> int:
        assert self._origin is not None
        return round((when - self._origin) * SAMPLE_RATE)

    def write(self, samples: np.ndarray, heard_at: float) -> None:
        with self._lock:
            if self._origin is None:
                self._origin = heard_at
            start = self._index(heard_at)
            if abs(start - self._written) <= LOCK_SAMPLES:
                start = self._written  # contiguous with the last block: see LOCK_SAMPLES
            if start < self._written - self._size:
                return
            end = start + len(samples)
            if start > self._written:  # a gap: silence
                self._put(self._written, np.zeros(min(start - self._written, self._size), np.int16))
            self._put(start, samples[-self._size :] if len(samples) > self._size else samples)
            self._written = max(self._written, end)

    def _put(self, start: int, samples: np.ndarray) -> None:
        at = start % self._size
        first = min(len(samples), self._size - at)
        self._ring[at : at + first] = samples[:first]
        self._ring[: len(samples) - first] = samples[first:]

    def index(self, when: float) -> int | None:
        """The sample index heard at monotonic `when` (None before anything was written)."""
        with self._lock:
            return None if self._origin is None else self._index(when)

    def read(self, start: float, count: int) -> np.ndarray:
        with self._lock:
            if self._origin is None:
                return np.zeros(count, np.int16)
            return self.read_at(self._index(start), count)

    def read_at(self, first: int, count: int) -> np.ndarray:
        """The `count` samples from sample index `first` on (silence where nothing played)."""
        out = np.zeros(count, np.int16)
        with self._lock:
            start = max(first, self._written - self._size, 0)
            end = min(first + count, self._written)
            if start < end:  # else nothing played then: silence, and no copy (the common case while idle)
                at, length = start % self._size, end - start
                head = min(length, self._size - at)
                out[start - first : start - first + head] = self._ring[at : at + head]
                out[start - first + head : end - first] = self._ring[: length - head]
        return out


NEAR_RATIO_DB = -12.0
"""A chunk is the lifter's (near-end) when the cleaned signal keeps at least this much of the microphone's energy:
echo alone comes out 25-70 dB down (ERLE), a voice over the echo only a few dB down."""
NEAR_FLOOR = 60.0
"""RMS below which a chunk is silence whatever the ratio."""
NEAR_ABOVE_ROOM_DB = 10.0
"""...and a near-end chunk stands this far above the room: the quietest tenth of the cleaned signal's last 3 s
(NEAR_ROOM_CHUNKS). Gym babble and music are near-end too, and without this the gate stood open for all of them:
the interrupt search decoded the noise non-stop (a core's worth of CPU) and took its words for commands."""
NEAR_ROOM_CHUNKS = 100


CONVERGE_SECONDS = 5.0
"""Seconds of the coach's voice a canceller hears before its output is trusted: while it adapts, the echo it lets
through decodes as words (measured with speex and Moonshine: 6 false "stop"s over 20 answers, all in the first
5 s of the coach speaking; none after)."""
CONVERGED_ERLE_DB = 20.0
"""...or sooner, once it is seen to cancel: the last CONVERGED_WINDOW_SECONDS of the coach's voice came out this
much quieter than the microphone heard it, 8 dB past the line where the gate takes a chunk for the lifter's
(NEAR_RATIO_DB). In the PulseAudio room speex got there after 2.5-3 s of the first answer and WebRTC after 1 s,
where the fixed 5 s had left "stop" unheard 5.5 s into the first answer under load (the delay drifted, speex
was swapped for WebRTC, and the new canceller waited its 5 s again). benchmarks/bench_convergence.py measured it."""
CONVERGED_WINDOW_SECONDS = 1.0
FAR_FLOOR = 100.0
"""Reference RMS (int16) above which the coach is speaking: what counts towards convergence."""
QUIET_COACH_SECONDS = 3.0
"""Once the coach has played nothing for this long, the microphone bypasses the canceller until it plays again:
with no reference there is no echo to take out, and speex with its preprocessor on every 10 ms was the stage's
main cost while idle (py-spy, `voicecoach listen --engine moonshine` in the room: speex took half the Python
time). Longer than the echo's tail and the gaps between a rep's cues, so the canceller runs all through an answer
and a set (it rests in a warm-up's rest between sets); the filter keeps what it learnt for the next answer."""
RESUME_PRIMING_SECONDS = 0.3
"""...and when the coach plays again, the canceller is first given the last of the microphone's rested audio (with
silence as reference). Handed the coach's first sound cold, a canceller cancelled badly for a second: over the
first 0.25 s of an answer after 4 s of rest, 12 dB against 28 dB for one that never rested (speex-residual;
WebRTC 13 against 33), with the reference level with the echo's onset; primed with 60 ms or more, 32 dB. Here
the reference leads the echo (REFERENCE_LEAD_SECONDS and the measured delay), which primes it too: the stage
cancelled 34 dB either way (tests/test_echo.py), so this is a guard for a path whose delay is not yet measured."""


class Convergence:
    """Whether the canceller has heard enough of the coach to be trusted: CONVERGE_SECONDS of its voice, or less
    once its output shows the echo gone (CONVERGED_ERLE_DB). Once trusted it stays trusted; a new canceller gets a
    new one."""

    def __init__(self, seconds: float = CONVERGE_SECONDS, *, erle_db: float | None = CONVERGED_ERLE_DB) -> None:
        self.needed = int(seconds * SAMPLE_RATE)
        self.heard = 0
        self.erle_db = erle_db
        self.cancels = False
        """The coach's voice came out CONVERGED_ERLE_DB quieter over the last CONVERGED_WINDOW_SECONDS."""
        self._window: deque[tuple[int, float, float]] = deque()
        """(samples, microphone energy, cleaned energy) of the coach's last chunks."""
        self._totals = [0, 0.0, 0.0]

    def update(self, far: np.ndarray, near: np.ndarray | None = None, cleaned: np.ndarray | None = None) -> bool:
        """One chunk: what the coach played (`far`), and with `near` and `cleaned` what the canceller made of it."""
        if self.converged or not len(far) or _energy(far) <= FAR_FLOOR**2:
            return self.converged
        self.heard += len(far)
        if self.erle_db is not None and near is not None and cleaned is not None:
            self._measure(len(far), _energy(near) * len(near), _energy(cleaned) * len(cleaned))
        return self.converged

    def _measure(self, samples: int, mic: float, out: float) -> None:
        self._window.append((samples, mic, out))
        totals = self._totals
        totals[0], totals[1], totals[2] = totals[0] + samples, totals[1] + mic, totals[2] + out
        window = int(CONVERGED_WINDOW_SECONDS * SAMPLE_RATE)
        while totals[0] - self._window[0][0] >= window:
            gone = self._window.popleft()
            totals[0], totals[1], totals[2] = totals[0] - gone[0], totals[1] - gone[1], totals[2] - gone[2]
        # totals[1] > 0: a microphone that heard nothing of the coach proves nothing (unplugged, muted)
        full = totals[0] >= window and totals[1] > 0
        assert self.erle_db is not None
        self.cancels = full and totals[2] * 10 ** (self.erle_db / 10) <= totals[1]

    @property
    def converged(self) -> bool:
        return self.heard >= self.needed or self.cancels


def _energy(samples: np.ndarray) -> float:
    """Mean square of int16 samples."""
    x = samples.astype(np.float64)
    return float(x @ x) / len(x) if len(x) else 0.0


class NearEndGate:
    """Says whether the lifter, not the echo, has been heard lately: a word from the interrupt search only
    counts when the utterance it came from had enough near-end chunks (a double-talk detector on ERLE)."""

    def __init__(self, window_chunks: int = 34, needed: int = 3) -> None:
        self.window = window_chunks
        self.needed = needed
        self._recent: list[bool] = []
        self._room = NoiseFloor(NEAR_ROOM_CHUNKS)
        """The cleaned signal's RMS per chunk, lately (see NEAR_ABOVE_ROOM_DB)."""

    def update(self, near: np.ndarray, cleaned: np.ndarray) -> bool:
        """Feed one chunk (microphone, cleaned); True if enough near-end chunks were heard in the window."""
        energy = _energy(near)
        out = energy if cleaned is near else _energy(cleaned)  # the same samples when the canceller rests
        mic = energy + 1e-9
        self._room.update(math.sqrt(out))
        lifter = (
            out > NEAR_FLOOR**2
            and 10 * np.log10(out / mic + 1e-12) > NEAR_RATIO_DB
            and out > (self._room.level * 10 ** (NEAR_ABOVE_ROOM_DB / 20)) ** 2
        )
        self._recent.append(bool(lifter))
        del self._recent[: -self.window]
        return self.open

    @property
    def open(self) -> bool:
        return sum(self._recent) >= self.needed

    def reset(self) -> None:
        self._recent.clear()


class DelayEstimator:
    """Measures the delay between the reference's clock and the microphone's (device buffers the driver does
    not report, the sound server's own queues) by GCC-PHAT over 1.5 s windows while the coach speaks.

    `feed(captured, near)` with every microphone chunk; `offset` is then the seconds to add to a chunk's
    capture time to find the reference it heard (measured in the PulseAudio room: ~75 ms no device reported)."""

    WINDOW = 1.5
    SEARCH = 0.4
    EVERY = 1.0

    def __init__(self, reference: ReferenceBuffer) -> None:
        self.reference = reference
        self.offset = 0.0
        self.measured: list[float] = []
        """The last five estimates since the path last stepped and settled (seconds)."""
        self.jumps = 0
        """Steps of the echo path so far: two estimates in a row that agree, far from the last ones."""
        self._recent: list[float] = []
        """The last STEADY_ESTIMATES estimates since the start, the last step or the speaker running dry."""
        self._step: float | None = None
        """An estimate far from the others, waiting for the next to say whether the path stepped."""
        self._settling = 0
        self._mic: list[np.ndarray] = []
        self._samples = 0
        """Samples in `_mic`."""
        self._start: float | None = None
        self._underflows = reference.underflows
        self._take_next = False
        """The speaker ran dry or the stream stalled: the next estimate is the delay (UNDERFLOW_HOLD_SECONDS)."""
        self._dry_at = -math.inf
        self._captured = -math.inf

    @property
    def remeasuring(self) -> bool:
        """The speaker ran dry or the stream stalled lately, and the delay is not measured since: echo may pass."""
        return self._take_next and self._captured - self._dry_at < UNDERFLOW_HOLD_SECONDS

    @property
    def steady(self) -> bool:
        """The echo path held still over the last STEADY_ESTIMATES estimates (what a linear canceller needs)."""
        return len(self._recent) == STEADY_ESTIMATES and max(self._recent) - min(self._recent) <= MOVING_PATH_SECONDS

    def feed(self, captured: float, near: np.ndarray) -> None:
        self._captured = captured
        gap = self._start is not None and abs(captured - (self._start + self._samples / SAMPLE_RATE)) > 0.05
        dry = self.reference.underflows != self._underflows
        if dry or (gap and self.measured):
            self._underflows = self.reference.underflows
            self._take_next, self._dry_at, self._settling = True, captured, SETTLE_ESTIMATES
            self._recent = []
            log.info("%s: the echo delay is measured again", "the speaker ran dry" if dry else "the stream stalled")
        if self._start is None or gap or dry:
            self._mic, self._samples, self._start = [], 0, captured  # the first chunk, a gap or an underflow
        self._mic.append(near)
        self._samples += len(near)
        if self._samples / SAMPLE_RATE < self.WINDOW:
            return
        mic = np.concatenate(self._mic)[-int(self.WINDOW * SAMPLE_RATE) :].astype(np.float64)
        start = captured + len(near) / SAMPLE_RATE - self.WINDOW
        keep = self.WINDOW - self.EVERY  # the next window overlaps this one; one estimate a second
        self._mic, self._start = [mic[-int(keep * SAMPLE_RATE) :].astype(np.int16)], start + self.WINDOW - keep
        self._samples = len(self._mic[0])
        self._estimate(mic, start)

    def _estimate(self, mic: np.ndarray, start: float) -> None:
        span = int(self.SEARCH * SAMPLE_RATE)
        ref = self.reference.read(start - self.SEARCH, len(mic) + 2 * span).astype(np.float64)
        if np.sqrt(np.mean(ref**2)) < 100 or np.sqrt(np.mean(mic**2)) < 30:
            return  # the coach is (nearly) silent: nothing to measure
        size = 1 << (len(ref) + len(mic)).bit_length()
        spectrum = np.conj(np.fft.rfft(mic, size)) * np.fft.rfft(ref, size)
        corr = np.fft.irfft(spectrum / (np.abs(spectrum) + 1e-9), size)[: 2 * span]
        peak = int(np.argmax(corr))
        clarity = float(corr[peak] / (np.median(np.abs(corr)) + 1e-12))
        log.debug("echo delay %.1f ms, peak %.1f x the median", 1000 * (peak / SAMPLE_RATE - self.SEARCH), clarity)
        if clarity < 6:
            return  # no clear echo (the lifter talking, or too little of the coach in the microphone)
        self._add(peak / SAMPLE_RATE - self.SEARCH)

    def _add(self, estimate: float) -> None:
        if self._take_next:
            self._take_next, self._step = False, estimate
        if self.measured and abs(estimate - self.offset) > OUTLIER_SECONDS:
            stepped = self._step is not None and abs(estimate - self._step) <= OUTLIER_SECONDS
            self._step = None if stepped else estimate
            if not stepped:
                return  # a wrong peak, or the first of a step: the next estimate tells
            self.jumps += 1
            self._settling, self._recent = SETTLE_ESTIMATES, []
            log.info("the echo path stepped: delay %.1f -> %.1f ms", 1000 * self.offset, 1000 * estimate)
        else:
            self._step = None
        self._recent = [*self._recent[-(STEADY_ESTIMATES - 1) :], estimate]
        if self._settling:  # follow the path while it settles; start counting once it has
            self._settling -= 1
            self.measured = [estimate]
        else:
            self.measured = [*self.measured[-4:], estimate]
        self.offset = float(np.median(self.measured))


class EchoStage:
    """The microphone's chunks with the coach's voice taken out: canceller + reference + near-end gate.

    `clean(chunk)` -> (cleaned chunk, near-end heard lately and the canceller converged). Chunks without a
    capture time (files, tests) pass through unchanged, with the gate open. The reference is lined up by the
    measured delay."""

    def __init__(
        self, canceller: EchoCanceller, reference: ReferenceBuffer, *, moving_path: EchoCanceller | None = None
    ) -> None:
        """`moving_path`: the canceller to switch to, once, if the measured echo delay moves (MOVING_PATH_SECONDS)."""
        self.canceller = canceller
        self.moving_path = moving_path
        self._checked: list[float] | None = None
        """The delay estimates `_check_path` last looked at."""
        self.reference = reference
        self.gate = NearEndGate()
        self.convergence = Convergence()
        self.delay = DelayEstimator(reference)
        self.name = canceller.name
        self._cursor: int | None = None
        """The reference sample index the next chunk is cancelled against (see LOCK_SAMPLES)."""
        self._disagreement: list[int] = []
        """Stamped index minus cursor, for the last second of chunks."""
        self._quiet_samples = 0
        """Samples since the reference last had any playback in it (QUIET_COACH_SECONDS)."""
        self.bypassed = False
        """The coach has been quiet for QUIET_COACH_SECONDS: the microphone passes the canceller untouched."""
        self._rested: deque[np.ndarray] = deque(maxlen=max(1, round(RESUME_PRIMING_SECONDS * SAMPLE_RATE / FRAME)))
        """The microphone's last frames while bypassed (RESUME_PRIMING_SECONDS)."""

    def clean(self, chunk: AudioChunk) -> tuple[AudioChunk, bool]:
        if chunk.captured is None:
            return chunk, True
        near = np.frombuffer(chunk.audio, "<i2")
        usable = len(near) - len(near) % FRAME
        if not usable:
            return chunk, True
        jumps = self.delay.jumps
        self.delay.feed(chunk.captured, near)
        if self.delay.jumps != jumps or self.delay.remeasuring:
            self.gate.reset()  # until the delay was re-measured the echo went through: that was not the lifter
        if self.moving_path is not None and self.delay.measured is not self._checked:
            self._checked = self.delay.measured  # a new estimate comes once a second, not with every chunk
            self._check_path()
        far = self._reference_for(chunk.captured, usable)
        self._quiet_samples = 0 if far.any() else self._quiet_samples + usable
        if not self._quiet_samples and self.bypassed:
            self.bypassed = False
            log.debug("the coach plays: echo cancellation resumes")
            if self._rested:
                rested = np.concatenate(self._rested)
                self.canceller.process(rested, np.zeros_like(rested))  # see RESUME_PRIMING_SECONDS
                self._rested.clear()
        elif not self.bypassed and self._quiet_samples >= QUIET_COACH_SECONDS * SAMPLE_RATE and not self.gate.open:
            self.bypassed = True  # between utterances: a switch inside one cut the question in two
            log.debug("the coach is quiet: the microphone bypasses echo cancellation")
        trusted = self.moving_path is None or self.delay.steady  # see STEADY_ESTIMATES
        if self.bypassed:
            heard_alone = near[:usable]
            self._rested.extend(np.split(heard_alone, usable // FRAME))
            near_end = self.gate.update(heard_alone, heard_alone)
            return chunk, self.convergence.converged and near_end and trusted
        cleaned = self.canceller.process(near[:usable], far)
        near_end = self.gate.update(near[:usable], cleaned)
        heard = self.convergence.update(far, near[:usable], cleaned) and near_end and trusted
        audio = cleaned.astype("<i2").tobytes() + chunk.audio[usable * 2 :]
        return AudioChunk(audio, chunk.rate, chunk.timestamp, chunk.captured), heard

    def _check_path(self) -> None:
        measured = self.delay.measured[1:]  # the oldest may straddle the start of playback (measured 2 ms off)
        if len(measured) < 4:
            return
        middle = float(np.median(measured))
        steady = [m for m in measured if abs(m - middle) <= OUTLIER_SECONDS]
        changes = sum(abs(later - earlier) * SAMPLE_RATE > 0.5 for earlier, later in pairwise(steady))
        if len(steady) < 3 or max(steady) - min(steady) <= MOVING_PATH_SECONDS or changes < DRIFT_CHANGES:
            return
        assert self.moving_path is not None
        log.warning(
            "the echo path moves (delay %.1f-%.1f ms): echo cancellation switches from %s to %s",
            1000 * min(steady), 1000 * max(steady), self.name, self.moving_path.name,
        )  # fmt: skip
        self.canceller, self.moving_path = self.moving_path, None
        self.name = self.canceller.name
        self.convergence = Convergence()  # the new canceller has heard nothing yet

    def _reference_for(self, captured: float, count: int) -> np.ndarray:
        """The playback the chunk captured at `captured` heard: read on from the last chunk, sample for sample,
        while the stamps agree within LOCK_SAMPLES over a second (their median), or at once when they jump."""
        stamped = self.reference.index(captured + self.delay.offset + REFERENCE_LEAD_SECONDS)
        if stamped is None:
            return np.zeros(count, np.int16)
        cursor = self._cursor if self._cursor is not None else stamped
        self._disagreement = [*self._disagreement[-(LOCK_CHUNKS - 1) :], stamped - cursor]
        if abs(stamped - cursor) > JUMP_SECONDS * SAMPLE_RATE:
            cursor, self._disagreement = stamped, []
        elif (
            len(self._disagreement) == LOCK_CHUNKS
            and abs(median := statistics.median_low(self._disagreement)) > LOCK_SAMPLES
        ):
            cursor, self._disagreement = cursor + median, []
        self._cursor = cursor + count
        return self.reference.read_at(cursor, count)


class StreamClock:
    """Monotonic time of a stream's samples, from its callbacks. PulseAudio hands blocks over in bursts, so
    the time a callback runs jitters by tens of ms; a callback is never early, so the earliest (callback time
    minus samples so far) is the stream's true origin. It may creep later by `drift` s/s (clock drift) and
    re-anchors after a stall of more than `restart` seconds (a reopened or stalled stream)."""

    def __init__(self, rate: int, drift: float = 2e-4, restart: float = 0.5) -> None:
        self.rate = rate
        self.drift = drift
        self.restart = restart
        self._origin: float | None = None
        self._seen = 0.0

    def stamp(self, samples_before: int, now: float) -> float:
        """Monotonic time of sample `samples_before` (the first of a block whose callback runs at `now`)."""
        candidate = now - samples_before / self.rate
        if self._origin is None or candidate - self._origin > self.restart:
            self._origin = candidate
        else:
            self._origin = min(candidate, self._origin + (now - self._seen) * self.drift)
        self._seen = now
        return self._origin + samples_before / self.rate
