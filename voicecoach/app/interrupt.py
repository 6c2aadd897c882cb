"""What may cut in while the coach speaks: the interrupting commands, their clipped spellings, the coach's own words.

The listening loop (`voicecoach.app.listener`) and the barge-in benchmark share these rules: a word the coach is
saying itself is never a command, and a partial result's command is taken only once it has held.
"""

from __future__ import annotations

from rapidfuzz import fuzz, process

from voicecoach.commands import Command
from voicecoach.recognizer.language_model import BARGE_IN_WORDS
from voicecoach.text.spoken import SPEAKING_RATE
from voicecoach.voice.base import words_around

BARGE_IN = {"stop": Command.STOP, "quiet": Command.STOP, "enough": Command.STOP, "pause": Command.PAUSE}
"""Words that may interrupt the coach mid-sentence without echo cancellation (heard in partial results)."""
INTERRUPT = {word: Command(word) for word in BARGE_IN_WORDS}
"""With echo cancellation: the words the recogniser's interrupt search listens for while the coach speaks."""
OVER_ANSWERS = (Command.STOP, Command.SLOWER, Command.FASTER, Command.LOUDER, Command.QUIETER)
"""Interrupting commands that mean something over an answer (the rest only steer the warm-up)."""
CLOSE_SPELLING = 80
"""rapidfuzz ratio (0-100) from which a word is a spelling of an interrupting command ("slover" -> slower)."""
STABLE_CHUNKS = 3
"""A command in a partial result is taken once it has been its last word for this many chunks (90 ms):
earlier partials were often a prefix of another word (measured in benchmarks/bench_bargein.py)."""
ALIKE_ONSET = frozenset(w for w in BARGE_IN_WORDS if any(o != w and o[:2] == w[:2] for o in BARGE_IN_WORDS))
"""Commands that begin like another ("repeat", "resume"): one in a partial result is taken only once a second
decode of more of the word reads it too (`ALIKE_STABLE_CHUNKS`). The chunks of `STABLE_CHUNKS` mostly see one
decode, and espeak-ng's "resume" cut after its first syllable read "repeat repeat repeat", then "resume your
resume" (echo room: "repeat" acted, 0 of 2 in each of two runs)."""
ALIKE_STABLE_CHUNKS = 10
"""300 ms: a partial result is decoded every 0.2 s of speech (`PARTIAL_STEP_SECONDS` of the Moonshine engine), so
a command word that stood this long stood in two decodes."""


def chunks_to_hold(words: list[str]) -> int:
    """How long a partial result's command (`first_interrupting(words)`) must hold before it is taken. A result
    that is only the command, said again or clipped ("stop stop", "skip skip sk"), is the lifter's word: STABLE_CHUNKS.
    Among other words, or a command that begins like another (ALIKE_ONSET), it must stand in a second decode
    (ALIKE_STABLE_CHUNKS): over gym babble Moonshine read the first half second of a word as a sentence holding
    some command ("it's a little bit faster" for "stop", "slow stalls l", "the louder the l", "pause the pause" for
    "resume"), and the wrong command was taken before the word was over (echo room, 20 dB under the lifter; a second
    decode of more of the word no longer read it)."""
    candidate = first_interrupting(words)
    command = interrupt_command(candidate)
    if command is None:
        return STABLE_CHUNKS
    alone = all(w == candidate or candidate.startswith(w) or interrupt_command(w) is command for w in words)
    return STABLE_CHUNKS if alone and command.value not in ALIKE_ONSET else ALIKE_STABLE_CHUNKS


class HeldCommand:
    """The command of the interrupt search's partial results, taken once it has held (`chunks_to_hold`)."""

    def __init__(self) -> None:
        self.candidate, self.seen = "", 0

    def update(self, words: list[str]) -> str:
        """One chunk's partial result: its command word once it has held, else ""."""
        candidate = first_interrupting(words)
        self.seen = self.seen + 1 if candidate == self.candidate else 1
        self.candidate = candidate
        # chunks_to_hold is never under STABLE_CHUNKS: most chunks need not ask it (it reads the words again).
        return candidate if candidate and self.seen >= STABLE_CHUNKS and self.seen >= chunks_to_hold(words) else ""

    def reset(self) -> None:
        self.candidate, self.seen = "", 0


SAME_WORD_SECONDS = 1.5
"""The command just acted on, heard again within this long, is the same word: once a partial result's command is
taken the search starts a fresh utterance, and the word's tail decodes as the command again (espeak-ng's "pause",
0.3-0.5 s later: 2 of 12 pauses in each of two echo-room runs were acted on twice, and the second resumed the count).
A lifter who means it twice waits for the coach to react first."""


class SameWord:
    """Tells a command heard again from the tail of the word already acted on (`SAME_WORD_SECONDS`)."""

    def __init__(self) -> None:
        self._last: Command | None = None
        self._at = 0.0

    def again(self, command: Command, now: float) -> bool:
        """`command`, heard at `now`, is the word acted on last."""
        return command is self._last and now - self._at < SAME_WORD_SECONDS

    def acted(self, command: Command, now: float) -> None:
        self._last, self._at = command, now


def interrupt_command(word: str) -> Command | None:
    """The command a word from the interrupt search means: one of INTERRUPT, or a clipped or slurred spelling of
    exactly one of them. Moonshine's partial results cut words short ("rep", "ski", "repet") or misspell them
    ("slover"): 8 of 13 commands missed over the warm-up's counts were such (benchmarks/bench_bargein.py)."""
    command = INTERRUPT.get(word)
    if command is not None or len(word) < 3:
        return command
    starts = {c for w, c in INTERRUPT.items() if w.startswith(word)}
    if len(starts) == 1:
        return starts.pop()
    close = process.extractOne(word, INTERRUPT.keys(), scorer=fuzz.ratio, score_cutoff=CLOSE_SPELLING)
    return INTERRUPT[close[0]] if close is not None else None


def first_interrupting(words: list[str]) -> str:
    """The first word of a partial result that means an interrupting command ("" if none). The first, not the
    last: a neural decoder repeats itself ("stop again stop again") after the word the lifter said."""
    return next((w for w in words if interrupt_command(w) is not None), "")


def last_words(said: str) -> str:
    """The end of what the coach last said: all its echo can still hold once the voice has gone silent."""
    seconds = len(said.split()) * 60 / SPEAKING_RATE
    return words_around(said, seconds, seconds)


def is_coach_word(word: str, spoken: set[str]) -> bool:
    """`word` is one the coach is saying, the start of one (its "stopped" decodes as "stop"), or, unless it is a
    command's own name, means the command one of them means: its "Stop training that leg" decoded as "top of the
    leg", and "top" is a spelling of "stop" (echo room, Moonshine, a false interruption)."""
    if word in spoken or any(s.startswith(word) for s in spoken if len(word) >= 3):
        return True
    if word in INTERRUPT:  # the command's own name: the lifter's "slower" while the coach says "slow and controlled"
        return False
    command = interrupt_command(word)
    return command is not None and any(interrupt_command(s) is command for s in spoken)


def coach_words(said: str) -> set[str]:
    """The words of what the coach is saying: the barge-in rules never take one of them as a command."""
    return set(said.lower().replace(",", " ").replace(".", " ").split())
