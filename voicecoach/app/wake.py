"""The wake word: where it stands in what the recogniser heard, and which reading of a woken utterance to answer.

Lifters say it first ("coach, ...", "hey coach, ..."); the recogniser may mishear it ("coke") or the question after
it. Once woken, the coach weighs the engine's other readings, a second hearing and the knee put back (`WakeWord.best`)
and names the close readings the dialogue checks a knee answer against (`WakeWord.rivals`).
"""

from __future__ import annotations

from collections.abc import Sequence

from voicecoach.recognizer.base import Reading, Transcript
from voicecoach.recognizer.knee_readings import AFTER_WAKE
from voicecoach.text.readings import ReadingChoice
from voicecoach.text.words import WAKE_ALIKES

WAKE_WITHIN_WORDS = 3
"""The wake word counts among the first this many words ("hey coach ...", and "do you coach ..." when the
recogniser mishears "hey"): in the first three, 2.5 points fewer questions lost, no more false wakes (measured)."""


class WakeWord:
    """The rules for one wake word, asked of one knowledge base's readings (`ReadingChoice`); holds no state."""

    def __init__(self, word: str, readings: ReadingChoice, *, clear_questions: bool = True) -> None:
        self.word = word
        self.readings = readings
        self.clear_questions = clear_questions

    def best(self, text: str, transcript: Transcript) -> str | None:
        """What to answer instead of `text` (what follows the wake word in `transcript`), or None to answer it: a
        knee answer among the beam's readings, then a second decode's, then a command or follow-up the beam holds,
        then the knee restored, the weakest evidence last ("my leaves the toughest watch" restored to "my knees the
        toughest watch" had hidden a second hearing's "my knees hurts after squats", benchmarks/bench_ear.py
        --paths listen)."""
        other = self._other_reading(text, transcript.alternatives)
        if other is not None and self.readings.answers_outright(other):
            return other
        # A command or follow-up the beam holds waits for a second hearing that answers a knee question outright:
        # Piper's "my knee gave out on me" was read "i need to get about on me", with "i need to go about on me"
        # (more) 0.5 nats behind and "knee gave out on me" heard again after the wake word's pause.
        return self._second_hearing(transcript, text) or other or self._restored_after_wake(text, transcript)

    def is_alike(self, word: str) -> bool:
        """`word` is a look-alike of the wake word (`WAKE_ALIKES`), not the word itself."""
        return word != self.word and word in WAKE_ALIKES.get(self.word, frozenset())

    def _other_reading(self, heard: str, readings: Sequence[Reading], *, restored: bool = False) -> str | None:
        """Another of the engine's readings of a woken utterance (`Transcript.alternatives`, or with `restored`
        `Transcript.restored`; wake word dropped), when the dialogue takes it over the first (`ReadingChoice.best`).
        Only once woken: from babble without the wake word, a runner-up reading is no question the lifter asked."""
        woken = [(text, other.behind) for other in readings if (text := self.after(other.text))]
        reading = self.readings.best(heard, [] if restored else woken, restored=woken if restored else [])
        return reading if reading != heard else None

    def _restored_after_wake(self, heard: str, transcript: Transcript) -> str | None:
        """The first hearing with the knee put back (`Transcript.restored`), a reading `AFTER_WAKE` nats closer where
        the knee took the place of one word that may hide it: the lifter called the coach, so a knee question is
        likelier than the model's scores say (behind "hey coach" it puts the knee 8-12 nats under its own word). Not
        closer against a command or follow-up heard first: that turned "take me through that warmup" into warm-up
        advice (benchmarks/bench_ear.py --paths listen)."""
        readings = transcript.restored
        if not self.readings.asks_for_something(heard):
            readings = tuple(self._closer(heard, r) for r in readings)
        return self._other_reading(heard, readings, restored=True)

    def _closer(self, heard: str, restored: Reading) -> Reading:
        """`restored` `AFTER_WAKE` nats closer when the knee stands for one word of `heard` that may hide it
        (`Matcher.may_hide_the_knee`): not for two ("next snap to please" -> "next snap knees" got red-flag advice),
        nor for a word a knee topic uses ("our sissy squat stave" -> "our knees squat stave": the squat answer to
        "are sissy squats safe"), nor for another body part ("my sins are tough" -> "my knees are tough")."""
        replaced = _replaced(self.after(heard).split(), self.after(restored.text).split())
        if len(replaced) != 1 or not self.readings.matcher.may_hide_the_knee(replaced[0]):
            return restored
        return Reading(restored.text, max(0.0, restored.behind - AFTER_WAKE))

    def rivals(self, text: str, transcript: Transcript) -> list[tuple[str, float]]:
        """The first hearing's readings (wake word dropped), each with how far behind `text` it is, for the dialogue
        to check a knee answer against (`readings.RIVAL_WITHIN`); none when `text` came from a second hearing."""
        behind: dict[str, float] = {}
        for reading in [Reading(transcript.text, 0.0), *transcript.alternatives, *transcript.restored]:
            if after := self.after(reading.text):
                behind.setdefault(after, reading.behind)
        if text not in behind:
            return []
        return [(other, nats - behind[text]) for other, nats in behind.items() if other != text]

    def after(self, text: str) -> str:
        words = text.split()
        at = self.position(words)
        return " ".join(words if at is None else words[at + 1 :])

    def position(self, words: list[str]) -> int | None:
        """Where the wake word stands among the first words, or else a look-alike of it (`WAKE_ALIKES`)."""
        first = words[:WAKE_WITHIN_WORDS]
        if self.word in first:
            return first.index(self.word)
        alikes = WAKE_ALIKES.get(self.word, frozenset())
        return next((i for i, word in enumerate(first) if word in alikes), None)

    def _second_hearing(self, transcript: Transcript, heard: str) -> str | None:
        """What follows the wake word in the engine's second hearing (`Transcript.rehear`), when the first gives
        no knee answer outright and the second does, or (unless the first was a command or follow-up) the second
        with the knee restored does. Only a knee question answered outright (the knee named): also
        taking a command or follow-up the first hearing lacked turned "speed it up" into "snead it up" -> louder
        (quiet held-out set, benchmarks/bench_ear.py). Asked only then: a clear first hearing costs no second decode."""
        if transcript.rehear is None or self.readings.answers_outright(heard):
            return None
        again = transcript.rehear()
        after = self.after(again.text)  # what follows the first pause, or "coach, <question>"
        if after and after != heard and self.readings.answers_outright(after):
            return after
        if self.readings.asks_for_something(heard):
            # A command heard first stands: "continue the warm up" restored as "knee the warmup" got warm-up
            # advice for three voices of four at 20 dB (listen path, benchmarks/bench_ear.py).
            return None
        # The weakest evidence last: the second hearing with the knee restored.
        reading = self._other_reading(after or heard, again.restored, restored=True)
        return reading if reading is not None and self.readings.answers_outright(reading) else None

    def late(self, transcript: Transcript) -> bool:
        """The wake word further in, followed by a clear knee question: in gym noise the babble before the
        question decodes as words ("i it that a coach knee hurts at the bottom of my squats"), and the wake
        word among the first three lost 46% of questions at 20 dB (benchmarks/bench_ear.py)."""
        words = transcript.text.split()
        if not self.clear_questions or self.word not in words:
            return False
        skip = words.index(self.word) + 1
        after = " ".join(words[skip:])
        return bool(after) and self.readings.answers_outright(after, sure=transcript.sure_text(skip=skip))

    def confidence(self, transcript: Transcript) -> float:
        found = [w.confidence for w in transcript.words if w.text == self.word]
        return found[0] if found and found[0] is not None else 1.0


def _replaced(before: list[str], after: list[str]) -> list[str]:
    """The words of `before` that `after` replaced: what lies between the words both begin and end with."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    return before[start : len(before) - end]
