"""What the engines decode with, assembled from a `Domain` alone: an n-gram corpus and Vosk grammars.

The recognisers know no knee words: everything here comes from the domain that `voicecoach.text.domain`
generates from the knowledge base.
"""

from __future__ import annotations

from voicecoach.text.domain import Domain


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def lm_corpus(domain: Domain, *, garbage_repeat: int = 2, commands_only: bool = False) -> str:
    """Sentences for an n-gram model: generated domain phrasings, garbage sentences and every word alone.

    Single words give every vocabulary word a unigram so anything in the dictionary can be decoded;
    the garbage sentences (repeated to weigh them against thousands of domain variants) give off-topic
    speech somewhere to go. Twice, measured with benchmarks/bench_speech.py: three times cost in-domain
    accuracy, once let more chatter through as knee words.
    """
    if commands_only:  # the warm-up search: commands, chatter, and no knee words at all
        lines = [*domain.commands, *domain.chatter, *sorted(domain.garbage)]
        return "\n".join(lines) + "\n"
    lines = list(domain.sentences)
    lines += list(domain.chatter) * garbage_repeat
    lines += list(domain.elsewhere)
    lines += sorted(domain.all_words)
    return "\n".join(lines) + "\n"


BARGE_IN_WORDS = ("stop", "pause", "resume", "skip", "repeat", "slower", "faster", "louder", "quieter")
"""What the barge-in search ("interrupt") can hear while the coach speaks: the commands that may cut in, by their
own names. No "quiet", "go", "wait": their partial results were prefixes of other commands ("quieter" -> "quiet" =
stop). No "next", "again", "enough": everyday words that gym chatter says too; in the echo room with gym noise
they stopped or skipped the warm-up with nobody asking ("sounds enough", "the next step is ...")."""
BARGE_IN_FILLERS = ("the", "a", "to", "it", "and", "so", "okay", "yeah", "uh", "oh", "hey", "coach", "next", "again")
"""A few short everyday words: somewhere for a cough or a half-cancelled echo to go that is not a command."""


def barge_in_corpus() -> str:
    """The interrupt search: each command word alone (twice: a command is the likely thing said over the
    coach), after the wake word, and the fillers alone."""
    lines = [*BARGE_IN_WORDS, *BARGE_IN_WORDS, *(f"coach {w}" for w in BARGE_IN_WORDS), *BARGE_IN_FILLERS]
    return "\n".join(lines) + "\n"


def vosk_grammar(domain: Domain, *, known: frozenset[str] | None = None, unk: bool = True) -> list[str]:
    """Vosk's grammar: phrases (Vosk turns them into a small bigram model) and single words.

    Only words in `known` (the model's vocabulary, when given) are kept: Vosk would drop the others
    silently and a phrase with a missing word would become a different phrase.
    """

    def ok(text: str) -> bool:
        return known is None or all(w in known for w in text.split())

    phrases = [p for p in (*domain.phrases, *domain.commands, *domain.chatter) if ok(p)]
    singles = [w for w in sorted(domain.all_words) if ok(w)]
    grammar = _unique([*phrases, *singles])
    return [*grammar, "[unk]"] if unk and grammar else grammar


def command_grammar(domain: Domain, *, known: frozenset[str] | None = None, unk: bool = True) -> list[str]:
    phrases = [c for c in domain.commands if known is None or all(w in known for w in c.split())]
    return [*phrases, "[unk]"] if unk and phrases else phrases
