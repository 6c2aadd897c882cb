"""The recognisers' domain, generated from the knowledge base: nobody maintains a word list by hand.

A coach who adds `say: my knees click on lunges` gets "click" and "lunges" recognised on the next start.
Besides the knowledge-base phrasings the domain has:

- command phrasings (and the `Command` values themselves, so a knowledge base without `[command]`
  sections still understands "stop");
- generated variants: each slot word (pain word, exercise, body part) swapped for its alternatives and
  optional words dropped, so unseen phrasings still decode instead of being forced onto an example
  (the closed-grammar trap, see ../shared/howto/speech-engines.md);
- garbage: common non-domain English, hand-written chatter (`chatter`) and the `elsewhere` body parts,
  so "what's the weather" and "my shoulder hurts" decode as themselves, not as knee words.

Everything here is pure (text in, text out) so it is tested without any engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from voicecoach.commands import Command
from voicecoach.text import chatter
from voicecoach.text.knowledge import KnowledgeBase
from voicecoach.text.normalize import words_of

SLOTS: tuple[frozenset[str], ...] = (
    frozenset({"hurt", "hurts", "hurting", "ache", "aches", "aching", "sore", "pain", "painful", "burn", "burns"}),
    frozenset({"knee", "knees", "kneecap", "leg", "legs"}),
    frozenset({"squats", "squat", "squatting", "lunges", "deadlifts", "running", "jogging", "cycling", "jumping"}),
    frozenset({"after", "during", "when", "while", "before"}),
    frozenset({"today", "yesterday", "lately", "again", "now"}),
)
"""Words that can stand in for each other in a phrasing (single words only, so swaps keep the shape)."""

OPTIONAL = frozenset({"my", "the", "a", "really", "always", "so", "just", "please", "both", "still", "kind", "of"})
"""Words a lifter often leaves out or adds: variants without them are generated too."""

PREFIXES = ("", "hey coach", "coach")
"""Lead-ins the generated phrasings get. Only the wake word: fillers such as "so" here made the model hear
"so my knees..." where a lifter said "coach, my knees..." (measured with benchmarks/bench_speech.py)."""

GARBAGE = frozenset(
    """
    a about all also am and any are as ask at be because been book but buy by call can car card change
    city cook could day did dinner do does dog down eat email find flight for from game get give go going
    good got had has have he hello her here him his home hour how i if in is it it's just know like
    listen look make me meeting money morning movie much music my name need new news next night no not
    now of off on one or order our out pay phone pizza play please rain read remind right say schedule
    see send set she should show sing so some song sorry start tell than thank that that's the their them
    then there these they thing think this time to today tomorrow too traffic turn two up us want was
    watch water way we weather week well what what's when where which who why will with work would year
    yes you your shoulder shoulders back neck elbow elbows wrist wrists hip hips ankle ankles arm arms
    chest foot feet hand hands head bench press pull row curl
    """.split()
)
"""Common non-domain words: the garbage paths that keep off-topic speech out of the knee words."""

GARBAGE_SENTENCES = chatter.SENTENCES
"""Hand-written off-topic sentences (everyday requests, gym chatter, other body parts); their words join
the garbage words, since a sentence with a word outside the dictionary never reaches the model."""


_SENTENCE_WORDS = frozenset(w for sentence in GARBAGE_SENTENCES for w in words_of(sentence))


@dataclass(frozen=True)
class Domain:
    """What the recognisers listen for, derived from one knowledge base."""

    phrases: tuple[str, ...]
    """Normalised topic phrasings (and mishearing targets), in knowledge-base order."""
    commands: tuple[str, ...]
    """Normalised command phrasings and command names."""
    words: frozenset[str]
    """Every word of `phrases` and `commands` plus the slot alternatives and `elsewhere` words."""
    garbage: frozenset[str]
    """Non-domain words (common English and `elsewhere` body parts)."""
    elsewhere: tuple[str, ...] = ()
    """Knee phrasings with another body part put in ("my hip hurts after squats"): without sentences around
    them the model never hears those words and decodes "my hip pops" as knee words (measured)."""
    sentences: tuple[str, ...] = ()
    """`phrases` and `commands` with their generated variants and wake-word lead-ins: what a language model
    learns the domain from."""
    chatter: tuple[str, ...] = ()
    """Off-topic sentences: the garbage model, so that chatter decodes as chatter and not as knee words."""

    @property
    def all_words(self) -> frozenset[str]:
        return self.words | self.garbage


def build_domain(kb: KnowledgeBase) -> Domain:
    topics: list[str] = []
    commands: list[str] = []
    command_ids = {c.id for c in kb.commands} | {c.value for c in Command}
    for intent, line in kb.phrasings():
        (commands if intent in command_ids else topics).append(" ".join(words_of(line.text)))
    said_as_commands = set(commands)
    for _, meant in kb.language.mishearings:
        # A mishearing of a command's phrasing ("to louder" -> "too loud") is command words: Moonshine is nudged
        # towards the topics' words only (`bias_words`), and "loud" nudged there wrote "fully loud pressed" for
        # "before the leg press" in 10 dB gym noise (benchmarks/bench_ear.py, answer path).
        meant_words = " ".join(words_of(meant))
        (commands if meant_words in said_as_commands else topics).append(meant_words)
    commands.extend(c.value.replace("_", " ") for c in Command)
    elsewhere = {w for part in kb.language.elsewhere for w in words_of(part)}
    words = {w for text in (*topics, *commands) for w in text.split()}
    words |= {w for slot in SLOTS for w in slot if _slot_used(slot, words)}
    words |= elsewhere
    phrases = tuple(_unique(p for p in topics if p))
    command_phrases = tuple(_unique(c for c in commands if c))
    return Domain(
        phrases=phrases,
        commands=command_phrases,
        words=frozenset(words),
        garbage=frozenset((GARBAGE | _SENTENCE_WORDS) - words | elsewhere),
        elsewhere=tuple(_unique(_elsewhere_phrasings(topics, sorted(elsewhere)))),
        sentences=tuple(generated_phrasings((*phrases, *command_phrases))),
        chatter=GARBAGE_SENTENCES,
    )


def _elsewhere_phrasings(topics: Iterable[str], parts: list[str], per_part: int = 12) -> Iterator[str]:
    knee_phrases = [p for p in topics if {"knee", "knees"} & set(p.split())][: per_part * 3]
    for n, part in enumerate(parts):
        plural = part if part.endswith("s") else f"{part}s"
        for phrase in knee_phrases[n % 3 :: 3][:per_part]:
            yield " ".join(plural if w == "knees" else part if w == "knee" else w for w in phrase.split())


def _slot_used(slot: frozenset[str], words: set[str]) -> bool:
    """Slot alternatives join the domain only when the knowledge base uses at least one of them."""
    return bool(slot & words)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def variants(phrase: str) -> Iterator[str]:
    """The phrase, each slot word swapped for its alternatives, and each optional word dropped."""
    tokens = phrase.split()
    yield phrase
    for i, token in enumerate(tokens):
        for slot in SLOTS:
            if token in slot:
                for other in sorted(slot - {token}):
                    yield " ".join([*tokens[:i], other, *tokens[i + 1 :]])
        if token in OPTIONAL and len(tokens) > 2:
            yield " ".join(tokens[:i] + tokens[i + 1 :])


def generated_phrasings(phrases: Iterable[str], *, limit: int = 20_000) -> list[str]:
    """Phrasings plus variants and prefixes, deduplicated, at most `limit` of them."""
    out: dict[str, None] = {}
    for phrase in phrases:
        for variant in variants(phrase):
            for prefix in PREFIXES:
                out.setdefault(f"{prefix} {variant}".strip(), None)
                if len(out) >= limit:
                    return list(out)
    return list(out)
