"""Readings that say a knowledge-base command, for the model to score whole against a short utterance.

A command is short, and a short utterance is where an open beam goes furthest astray: espeak-ng's "cancel it"
came out "can't slip", Festival's "pause please" "pass please", "hold on a minute" "though not a minute". The beam
never held the command, so the dialogue could not choose it (`ReadingChoice.best`). Scored whole by the model (the
closed-set scoring of speech-to-intent systems), the command's own phrasing often lies close behind the beam's
reading; the few phrasings nearest in spelling to what the beam heard are scored, in one decoder pass, and those
close enough become readings the dialogue weighs as it weighs the beam's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rapidfuzz import fuzz, process

from voicecoach.recognizer.knee_readings import KNEE_WORDS

FIRST_WORDS = 3
"""The wake word is looked for among this many words: the phrasing is scored behind the words up to it."""
MAX_WORDS = 3
"""Only a reading of at most this many words after the wake word is looked at. Against a garbled longer reading
the model finds a short command as likely as its own words: "our sissy squat stave" had "more" 0.5 nats behind,
"lee pain's can't watts" "that is not the case" ahead (benchmarks/bench_ear.py, 5 words: knee questions in the
listen loop quiet 90.3 -> 88.7% right)."""
NEAREST = 12
"""How many phrasings, nearest in spelling (`rapidfuzz.fuzz.ratio`) to a run of the reading's words, are scored."""
LEAD_INS = frozenset({"hey", "hi", "okay", "ok"})
COURTESY = frozenset({"please", "coach", "now", "thanks"})
WITHIN = 4.0
"""A phrasing is a reading when the model scores it at most this many nats under the beam's reading, both spelt
alike (capital, full stop)."""
KEEP = 3
"""At most this many such readings, the closest first."""

Spell = Callable[[str], list[int] | None]
Score = Callable[[list[list[int]]], list[float]]


def lead_length(words: Sequence[str], wake_words: frozenset[str]) -> int:
    """How many of `words` are the wake word and what came before it (0 when none of the first words is one)."""
    return next((i + 1 for i, word in enumerate(words[:FIRST_WORDS]) if word in wake_words), 0)


def command_readings(
    reading: str,
    phrasings: Sequence[str],
    wake_words: frozenset[str],
    spell: Spell,
    score: Score,
    names: Sequence[str] = (),
    written: list[int] | None = None,
) -> list[tuple[str, float]]:
    """The command phrasings the utterance `reading` (the beam's best, normalised) may have said: (text, nats
    behind `reading`), the wake word kept in front. `spell` gives a sentence's token ids, `score` the model's
    log-probabilities of token sequences as the whole utterance; `written` is the reading as the model wrote it
    (its own capitals and commas), which counts when it is likelier than `reading` spelt alike."""
    words = reading.split()
    lead = words[: lead_length(words, wake_words)]
    rest = words[len(lead) :]
    if not rest or len(rest) > MAX_WORDS or " ".join(rest) in phrasings or any(w in KNEE_WORDS for w in rest):
        return []
    if set(rest) <= wake_words | LEAD_INS:
        return []  # "hey coach hey hey": the model looping on the wake word, no command to score
    texts = [" ".join([*lead, *variant]) for variant in nearest_variants(rest, phrasings, names)]
    spellings = [spell(text) for text in [reading, *texts]]
    if spellings[0] is None:
        return []
    kept = [(text, s) for text, s in zip(texts, spellings[1:], strict=True) if s is not None]
    own_spellings = [spellings[0], *([written] if written else [])]
    scores = score([*own_spellings, *(s for _, s in kept)])
    own, scores = max(scores[: len(own_spellings)]), scores[len(own_spellings) :]
    close = [(text, max(0.0, own - s)) for (text, _), s in zip(kept, scores, strict=True) if own - s <= WITHIN]
    return sorted(close, key=lambda item: item[1])[:KEEP]


def nearest_variants(rest: Sequence[str], phrasings: Sequence[str], names: Sequence[str] = ()) -> list[list[str]]:
    """The `NEAREST` phrasings most like the reading `rest` in spelling; when it ends in courtesy ("please",
    "coach", "now"), also those most like the words before it, with the courtesy kept: a lifter adds words the
    knowledge base's phrasings lack, and the model scores a missing "please" as harshly as a wrong word. Each
    command's own name (`names`) too: among the nearest in spelling alone, "why under please" had "louder
    please" 0.5 nats behind and no "quieter please" to weigh it against."""
    tail = len(rest)
    while tail > 1 and rest[tail - 1] in COURTESY:
        tail -= 1
    variants: dict[str, None] = {}
    for core, kept in {(" ".join(rest), ""), (" ".join(rest[:tail]), " ".join(rest[tail:]))}:
        nearest = [phrasing for phrasing, _, _ in process.extract(core, phrasings, scorer=fuzz.ratio, limit=NEAREST)]
        for phrasing in [*nearest, *names]:
            variants.setdefault(f"{phrasing} {kept}".strip(), None)
    return [text.split() for text in variants if text != " ".join(rest)]
