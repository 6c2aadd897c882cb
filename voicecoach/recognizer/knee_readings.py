"""Readings that name the knee where the beam heard another word, for the model to score whole.

Every knee question names the knee, and an utterance's first words are where Moonshine is least sure of it:
espeak-ng's "knees feel bad after squatting" came out "these feel bad ...", "my knee is locked" as "my lead is
locked", Festival's "knees sore after a heavy squat session" as "we saw after ...". The beam lets the knee go at
its first piece; the same sentence with the knee put back, scored whole by the model (the closed-set scoring of
speech-to-intent systems, one decoder pass for every variant), was 3-8 nats behind in those, and the dialogue
decides with the matcher whether such a reading is worth answering (`ReadingChoice.best`).

Only on clear audio: in 10 dB gym noise the model found "knee back hurts after squats" close to "he back hurts
after squats" (the lifter had said "my back"), and out-of-domain questions got knee advice.
"""

from __future__ import annotations

import re

KNEE_WORDS = ("knee", "knees")
FIRST_WORDS = 3
"""The knee is looked for among this many words after any lead-in ("hey coach")."""
LEAD_INS = frozenset({"hey", "coach"})
WITHIN = 8.0
"""A variant is kept when the model scores it at most this many nats under its own best reading."""
KNEE_PRIOR = 5.0
"""... and it counts this many nats less behind (not below 0): what naming the knee is worth in this domain.
Held-out questions, 4 voices, answer path (benchmarks/bench_ear.py), knee questions right / wrong advice, quiet
and 20 dB: none 88.7 / 1.1%, 84.2 / 2.9%; within 6 prior 4: 90.8 / 0.5%, 84.7 / 2.9%; within 7 prior 4: 91.3 /
0.8%, 85.3 / 2.9%; within 8 prior 5: 91.8 / 0.8%, 85.3 / 2.9%, with one command more taken for knee advice at
20 dB ("can't use the warmup" -> "knee the warmup"); out-of-domain advice unchanged. Chosen on that set, so its
figures flatter a little. In the listen loop ("hey coach, ..." in a stream, so the decode has silence or noise
before the words) the model finds the knee further behind (espeak-ng's "knees feel bad": 7 nats from a file,
12 with half a second of silence first) and the gain is smaller: quiet 86.1 -> 87.4%, 20 dB 84.5 -> 85.5%,
wrong advice unchanged (1.1%, 2.4%). Scoring the variants costs about 40 ms after a question (answer path compute
median 152 -> 189 ms, two x86 cores)."""
AFTER_WAKE = 4.0
"""Behind the wake word ("hey coach ...") a variant may lie this many nats further back (`WITHIN`): there the model
puts the knee 8-12 nats under the word it chose ("hey coach lean sore after a heavy squat session"), against 0-5
from the question alone. The listening loop, which knows the lifter called the coach, counts such a variant this
many nats closer where the knee stands for one word that may hide it (`WakeWord._closer`). Held-out questions,
4 voices, listen loop (benchmarks/bench_ear.py --paths listen), right / wrong advice: quiet 88.2 / 1.3 -> 91.1 /
1.3%, 20 dB 84.7 / 2.4 -> 86.6 / 2.4%; commands and spoken out-of-domain questions unchanged. Without the
one-word rule it also turned "next set please" and "my shins hurt ..." into knee advice."""
CLEAR_DB = 15.0
"""Variants only for an utterance this far above the room (its loud frames over the room's noise floor). The
held-out files measured 17-23 dB (5th-95th percentile) in 20 dB gym noise, 8-14 dB in 10 dB, 120 dB quiet; at
10 dB the variants turned 3 of 288 out-of-domain questions and 2 commands into knee advice for 4 knee answers."""

_PUNCTUATION = re.compile(r"[^\w']+$")
_KNEE = re.compile(r"\bknee", re.IGNORECASE)  # knee, knees, kneecap


def names_knee(text: str) -> bool:
    return _KNEE.search(text) is not None


def after_wake(text: str) -> bool:
    """`text` begins with a lead-in ("hey coach", "coach")."""
    return _lead_ins(text.split()) > 0


def _lead_ins(words: list[str]) -> int:
    """How many of `words` are lead-ins before the question ("hey coach")."""
    lead = 0
    while lead < len(words) and _bare(words[lead]).lower() in LEAD_INS:
        lead += 1
    return lead


def knee_variants(text: str) -> list[str]:
    """`text` as the model writes it ("These feel bad after squatting.") with one or two of its first words
    replaced by "knee" or "knees" ("Knees feel bad after squatting.", "These knee after squatting.", ...); none
    when it names the knee already. Capitals and punctuation follow the words replaced, so each variant is spelt
    as the model would write it."""
    words = text.split()
    if not words or names_knee(text):
        return []
    lead = _lead_ins(words)
    variants: dict[str, None] = {}
    for at in range(lead, min(lead + FIRST_WORDS, len(words))):
        for span in (1, 2):
            if at + span > len(words):
                continue
            ending = _PUNCTUATION.search(words[at + span - 1])
            for knee in KNEE_WORDS:
                word = knee.capitalize() if words[at][:1].isupper() else knee
                replaced = word + (ending.group() if ending else "")
                variants.setdefault(" ".join([*words[:at], replaced, *words[at + span :]]), None)
    return list(variants)


def _bare(word: str) -> str:
    return _PUNCTUATION.sub("", word)
