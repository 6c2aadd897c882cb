"""Part 3: spoken out-of-domain questions (CLINC150 sample + tests/data/not_knee.txt): knee advice given."""

from __future__ import annotations

import json
import random

from speech.common import CLINC, NOT_KNEE, PREFIX, VOICES, Engine, Speaker, Summary, header, pct, usable
from speech.jobs import Job, Result


def ood_texts(count: int, seed: int) -> list[tuple[str, str]]:
    """(text, source): a seeded sample of CLINC150 test + oos_test, then every line of not_knee.txt."""
    data = json.loads(CLINC.read_text())
    pool = [(q, f"clinc:{label}") for q, label in data["test"] + data["oos_test"]]
    sample = random.Random(seed).sample(pool, count)
    own = [
        (line.strip(), "not_knee")
        for line in NOT_KNEE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return sample + own


def ood_jobs(engines: list[Engine], speaker: Speaker, texts: list[tuple[str, str]]) -> list[Job]:
    jobs = []
    clinc_index = 0
    for text, source in texts:
        if source == "not_knee":
            voices = list(VOICES)
        else:
            voices = [VOICES[clinc_index % len(VOICES)]]
            clinc_index += 1
        for voice in voices:
            for prefixed in (False, True):
                spoken = PREFIX + text if prefixed else text
                path = speaker.speak(spoken, voice)
                for engine in engines:
                    mode, kind = ("wake", "prefixed-wake") if prefixed else ("answer", "plain-answer")
                    jobs.append(
                        Job(engine.name, engine.model, mode, str(path), f"ood/{kind}", spoken, source, voice[0])
                    )
    return jobs


def report_ood(results: list[Result], engines: list[Engine], summary: Summary, verbose: bool) -> None:
    header("3. knee advice given to spoken out-of-domain questions (target <= 1%)")
    for engine in usable(engines, summary, "ood: knee advice (answer path)"):
        for kind, label in (("plain-answer", "answer path"), ("prefixed-wake", '"hey coach, ..." listen loop')):
            rows = [r for r in results if r.job.engine == engine.name and r.job.group == f"ood/{kind}"]
            knee = [r for r in rows if r.topic is not None]
            clinc = [r for r in rows if r.job.expected != "not_knee"]
            own = [r for r in rows if r.job.expected == "not_knee"]
            print(
                f"{engine.name}: {label}: knee topic given to {pct(len(knee), len(rows))}  "
                f"[CLINC150 {pct(sum(r.topic is not None for r in clinc), len(clinc))}, "
                f"not_knee.txt x3 voices {pct(sum(r.topic is not None for r in own), len(own))}]"
            )
            clarify = sum(r.intent == "clarify" for r in knee)
            print(f'  of which {len(knee) - clarify} straight knee advice, {clarify} "did you mean ..." knee questions')
            advice = len(knee) - clarify
            summary.add(f"ood: knee advice ({label})", engine.name, f"{100 * advice / max(1, len(rows)):.1f}%")
            summary.add(f"ood: knee question asked ({label})", engine.name, f"{100 * clarify / max(1, len(rows)):.1f}%")
            for r in knee[: (len(knee) if verbose else 8)]:
                print(f"    {r.job.voice}: {r.job.text!r} -> heard {r.heard!r} -> {r.intent} ({r.topic})")
