"""How text sounds when the coach says it: the speaking rate, numbers as words, and how long a phrase takes.

One place for each, shared by the voice (its default rate), the warm-up (counts and slot sizes) and the
knowledge-base check (a first answer must fit in a breath between sets).
"""

from __future__ import annotations

import re

SPEAKING_RATE = 165
"""Words per minute the coach speaks at by default: clear over gym music, short enough between reps."""

# fmt: off
_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
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


def speech_seconds(text: str, rate: int = SPEAKING_RATE) -> float:
    """Roughly how long espeak-ng takes to say `text` (fitted on its voiced length at 165 and 250 wpm)."""
    letters = len(re.sub(r"[^A-Za-z0-9 ]", "", text))
    return (0.15 + 0.062 * letters) * SPEAKING_RATE / rate


def word_seconds(words: int, rate: int = SPEAKING_RATE) -> float:
    """How long `words` words take at `rate` words per minute."""
    return words * 60 / rate
