"""The warm-up as a timeline: what the coach says and when, computed without sound, clocks or threads.

Before heavy squats, hack squats, lunges or leg press: at least four sets of slow, controlled bodyweight
squats, or three to four sets of light leg extensions. Light warm-up work does not cost performance on
the heavy lifts and gets blood into the knee joint.

`build_timeline` turns a `WarmupPlan` into `WarmupEvent`s, one per spoken item; `warmup_runner` plays
them on a clock, and `--dry-run` prints them. Slots are sized from an estimate of how long each phrase
takes to say, so the plan itself guarantees that a phrase ends before the next one is due.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from voicecoach.errors import UsageError

MIN_PHASE, MAX_PHASE = 1.0, 20.0
"""Seconds allowed for the lowering and lifting phases (the pause may be 0)."""
MAX_SETS, MAX_REPS, MAX_REST = 10, 30, 600.0
GAP = 0.25
"""Seconds of quiet wanted between one phrase and the next, so each count is heard on its own."""
TEMPO_STEP = 1.25
"""Slower multiplies every phase by this, faster divides by it."""
CUE_EVERY = 5
"""A form cue after every this many reps (or once mid-set in shorter sets)."""
DEFAULT_RATE = 165
"""Words per minute the speech estimate assumes (VoiceSettings' default)."""

KINDS = ("announce", "count", "cue", "rest", "summary")

# fmt: off
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# fmt: on


def number_word(n: int) -> str:
    """0-999 as spoken words ("twenty one"); counts stay short so they fit their beat."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(n, 100)
    return f"{_ONES[hundreds]} hundred" + (f" {number_word(rest)}" if rest else "")


def speech_seconds(text: str, rate: int = DEFAULT_RATE) -> float:
    """Roughly how long espeak-ng takes to say `text` (fitted on its voiced length at 165 and 250 wpm)."""
    letters = len(re.sub(r"[^A-Za-z0-9 ]", "", text))
    return (0.15 + 0.062 * letters) * DEFAULT_RATE / rate


@dataclass(frozen=True)
class Tempo:
    """Seconds per phase of one rep."""

    eccentric: float
    """Lowering, seconds."""
    pause: float
    """Bottom hold, seconds."""
    concentric: float
    """Lifting, seconds."""

    def __str__(self) -> str:
        return "-".join(f"{p:g}" for p in (self.eccentric, self.pause, self.concentric))

    def scaled(self, factor: float) -> Tempo:
        """Every phase times `factor`, kept inside the allowed range."""

        def clamp(value: float, low: float) -> float:
            return round(min(MAX_PHASE, max(low, value * factor)), 2)

        return Tempo(clamp(self.eccentric, MIN_PHASE), clamp(self.pause, 0.0), clamp(self.concentric, MIN_PHASE))


def parse_tempo(text: str) -> Tempo:
    """ "3-1-1" (eccentric-pause-concentric seconds) to a `Tempo`; bad or absurd values are a UsageError."""
    parts = re.split(r"\s*[-/:,]\s*", text.strip())
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise UsageError(f"--tempo {text!r}: expected three numbers like 3-1-1 (seconds down, hold, up)")
    tempo = Tempo(*values)
    for name, value, low in (
        ("down", tempo.eccentric, MIN_PHASE),
        ("hold", tempo.pause, 0.0),
        ("up", tempo.concentric, MIN_PHASE),
    ):
        if not low <= value <= MAX_PHASE:
            raise UsageError(f"--tempo {text!r}: {name} phase must be {low:g}-{MAX_PHASE:g} seconds, got {value:g}")
    return tempo


@dataclass(frozen=True)
class Exercise:
    """A warm-up exercise preset."""

    key: str
    """The --exercise value."""
    name: str
    """As spoken in the announcement."""
    manner: str
    sets: int
    reps: int
    tempo: Tempo
    rest: float
    """Seconds between sets."""
    topic: str
    """Knowledge-base topic whose cues are dropped in during the sets."""
    cues: tuple[str, ...]
    """Cues from the source article, used when the knowledge base offers none."""


EXERCISES: dict[str, Exercise] = {
    e.key: e
    for e in (
        Exercise(
            "squats",
            "bodyweight squats",
            "slow and controlled",
            4,
            10,
            Tempo(3, 1, 1),
            60.0,
            "knee_pain_squat",
            ("Knees follow your toes", "Slow and controlled", "Don't let knees cave in"),
        ),
        Exercise(
            "leg-extensions",
            "light leg extensions",
            "smooth and controlled",
            3,
            12,
            Tempo(2, 1, 2),
            60.0,
            "knee_pain_leg_extension",
            ("Knees face forward", "Toes point at the ceiling"),
        ),
    )
}


@dataclass(frozen=True)
class WarmupPlan:
    exercise: Exercise
    sets: int
    reps: int
    tempo: Tempo
    rest: float
    """Seconds between sets."""
    rate: int = DEFAULT_RATE
    """Speech rate (words per minute) the slots are sized for."""

    @classmethod
    def make(
        cls,
        exercise: str = "squats",
        *,
        sets: int | None = None,
        reps: int | None = None,
        tempo: str | Tempo | None = None,
        rest: float | None = None,
        rate: int = DEFAULT_RATE,
    ) -> WarmupPlan:
        """A validated plan; options left as None take the exercise's defaults."""
        preset = EXERCISES.get(exercise.strip().lower())
        if preset is None:
            raise UsageError(f"unknown exercise {exercise!r}: choose {' or '.join(EXERCISES)}")
        plan = cls(
            preset,
            preset.sets if sets is None else sets,
            preset.reps if reps is None else reps,
            parse_tempo(tempo) if isinstance(tempo, str) else tempo or preset.tempo,
            preset.rest if rest is None else rest,
            rate,
        )
        if not 1 <= plan.sets <= MAX_SETS:
            raise UsageError(f"--sets must be 1-{MAX_SETS}, got {plan.sets}")
        if not 1 <= plan.reps <= MAX_REPS:
            raise UsageError(f"--reps must be 1-{MAX_REPS}, got {plan.reps}")
        if not (math.isfinite(plan.rest) and 0 <= plan.rest <= MAX_REST):
            raise UsageError(f"--rest must be 0-{MAX_REST:g} seconds, got {plan.rest:g}")
        return plan

    def with_tempo(self, tempo: Tempo) -> WarmupPlan:
        return replace(self, tempo=tempo)


@dataclass(frozen=True)
class WarmupEvent:
    """One spoken item of the warm-up."""

    t: float
    """Seconds from the start of the routine."""
    say: str
    kind: str
    """One of `KINDS`."""
    set: int
    """1-based set number; rests belong to the set they follow, the summary to the last set."""
    rep: int | None = None
    """1-based rep for counts, else None."""

    @property
    def group(self) -> tuple[str, int, int | None]:
        """Events sharing this form one unit (a rep, a rest countdown): re-planning starts at a unit."""
        return (self.kind, self.set, self.rep)

    def as_dict(self) -> dict[str, object]:
        return {"t": self.t, "say": self.say, "kind": self.kind, "set": self.set, "rep": self.rep}


def format_event(event: WarmupEvent) -> str:
    return f"[{event.t:6.1f}s] {event.say}"


def _slot(text: str, rate: int) -> float:
    """Seconds to reserve for a phrase: its estimated length with headroom, then a gap."""
    return speech_seconds(text, rate) * 1.15 + GAP


def _phase_words(first: str, seconds: float, rate: int) -> list[tuple[float, str]]:
    """One phase's counts as (offset, word): "down, two, three", a beat a second, fewer if words won't fit."""
    # A hold too short to say "hold" in is kept silent; down and up are always said (at least 1 s).
    if seconds <= 0 or (first == "hold" and _slot(first, rate) > seconds):
        return []
    beats = max(1, round(seconds))
    while beats > 1:
        words = [first] + [number_word(i) for i in range(2, beats + 1)]
        if max(_slot(w, rate) for w in words) <= seconds / beats:
            break
        beats -= 1
    return [(i * seconds / beats, first if i == 0 else number_word(i + 1)) for i in range(beats)]


def rep_words(tempo: Tempo, rep: int, rate: int = DEFAULT_RATE) -> tuple[list[tuple[float, str]], float]:
    """One rep's counts as (offset, word), ending with the rep number at the top; and the rep's length."""
    words = _phase_words("down", tempo.eccentric, rate)
    words += [(tempo.eccentric + o, w) for o, w in _phase_words("hold", tempo.pause, rate)]
    up = tempo.eccentric + tempo.pause
    words += [(up + o, w) for o, w in _phase_words("up", tempo.concentric, rate)]
    top = up + tempo.concentric
    name = number_word(rep)
    return [*words, (top, name)], top + max(1.0, _slot(name, rate))


def _cue_after(reps: int) -> set[int]:
    """Reps after which a form cue is said (0: before the first rep)."""
    if reps == 1:
        return {0}
    return {r for r in range(CUE_EVERY, reps, CUE_EVERY)} or {reps // 2}


def build_timeline(plan: WarmupPlan, cues: Sequence[str] = ()) -> list[WarmupEvent]:
    """Every spoken item of the routine with its time from the start, in order."""
    cues = tuple(cues) or plan.exercise.cues
    rate, total = plan.rate, number_word(plan.sets)
    events: list[WarmupEvent] = []
    t = 0.0

    def say(text: str, kind: str, set_no: int, rep: int | None = None) -> None:
        nonlocal t
        events.append(WarmupEvent(round(t, 3), text, kind, set_no, rep))
        t += _slot(text, rate)

    for s in range(1, plan.sets + 1):
        ex = plan.exercise
        say(f"Set {number_word(s)} of {total}, {ex.name}, {ex.manner}.", "announce", s)
        cue_after = _cue_after(plan.reps)
        for r in range(plan.reps + 1):
            if r in cue_after and cues:
                say(cues[(s - 1) % len(cues)], "cue", s)
            if r == plan.reps:
                break
            words, length = rep_words(plan.tempo, r + 1, rate)
            events.extend(WarmupEvent(round(t + o, 3), w, "count", s, r + 1) for o, w in words)
            t += length
        if s < plan.sets and plan.rest > 0:
            t = _rest(events, t, plan.rest, s, rate)
    sets = f"{total} set{'s' if plan.sets != 1 else ''}"
    reps = number_word(plan.reps)
    say(
        f"Warm-up done: {sets} of {reps} {plan.exercise.name}. Your knees are ready for heavy work.",
        "summary",
        plan.sets,
    )
    return events


def _rest(events: list[WarmupEvent], start: float, rest: float, set_no: int, rate: int) -> float:
    """The rest countdown (how long, then marks at 60/30/10 seconds left and five to one); returns its end."""
    intro = f"Rest, {number_word(round(rest))} second{'s' if round(rest) != 1 else ''}."
    events.append(WarmupEvent(round(start, 3), intro, "rest", set_no))
    free_from = start + _slot(intro, rate)
    marks = [(m, f"{number_word(m)} seconds") for m in (60, 30, 10)] + [(m, number_word(m)) for m in range(5, 0, -1)]
    for left, text in marks:
        t = start + rest - left
        if left < rest and t >= free_from:
            events.append(WarmupEvent(round(t, 3), text, "rest", set_no))
            free_from = t + _slot(text, rate)
    # A rest shorter than its own announcement would talk over the next set.
    return max(start + rest, free_from)


def vocabulary(plan: WarmupPlan, cues: Sequence[str] = ()) -> list[str]:
    """Every phrase the routine can need at any tempo, so all of it can be rendered before the start."""
    phrases = {e.say for e in build_timeline(plan, cues)}
    phrases.update(("down", "hold", "up"))
    phrases.update(number_word(n) for n in range(1, max(plan.reps, int(MAX_PHASE)) + 1))
    return sorted(phrases)


def replan(events: Sequence[WarmupEvent], next_index: int, new_events: Sequence[WarmupEvent]) -> list[WarmupEvent]:
    """Swap in a new tempo from the next unit (rep, cue, rest) on; the unit under way finishes as planned.

    `events[:next_index]` have started. The result keeps every event up to the next unit start and
    continues with `new_events` from the same unit, shifted so that unit starts when it was due.
    """
    starts = _unit_starts(events)
    cut = next((i for i in starts if i >= next_index), len(events))
    if cut >= len(events):
        return list(events)
    # A set can hold several cues, so a unit is found by its group and how many came before it.
    nth = sum(events[i].group == events[cut].group for i in starts if i < cut)
    j = [i for i in _unit_starts(new_events) if new_events[i].group == events[cut].group][nth]
    shift = events[cut].t - new_events[j].t
    return [*events[:cut], *(replace(e, t=round(e.t + shift, 3)) for e in new_events[j:])]


def _unit_starts(events: Sequence[WarmupEvent]) -> list[int]:
    return [i for i, e in enumerate(events) if i == 0 or e.group != events[i - 1].group]
