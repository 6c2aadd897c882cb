"""Parts 1 and 2: spoken held-out knee questions, clean ("accuracy") and in gym noise ("noise"): right topic."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

from speech.common import GYM_NOISE, PREFIX, Engine, Speaker, Summary, header, load_tool, pct, usable
from speech.jobs import Job, Result
from speech.noise import MIX_NOISE_SECONDS, mix_noise, noise_excerpt


def accuracy_jobs(
    engines: list[Engine],
    speaker: Speaker,
    questions: list[tuple[str, str]],
    voices: list[tuple[str, str | None, int]],
    *,
    noise: Path | None,
    group: str,
    seed: int,
) -> list[Job]:
    """Plain and "hey coach, " questions through the answer path; the prefixed ones also through the listen loop.

    With noise, the answer path gets the mix followed by 1 s of silence (as `voicecoach answer` pads), while the
    listen loop gets noise that goes on before and after the question, as on a gym floor (no silence to end on).
    """
    gym = load_tool(GYM_NOISE) if noise is not None else None
    if noise is not None:
        noise = noise_excerpt(noise, MIX_NOISE_SECONDS)  # `mix` reads the whole noise file for every question
    rng = random.Random(seed)
    jobs = []
    for voice in voices:
        for text, expected in questions:
            for prefixed in (False, True):
                spoken = PREFIX + text if prefixed else text
                clean = speaker.speak(spoken, voice)
                offset = rng.uniform(0, MIX_NOISE_SECONDS)
                runs = [("answer", "plain-answer" if not prefixed else "prefixed-answer")]
                if prefixed:
                    # In noise only the listen loop hears "hey coach, ...": the prefixed answer path adds little
                    # there and would push the default run past 10 minutes.
                    runs = [("wake", "prefixed-wake")] if noise is not None else [*runs, ("wake", "prefixed-wake")]
                for mode, kind in runs:
                    path, tail = clean, "silence"
                    if gym is not None and noise is not None:
                        path = mix_noise(gym, clean, noise, offset, pad=mode == "wake")
                        tail = "noise" if mode == "wake" else "silence"
                    for engine in engines:
                        job = Job(engine.name, engine.model, mode, str(path), f"{group}/{kind}", spoken, expected)
                        jobs.append(replace(job, voice=voice[0], tail=tail))
    return jobs


def report_accuracy(
    title: str, group: str, results: list[Result], engines: list[Engine], summary: Summary, verbose: bool
) -> None:
    header(title)
    for engine in usable(engines, summary, f"{group}: plain (answer path)"):
        mine = [r for r in results if r.job.engine == engine.name and r.job.group.startswith(group + "/")]
        for kind, label in (
            ("plain-answer", "plain (answer path)"),
            ("prefixed-answer", '"hey coach, ..." (answer path)'),
            (
                "prefixed-wake",
                '"hey coach, ..." (listen loop, wake)' + (", noise goes on" if group == "noise" else ""),
            ),
        ):
            rows = [r for r in mine if r.job.group == f"{group}/{kind}"]
            if not rows:
                continue
            right = sum(r.topic == r.job.expected for r in rows)
            by_voice = Counter(r.job.voice for r in rows if r.topic == r.job.expected)
            totals = Counter(r.job.voice for r in rows)
            per_voice = ", ".join(f"{v} {pct(by_voice[v], n)}" for v, n in totals.items())
            print(f"{engine.name}: {label}: {pct(right, len(rows))} right topic  [{per_voice}]")
            summary.add(f"{group}: {label}", engine.name, f"{100 * right / max(1, len(rows)):.1f}%")
            if kind == "prefixed-wake":
                lost = sum(not r.turns for r in rows)
                split = sum(r.utterances > 1 for r in rows)
                yes = sum("Yes?" in r.said for r in rows)
                print(
                    f"  listen loop: no turn at all (wake word lost or dropped) {pct(lost, len(rows))}; "
                    f"split into >1 utterance {pct(split, len(rows))}; "
                    f'coach said "Yes?" mid-question {pct(yes, len(rows))}'
                )
                summary.add(f"{group}: wake lost (no turn)", engine.name, f"{100 * lost / max(1, len(rows)):.1f}%")
            if kind == "plain-answer":
                split = sum(r.utterances > 1 for r in rows)
                empty = sum(not r.heard for r in rows)
                print(f"  split into >1 utterance {pct(split, len(rows))}; nothing heard {pct(empty, len(rows))}")
            wrong = [r for r in rows if r.topic != r.job.expected]
            for r in wrong[: (len(wrong) if verbose else 4)]:
                heard = r.heard if r.job.mode == "answer" or r.turns else " | ".join(r.texts) or "(no utterance ended)"
                print(f"    {r.job.voice}: {r.job.text!r} -> heard {heard!r} -> {r.topic or r.intent or 'no turn'}")
