"""Turn what a recogniser or a keyboard produced into comparable word stems.

Recognisers emit lower-case words with `[unk]`/`<unk>` for noise; people type capitals, digits and
punctuation. Both become the same tokens here, so one matcher serves text and speech.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from voicecoach.text.spoken import number_word

MAX_CHARS = 400
"""Longer input is cut: nobody says more than this to a coach in one breath, and it bounds matcher time."""

_UNKNOWN = re.compile(r"\[\w+\]|<\w+>|</s>|\+\+\w+\+\+", re.IGNORECASE)
_APOSTROPHE = re.compile(r"[’'`´]")
_CANT = re.compile(r"\b(can|won|ain)'?t\b")
_IRREGULAR_NOT = {"can": "can not", "won": "will not", "ain": "is not"}
_NON_WORD = re.compile(r"[^a-z0-9]+")
_DICTIONARY_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_KEEP = frozenset(
    "this is was has does yes its his us bus plus less press process across chess dress "
    "always series thus perhaps bias sissy cannot".split()
)
"""Words whose trailing s or y is not a plural/suffix (press, sissy)."""
_E_KEPT = frozenset({"quite", "note"})
"""Words whose final e is no silent suffix to drop: without it they are another word a lifter says to the coach
("quite" read as "quit" stopped the coach on "that was quite loud" and, in Moonshine's "quite a please" for
"quieter please", three voices of four; "note" would read "not")."""


def clean(text: str) -> str:
    """Lower-case ASCII words separated by single spaces; digits become words."""
    text = unicodedata.normalize("NFKD", text[: MAX_CHARS * 2])
    text = _UNKNOWN.sub(" ", text.lower())
    text = _APOSTROPHE.sub("'", text)
    # "isn't" and "is not" must meet: negation decides yes from no and stop from "don't stop"
    text = _CANT.sub(lambda m: _IRREGULAR_NOT[m.group(1)], text).replace("n't", " not").replace("'", "")
    text = _NON_WORD.sub(" ", text.encode("ascii", "ignore").decode()).strip()
    words = [number_word(int(w)) if w.isdigit() and int(w) <= 20 else w for w in text.split()]
    return " ".join(words)[:MAX_CHARS]


def words_of(text: str) -> list[str]:
    """Lower-case words as a pronouncing dictionary spells them: apostrophes kept inside ("what's"), digits and
    punctuation dropped. For recogniser vocabularies; `clean` is the matcher's (stricter) view of the same text."""
    return _DICTIONARY_WORD.findall(_APOSTROPHE.sub("'", text.lower()))


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A light stemmer: plurals, -ing and -ed, so "squatting", "squats" and "squat" meet."""
    if word in _KEEP or word in _E_KEPT or len(word) <= 3:
        return word
    base = _strip_suffix(word)
    # "caving" -> "cav" must meet "cave": drop a final silent e (but keep "knee", "free")
    return base[:-1] if base.endswith("e") and not base.endswith("ee") and len(base) > 3 else base


def _strip_suffix(word: str) -> str:
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if len(base) >= 3 and base[-1] == base[-2] and base[-1] not in "ls":
                base = base[:-1]  # squatting -> squatt -> squat; but "swelling" keeps "swell"
            return base
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class Normalizer:
    """Cleans, undoes known mishearings and stems. Built once from the knowledge base's language."""

    def __init__(self, mishearings: Iterable[tuple[str, str]] = ()) -> None:
        pairs = sorted(((clean(h), clean(m)) for h, m in mishearings), key=lambda p: -len(p[0]))
        self._mishearings = [(re.compile(rf"\b{re.escape(h)}\b"), m) for h, m in pairs if h]

    def words(self, text: str) -> str:
        """Cleaned text with mishearings replaced (still whole words, not stems)."""
        cleaned = clean(text)
        for pattern, meant in self._mishearings:
            cleaned = pattern.sub(meant, cleaned)
        return cleaned

    def tokens(self, text: str) -> tuple[str, ...]:
        return tuple(stem(w) for w in self.words(text).split())


def contains_phrase(tokens: Sequence[str], phrase: Sequence[str]) -> bool:
    """True if `phrase` occurs in `tokens` as consecutive tokens."""
    n = len(phrase)
    return n > 0 and any(tuple(tokens[i : i + n]) == tuple(phrase) for i in range(len(tokens) - n + 1))
