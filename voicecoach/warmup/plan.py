"""The warm-up's plan: exercise, sets, reps, tempo and rest, checked; how long a phrase takes to say.

Before heavy squats, hack squats, lunges or leg press: at least four sets of slow, controlled bodyweight
squats, or three to four sets of light leg extensions. Light warm-up work does not cost performance on
the heavy lifts and gets blood into the knee joint.

`voicecoach.warmup.timeline` turns a `WarmupPlan` into the spoken events; `voicecoach.warmup.runner`
plays them on a clock, and `--dry-run` prints them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from voicecoach.errors import UsageError
from voicecoach.voice.base import VoiceSettings

MIN_PHASE, MAX_PHASE = 1.0, 20.0
"""Seconds allowed for the lowering and lifting phases (the pause may be 0)."""
MAX_SETS, MAX_REPS, MAX_REST = 10, 30, 600.0
GAP = 0.25
"""Seconds of quiet wanted between one phrase and the next, so each count is heard on its own."""
TEMPO_STEP = 1.25
"""Slower multiplies every phase by this, faster divides by it."""
CUE_EVERY = 5
"""A form cue after every this many reps (or once mid-set in shorter sets)."""
DEFAULT_RATE = VoiceSettings.rate
"""Words per minute the speech estimate assumes."""

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
