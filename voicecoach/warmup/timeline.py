"""The warm-up as a timeline: what the coach says and when, computed without sound, clocks or threads.

`build_timeline` turns a `WarmupPlan` into `WarmupEvent`s, one per spoken item; `warmup.runner` plays
them on a clock, and `--dry-run` prints them. Slots are sized from an estimate of how long each phrase
takes to say, so the plan itself guarantees that a phrase ends before the next one is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from voicecoach.warmup.plan import (
    CUE_EVERY,
    DEFAULT_RATE,
    GAP,
    MAX_PHASE,
    Tempo,
    WarmupPlan,
    number_word,
    speech_seconds,
)


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
