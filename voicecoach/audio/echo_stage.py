"""The echo stage the session runs per microphone chunk: the reference read for the chunk (`echo_reference`), the
measured delay (`echo_delay`), a canceller (`echo`), and whether what is left may be the lifter (`echo_trust`).
"""

from __future__ import annotations

import logging
import statistics
from collections import deque
from itertools import pairwise

import numpy as np

from voicecoach.audio.echo import FRAME, REFERENCE_LEAD_SECONDS, EchoCanceller
from voicecoach.audio.echo_delay import DRIFT_CHANGES, MOVING_PATH_SECONDS, OUTLIER_SECONDS, DelayEstimator
from voicecoach.audio.echo_reference import JUMP_SECONDS, LOCK_CHUNKS, LOCK_SAMPLES, ReferenceBuffer
from voicecoach.audio.echo_trust import Convergence, NearEndGate
from voicecoach.audio.format import SAMPLE_RATE, AudioChunk

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


log = logging.getLogger("voicecoach.audio")


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
