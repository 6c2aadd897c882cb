"""Which of the recogniser's readings of one utterance to answer, and what the close ones are about.

A beam or a restored knee gives several readings of the same speech, each with how far behind the best the
engine scored it (nats). The dialogue answers one (`ReadingChoice.best`) and checks a knee answer against the
others (`ReadingChoice.heard_as`); the listening loop asks the same questions of its first and second hearings.
"""

from __future__ import annotations

from collections.abc import Sequence

from voicecoach.commands import Command
from voicecoach.text.knowledge import KnowledgeBase
from voicecoach.text.matcher import Matcher
from voicecoach.text.own_words import ACTING
from voicecoach.text.reply import State, respond
from voicecoach.text.words import KNEE_WORDS

READING_WEIGHT = 3.0
"""How many nats of the recogniser's score a reading may lag its best one and still be answered, per unit of the
matcher's confidence in the knee answer it gets (`ReadingChoice.best`). Chosen with benchmarks/bench_ear.py."""
REQUEST_SHARE = 0.5
"""A command or follow-up said in its own words counts at this share of a knee answer's worth when choosing among
readings (`ReadingChoice.best`): the beam often holds the lifter's words a nat or two behind a look-alike ("boss
please" / "pause please" 0.8, "can't sell it" / "cancel it" 0.6). Held-out set, 4 voices, replayed on one answer
run's readings (benchmarks/rescore_readings.py), commands right / wrong, knee questions right / wrong advice:
0: quiet 78.2 / 5.2%, 90.8 / 0.5%; 20 dB 74.2 / 4.8%, 88.9 / 1.1%; 10 dB 48.0 / 7.7%, 52.9 / 5.3%.
0.5: quiet 82.7 / 3.6%, 90.8 / 0.5%; 20 dB 80.2 / 4.0%, 88.9 / 1.1%; 10 dB 51.2 / 8.9%, 52.9 / 5.3%.
1.0 answered more commands (quiet 85.5%) but turned 0.8 points of quiet knee answers into questions back; and
counted without the own-words rule the beam's out-of-domain readings became commands ("turn on the lights" ->
louder, "what's the weather like today" -> goodbye). Out-of-domain questions taken for a command: unchanged
at 0.5 quiet and at 20 dB (6.2%, 5.9%), 3.8 -> 4.2% at 10 dB."""
RIVAL_WITHIN = 1.0
"""A knee answer becomes "Did you mean A? Or B?" when another reading of the same speech, at most this many nats
from the one answered, gets another knee topic outright: the beam heard "leg crest machine" (leg extensions) with
"leg press machine" (squats) 0.4 nats behind. Held-out questions, 4 voices, answer path, right / confirmed / wrong
advice (benchmarks/bench_ear.py, replayed on one run's readings): quiet 91.3 / 1.1 / 1.1% -> 90.5 / 1.8 / 0.8%,
20 dB 85.5 / 1.8 / 3.2% -> 85.0 / 2.4 / 1.6%, 10 dB 61.3 / 1.1 / 7.4% -> 59.2 / 3.2 / 6.6%; 0.5 nats left 2.9% wrong
at 20 dB, 2 nats cost another point of right answers for no less wrong advice. A close reading that names another
body part and gets no knee answer ("my calves are sore after the treadmill", 0.9 nats behind "i can't sore after
the treadmill") turns the answer into "Did you mean A?": spoken out-of-domain questions given knee advice, quiet,
3 -> 2 of 288, for one quiet knee question more confirmed than answered."""
RIVAL_WITHIN_UNCLEAR = 2.0
"""`RIVAL_WITHIN` for words heard barely over the room (`Transcript.clear` False): there the beam's close readings
disagree more, and a rival further off still says the answer is a guess. Held-out questions in 10 dB gym noise, 4
voices, answer path, replayed on one run's readings (benchmarks/rescore_readings.py), right / right topic confirmed /
wrong advice: 1 nat 53.7 / 7.6 / 5.5%, 2 nats 52.4 / 8.9 / 4.5%, 3 nats 51.3 / 10.0 / 3.9%; spoken out-of-domain
questions given advice 2.1 -> 1.7%. Every answer lost became a question back about the right topic. 2, not 3: at 3
Piper's voice (the closest to a person) lost 4.2 points of answers for no less wrong advice; at 2, 1.0. Clear
audio (quiet, 20 dB) is unchanged."""
ANOTHER_PART = "another body part"
"""What `ReadingChoice.heard_as` says of a close reading about another body part (no topic id)."""


class ReadingChoice:
    """Questions about readings, asked of one knowledge base and matcher; holds no conversation."""

    def __init__(self, kb: KnowledgeBase, matcher: Matcher) -> None:
        self.kb = kb
        self.matcher = matcher

    def best(
        self,
        heard: str,
        others: Sequence[tuple[str, float]],
        *,
        restored: Sequence[tuple[str, float]] = (),
        weight: float = READING_WEIGHT,
    ) -> str:
        """Of the recogniser's readings of one utterance (`heard` its best; `others` and `restored` the rest, each
        with how far behind the best the engine scored it), the one to answer: the best by the engine's score plus
        `weight` times what the knowledge base makes of the reading (`_plainness`). The beam's best reading
        loses a knee word to an everyday one ("why does my knee hurt on the left breast") where a close second
        keeps it ("... on the leg press"), and a command's word to a look-alike ("fold on a millet", "hold on a
        minute" 2 nats behind). A command or follow-up in the best reading stands against the beam's knee
        readings (in 10 dB noise "take me through the warmup" had "take knee through the warmup" 0.4 nats behind),
        not against a reading with the knee `restored` on clear audio ("me warm up routine": "knee warm up
        routine", benchmarks/bench_ear.py), nor against a reading that says a request more plainly ("can't sell
        it" -> no, "cancel it" 0.6 nats behind). A best reading that names another body part stands against all:
        in 10 dB gym noise "my shoulder hurts when i bend" had "knee shoulder hurts when i bend" 2 nats behind."""
        if not others and not restored:
            return heard  # no matcher call for an utterance with one reading (as before restored readings)
        if self._another_part(heard):
            return heard  # what hurts is named: a knee the beam or the engine put in its place is no evidence
        if self.asks_for_something(heard):
            readings = [*restored, *(r for r in others if self.asks_for_something(r[0]))]
        else:
            readings = [*others, *restored]
        if not readings:
            return heard
        scored = [(weight * self._plainness(heard, first=True), heard)]
        scored += [(weight * self._plainness(text) - behind, text) for text, behind in readings]
        return max(scored, key=lambda s: s[0])[1]  # the first of equals: the best reading wins a tie

    def heard_as(self, heard: str, readings: Sequence[tuple[str, float]], *, clear: bool = True) -> list[str]:
        """What the readings within `RIVAL_WITHIN` (`RIVAL_WITHIN_UNCLEAR` unless `clear`) of `heard` (each with how
        far behind it is) are about, closest first: the knee topic each gets outright, or `ANOTHER_PART` when it
        names another body part instead."""
        within = RIVAL_WITHIN if clear else RIVAL_WITHIN_UNCLEAR
        close = sorted((abs(nats), text) for text, nats in readings if abs(nats) <= within and text != heard)
        about = [self._outright(text)[0] or self._another_part(text) for _, text in close]
        about += self._knee_before_a_start(heard, readings)
        return list(dict.fromkeys(topic for topic in about if topic is not None))

    def _knee_before_a_start(self, heard: str, readings: Sequence[tuple[str, float]]) -> list[str | None]:
        """When `heard` starts the warm-up: the knee topics of readings, at any distance the recogniser kept (the
        beam's 4 nats, the knee restored within 8, 12 behind the wake word), that open with the knee where `heard`
        names none. Ten minutes of counting is no answer to a knee question, and the knee is the word Moonshine
        loses first ("knee warm up routine" heard "lead warmup routine", "the warmup routine", "be warm up
        routine", the restored knee 2.1-5.2 nats behind), while a start in the lifter's own words keeps its knee,
        if any, further in ("take me through a warm up" restored "take knee through a warm up", 3.4-6.8 nats
        behind). Read off the listen path of benchmarks/bench_ear.py (held-out set, four voices)."""
        if not readings or self.matcher.names_the_knee(heard):  # the cheap checks before a match
            return []
        if self.matcher.match(heard).intent != Command.START_WARMUP:
            return []
        ordered = sorted(readings, key=lambda reading: abs(reading[1]))
        return [self._outright(text)[0] for text, _ in ordered if self._opens_with_knee(text)]

    def _opens_with_knee(self, text: str) -> bool:
        tokens = self.matcher.normalizer.tokens(text)
        return bool(tokens) and tokens[0] in KNEE_WORDS

    def answers_outright(self, heard: str, *, sure: str | None = None) -> bool:
        """Would `heard`, asked out of the blue, get a knee topic's advice as it stands (no question back)?
        The listening loop answers such a question without the wake word, so the knee must be named (as for
        speech, `confirm_unnamed`) whatever this dialogue's own rule."""
        reply, _ = respond(self.kb, self.matcher, State(), heard, confirm_unnamed=True, sure=sure)
        return reply.intent in self.matcher.topic_ids

    def asks_for_something(self, heard: str) -> bool:
        """`heard` is a command or a follow-up (not a knee question, not nothing)."""
        intent = self.matcher.match(heard).intent
        return intent is not None and intent not in self.matcher.topic_ids

    def _plainness(self, heard: str, *, first: bool = False) -> float:
        """What a reading is worth as an answer: the matcher's confidence in the knee topic it gets outright, or
        `REQUEST_SHARE` of its confidence in a request said plainly (`_asks_plainly`); else 0."""
        topic, confidence = self._outright(heard)
        if topic is not None:
            return confidence
        match = self.matcher.match(heard)
        return REQUEST_SHARE * match.confidence if self._asks_plainly(heard, match.intent, first=first) else 0.0

    def _asks_plainly(self, heard: str, intent: str | None, *, first: bool) -> bool:
        """`heard`, which the matcher takes for `intent`, is a command or follow-up said in that request's own words
        (`Matcher.said_as_command`). Never the warm-up's start unless `heard` is the `first` reading: ten minutes of
        counting on the beam's second guess ("knee warm up routine" read "we need more in my protein", "we need
        warming up routine" behind it); nor, but first, a command that names the knee, a follow-up's word ("how do
        i fix my knees") and not a command's: "i want to just resume my knees" (20 dB noise, 0.75 nats behind the
        first reading) is a knee question misheard."""
        if intent is None or intent in self.matcher.topic_ids:
            return False
        if not first and (intent == Command.START_WARMUP or (intent in ACTING and self.matcher.names_the_knee(heard))):
            return False
        return self.matcher.said_as_command(self.matcher.normalizer.tokens(heard), intent)

    def _outright(self, heard: str) -> tuple[str | None, float]:
        """The knee topic `heard` gets asked out of the blue with the knee named (`confirm_unnamed`), and the
        matcher's confidence in it; (None, 0.0) for anything else."""
        reply, _ = respond(self.kb, self.matcher, State(), heard, confirm_unnamed=True)
        return (reply.intent, reply.confidence) if reply.intent in self.matcher.topic_ids else (None, 0.0)

    def _another_part(self, heard: str) -> str | None:
        match = self.matcher.match(heard)
        return ANOTHER_PART if match.intent is None and match.elsewhere else None
