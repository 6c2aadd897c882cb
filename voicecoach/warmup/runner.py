"""Plays a warm-up timeline aloud on a clock, and reacts to pause/resume/skip/stop/repeat/slower/faster.

Every event is due at `origin + event.t` on a monotonic clock, so a late event never pushes the ones
after it; only pause (the paused time), skip and a tempo change move `origin` or the plan. Clips are
rendered before the start, so a count never waits for the synthesiser. `handle` may be called from any
thread (keyboard reader, listening loop): it only changes state under a lock and wakes the loop.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from voicecoach.clock import Clock, RealClock
from voicecoach.commands import Command
from voicecoach.voice.base import SpeechClip, Synthesizer, Voice, VoiceSettings
from voicecoach.warmup.plan import GAP, TEMPO_STEP, WarmupPlan
from voicecoach.warmup.timeline import WarmupEvent, build_timeline, replan, vocabulary


@dataclass(frozen=True)
class Started:
    """An event as it really began."""

    event: WarmupEvent
    due: float
    """Clock seconds from the run's start when it was due (after pauses, skips and tempo changes)."""
    actual: float
    """Clock seconds from the run's start when it was handed to the voice."""

    @property
    def late(self) -> float:
        return self.actual - self.due


Clips = dict[str, SpeechClip]
EventHook = Callable[[WarmupEvent], None]


def trim_silence(clip: SpeechClip, threshold: int = 300) -> SpeechClip:
    """Trimmed clips: the heard onset is the slot, and overlap checks measure voiced sound only."""
    import numpy as np

    samples = np.frombuffer(clip.audio, "<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if not len(loud):
        return clip
    return SpeechClip(clip.text, samples[loud[0] : loud[-1] + 1].tobytes(), clip.rate)


def render_clips(phrases: Iterable[str], synth: Synthesizer, settings: VoiceSettings) -> Clips:
    return {text: trim_silence(synth.render(text, settings)) for text in dict.fromkeys(phrases)}


def overlaps(timeline: Sequence[WarmupEvent], clips: Clips) -> list[str]:
    """Phrases that would still be sounding (plus a short gap) when the next event is due."""
    found = []
    for event, after in itertools.pairwise(timeline):
        end = event.t + clips[event.say].seconds
        if end + GAP / 2 > after.t:
            found.append(f"{event.t:.1f}s {event.say!r} runs {end - after.t + GAP / 2:.2f}s into {after.say!r}")
    return found


class WarmupRunner:
    """Plays one warm-up; `run()` blocks until the end or stop, `handle()` steers it from any thread."""

    def __init__(
        self,
        plan: WarmupPlan,
        voice: Voice,
        synth: Synthesizer,
        *,
        cues: Sequence[str] = (),
        clock: Clock | None = None,
        settings: VoiceSettings | None = None,
        on_event: EventHook | None = None,
    ) -> None:
        self.plan = plan
        self.cues = tuple(cues)
        self.voice = voice
        self.synth = synth
        self.clock: Clock = clock or RealClock()
        self.settings = settings or voice.settings
        self.on_event = on_event
        self.events = build_timeline(plan, self.cues)
        self.started: list[Started] = []
        self.clips: Clips = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._index = 0
        self._origin = 0.0
        self._start = 0.0
        self._paused_at: float | None = None
        self._stopped = False
        self._generation = 0
        self._last_spoken: WarmupEvent | None = None
        self._skipped_to: int | None = None
        """The set a skip jumped to, until its announcement starts: a second skip goes one further."""

    def prepare(self) -> None:
        """Render every phrase the routine may need at any tempo: playback never waits on the synthesiser."""
        self.clips.update(render_clips(vocabulary(self.plan, self.cues), self.synth, self.settings))

    @property
    def timing(self) -> list[tuple[float, float]]:
        """(planned, actual) seconds from the start for each event that started."""
        return [(s.due, s.actual) for s in self.started]

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def run(self) -> list[Started]:
        if not self.clips:
            self.prepare()
        with self._lock:
            self._start = self._origin = self.clock.monotonic()
        while True:
            with self._lock:
                if self._stopped or self._index >= len(self.events):
                    break
                generation = self._generation
                event = self.events[self._index]
                deadline = math.inf if self.paused else self._origin + event.t
                self._wake.clear()
            if self.clock.wait(deadline, self._wake):
                continue
            with self._lock:
                if generation != self._generation:
                    continue  # paused, skipped or re-planned while we slept
                now = self.clock.monotonic()
                self._index += 1
                self._skipped_to = None
                self.started.append(Started(event, deadline - self._start, now - self._start))
                if event.kind != "count":
                    self._last_spoken = event
            self._speak(event)
        # Let the summary finish: callers close the voice after run(), which would cut it off. Bounded by
        # the clip's length, since a voice whose stream never reports its end would otherwise hang here.
        last = self.clips.get(self.started[-1].event.say) if self.started else None
        for _ in range(int(((last.seconds if last else 0.0) + 1.0) / 0.05)):
            if not self.voice.speaking or self._stopped:
                break
            self._wake.wait(0.05)
        return self.started

    def _speak(self, event: WarmupEvent) -> None:
        clip = self.clips.get(event.say)
        if clip is None:  # only if something outside the vocabulary turns up: late, but said
            clip = self.clips[event.say] = trim_silence(self.synth.render(event.say, self.settings))
        self.voice.play(clip, wait=False)
        if self.on_event is not None:
            self.on_event(event)

    def handle(self, command: Command) -> bool:
        """Act on a command from any thread; False when it does not apply (e.g. resume while running)."""
        with self._lock:
            applied = self._apply(command)
            if applied and command is not Command.REPEAT:
                self._generation += 1
                self._wake.set()
            again = self._last_spoken if applied and command is Command.REPEAT else None
        if command in (Command.PAUSE, Command.STOP, Command.SKIP) and applied:
            self.voice.stop()
        if again is not None:
            self._speak(again)
        return applied

    def _apply(self, command: Command) -> bool:
        if self._stopped:
            return False
        now = self.clock.monotonic()
        if command is Command.PAUSE and self.paused:
            # Already paused: a spoken "pause" heard twice (its tail decoded again) must not resume the count. The
            # space key toggles in the key layer (`commands.command_from_key`), not here.
            return False
        if command is Command.PAUSE:
            self._paused_at = now
        elif command is Command.RESUME:
            if self._paused_at is None:
                return False
            self._origin += now - self._paused_at
            self._paused_at = None
        elif command is Command.STOP:
            self._stopped = True
        elif command is Command.SKIP:
            return self._skip(self._paused_at if self._paused_at is not None else now)
        elif command is Command.REPEAT:
            return self._last_spoken is not None
        elif command in (Command.SLOWER, Command.FASTER):
            factor = TEMPO_STEP if command is Command.SLOWER else 1 / TEMPO_STEP
            tempo = self.plan.tempo.scaled(factor)
            if tempo == self.plan.tempo:
                return False
            self.plan = self.plan.with_tempo(tempo)
            self.events = replan(self.events, self._index, build_timeline(self.plan, self.cues))
        else:
            return False
        return True

    def _skip(self, now: float) -> bool:
        """Jump to the next set's announcement (or the summary) and make it due now."""
        current = self._skipped_to or (self.started[-1].event.set if self.started else 1)
        later = range(self._index, len(self.events))
        target = next((i for i in later if self._is_set_start(self.events[i], current)), None)
        if target is None:
            return False
        self._index = target
        self._skipped_to = self.events[target].set
        self._origin = now - self.events[target].t
        return True

    @staticmethod
    def _is_set_start(event: WarmupEvent, after_set: int) -> bool:
        return event.kind == "summary" or (event.kind == "announce" and event.set > after_set)


def runner_for_voice(
    plan: WarmupPlan,
    voice: Voice,
    synth: Synthesizer,
    *,
    cues: Sequence[str] = (),
    clock: Clock | None = None,
    on_event: EventHook | None = None,
) -> WarmupRunner:
    """The warm-up for `voice`, however it was started (`voicecoach warmup`, or "start the warm-up" in `listen`).

    Its clips are rendered at full volume: the voice's player applies `voice.settings.volume` as it plays
    (as `SpokenVoice` does for replies), so louder/quieter reach the counts at once and the volume is applied
    once, not twice.
    """
    settings = replace(voice.settings, volume=1.0)
    return WarmupRunner(plan, voice, synth, cues=cues, clock=clock, settings=settings, on_event=on_event)


def render_warmup_wav(
    timeline: Sequence[WarmupEvent], synth: Synthesizer, settings: VoiceSettings, path: str | Path
) -> list[str]:
    """Mix the whole routine into one 16 kHz WAV, each clip at its `t`; returns the overlaps found."""
    import numpy as np

    from voicecoach.audio.chunks import write_wav
    from voicecoach.audio.format import SAMPLE_RATE
    from voicecoach.audio.resample import resample

    clips = render_clips((e.say for e in timeline), synth, settings)
    audio = {text: resample(np.frombuffer(c.audio, "<i2"), c.rate, SAMPLE_RATE) for text, c in clips.items()}
    length = max(round(e.t * SAMPLE_RATE) + len(audio[e.say]) for e in timeline) + SAMPLE_RATE // 2
    mix = np.zeros(length, np.int32)
    for event in timeline:
        start = round(event.t * SAMPLE_RATE)
        mix[start : start + len(audio[event.say])] += audio[event.say]
    write_wav(path, np.clip(mix, -32768, 32767).astype("<i2"), SAMPLE_RATE)
    return overlaps(timeline, clips)
