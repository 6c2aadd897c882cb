"""The echo path measured online: `DelayEstimator` finds the delay between the reference's clock and the
microphone's (GCC-PHAT while the coach speaks), and says whether the path holds still, stepped or drifts.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from voicecoach.audio.echo_reference import ReferenceBuffer
from voicecoach.audio.format import SAMPLE_RATE

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
