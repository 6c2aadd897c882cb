"""One turn of conversation: a Match and the context so far -> what the coach says next.

The transition is a pure function of (state, match), so every conversational path is testable without
audio. Replies are short on purpose: cause and fix first (under ~15 s spoken), details on "more".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from voicecoach.commands import Command
from voicecoach.text.knowledge import KnowledgeBase, Topic
from voicecoach.text.matcher import KNEE_WORDS, Match, Matcher

NOT_UNDERSTOOD = "Sorry, I didn't catch that. Tell me where your knee hurts, for example: my knees hurt after squats."
NOTHING_HEARD = "I didn't hear anything. Tell me where your knee hurts."
NO_TOPIC_YET = "Tell me what hurts first, for example: my knees hurt after squats."
ELSEWHERE = "I only coach knee pain. For your {part}, ask a coach or a physio."
LISTENING = "Yes?"
"""The answer to the wake word alone."""
NOTHING_TO_REPEAT = "I haven't said anything yet. Tell me where your knee hurts."
ACKNOWLEDGED = "Okay."
NO_MORE = "That's all I have on that. Ask me about another knee problem, or say start the warm-up."
FOLLOW_UPS = frozenset({"why", "fix", "cue", "more"})
READING_WEIGHT = 3.0
"""How many nats of the recogniser's score a reading may lag its best one and still be answered, per unit of the
matcher's confidence in the knee answer it gets (`Dialogue.reading`). Chosen with benchmarks/bench_ear.py."""
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
LOOP_WORDS = 3
"""In a reading heard barely over the room (`respond`'s `clear`), a word this many times, or a pair of words twice,
is the decoder looping, not a lifter: "front squats give me knee pain" came out "run squat skip knee knee knee".
No held-out phrasing repeats itself so. Held-out questions in 10 dB gym noise (answer path, benchmarks/bench_ear.py),
right / confirmed / wrong advice: 58.4 / 3.4 / 6.6% -> 55.0 / 6.8 / 4.5%, spoken out-of-domain advice 3.1 -> 2.8%;
quiet and 20 dB unchanged (heard clear). On clear audio it would cost right answers for little (stop 26: 20 dB
right 85.3 -> 83.7%)."""
ANOTHER_PART = "another body part"
"""What `Dialogue.heard_as` says of a close reading about another body part (no topic id)."""


UNMATCHED = "unknown"
"""What JSON output says for a reply that matched nothing (`Reply.intent` is None)."""


@dataclass(frozen=True)
class Reply:
    """What the coach answers to one utterance."""

    heard: str
    """The utterance as received."""
    intent: str | None
    """Topic id, command id, follow-up id, "clarify" for a question back; None when nothing matched."""
    confidence: float
    say: str
    """What is spoken; empty when a command acts silently."""
    topic: str | None
    """The knee topic this reply is about (also for follow-ups and clarifications), else None."""

    @property
    def command(self) -> Command | None:
        return Command.from_intent(self.intent)

    def as_json(self, *, max_heard: int = 300) -> dict[str, object]:
        """The reply as one JSON object (`ask --json`, `answer --json`, `listen --json` build on it)."""
        return {
            "heard": self.heard[:max_heard],
            "intent": self.intent or UNMATCHED,
            "confidence": self.confidence,
            "say": self.say,
            "topic": self.topic,
        }


@dataclass(frozen=True)
class State:
    """Conversation context carried from turn to turn."""

    topic: str | None = None
    depth: int = 0
    """How far into the topic we are: 0 cause+fix said, 1 details said, 2+ cues."""
    cue: int = 0
    last_say: str = ""
    clarify: tuple[str, str] | None = None
    """The two topics we just asked the lifter to choose between."""


def respond(
    kb: KnowledgeBase,
    matcher: Matcher,
    state: State,
    heard: str,
    *,
    confirm_unnamed: bool = False,
    sure: str | None = None,
    heard_as: Sequence[str] = (),
    clear: bool = True,
) -> tuple[Reply, State]:
    """The pure dialogue transition.

    `heard_as`: what other close readings of the same speech are about (`Dialogue.heard_as`, closest first); a
    knee answer asks back when one is about another topic ("Did you mean A? Or B?") or another body part ("Did
    you mean A?"). `clear`: False when the recogniser heard the words barely over the room; a knee answer to a
    reading that repeats itself (`LOOP_WORDS`) is then asked back.

    `confirm_unnamed` (for recognised speech): knee advice needs the word "knee" and, when the recogniser
    says which words it is sure of (`sure`, those words in order), the same topic from those words alone.
    Otherwise the coach asks ("Did you mean knee pain from squats?"): a closed-vocabulary recogniser turns
    chatter into gym words, with low word confidences, far more often than into a confident "knee".
    """
    if not matcher.normalizer.tokens(heard):
        return Reply(heard, None, 0.0, NOTHING_HEARD, None), replace(state, clarify=None)
    if state.clarify is not None:
        answered = _answer_clarification(kb, matcher, state, heard)
        if answered is not None:
            return answered
    match = matcher.match(heard)
    intent = match.intent
    if intent is None:
        say = ELSEWHERE.format(part=match.elsewhere) if match.elsewhere else NOT_UNDERSTOOD
        return Reply(heard, None, match.confidence, say, None), replace(state, clarify=None)
    if intent in matcher.topic_ids:
        rival = match.rival or next((topic for topic in heard_as if topic != intent), None)
        if rival is not None:
            return _ask_which(kb, state, heard, intent, match, rival if rival in matcher.topic_ids else None)
        if not clear and _repeats_itself(heard):
            return _ask_which(kb, state, heard, intent, match, None)
        if confirm_unnamed and not _sure_enough(matcher, match, sure):
            return _ask_which(kb, state, heard, intent, match, None)
        if _something_else_hurts(matcher, heard):
            return _ask_which(kb, state, heard, intent, match, None)
        return _about_topic(kb.topic(intent), state, heard, match.confidence)
    if intent in FOLLOW_UPS:
        return _follow_up(kb, state, heard, match)
    return _command(kb, state, heard, intent, match)


def _repeats_itself(heard: str) -> bool:
    words = heard.split()
    counts = Counter(words)
    return any(n >= LOOP_WORDS for n in counts.values()) or any(n > 1 for n in Counter(pairwise(words)).values())


def _sure_enough(matcher: Matcher, match: Match, sure: str | None) -> bool:
    """The knee named, and the confident words alone lead to the same topic (measured on spoken off-domain
    questions: knee advice 11% -> see benchmarks/bench_speech.py --part ood)."""
    evidence = match if sure is None else matcher.match(sure)
    return evidence.intent == match.intent and bool(KNEE_WORDS & set(evidence.text.split()))


def _something_else_hurts(matcher: Matcher, heard: str) -> bool:
    """ "my uncle hurts when I run": the lifter names what hurts, it is no knee and nothing the knowledge base
    knows. An open-vocabulary recogniser hears "my ankle" so (bench_ear: most of the knee advice given to
    spoken out-of-domain questions), and a typed "my hamstrings are sore" is no knee question either."""
    tokens = matcher.normalizer.tokens(heard)
    if KNEE_WORDS & set(tokens):
        return False
    return any(a == "my" and not matcher.knows(b) for a, b in pairwise(tokens))


def _about_topic(topic: Topic, state: State, heard: str, confidence: float) -> tuple[Reply, State]:
    say = f"{topic.cause} {topic.fix}"
    new = State(topic=topic.id, depth=0, cue=0, last_say=say)
    return Reply(heard, topic.id, confidence, say, topic.id), new


def _ask_which(
    kb: KnowledgeBase, state: State, heard: str, topic: str, match: Match, rival: str | None
) -> tuple[Reply, State]:
    """Two close topics: "Did you mean A? Or B?". No rival: "Did you mean A?" (yes answers, no declines)."""
    first = kb.topic(topic)
    say = _did_you_mean(first)
    if rival is not None:
        say += f" Or {kb.topic(rival).title.lower()}?"
    new = replace(state, clarify=(first.id, rival or ""), last_say=say)
    return Reply(heard, "clarify", match.confidence, say, first.id), new


def _did_you_mean(topic: Topic) -> str:
    return f"Did you mean {topic.title.lower()}?"


def _answer_clarification(kb: KnowledgeBase, matcher: Matcher, state: State, heard: str) -> tuple[Reply, State] | None:
    """Yes means the first option, no the second; naming one picks it. Anything else moves on."""
    assert state.clarify is not None
    first, second = state.clarify
    match = matcher.match(heard)
    chosen = {"yes": first, "no": second}.get(match.intent or "")
    if chosen == "":  # "no" to "Did you mean A?"
        return Reply(heard, match.intent, match.confidence, NO_TOPIC_YET, None), replace(state, clarify=None)
    if chosen is None:
        options = [option for option in state.clarify if option]
        among = matcher.match(heard, among=options)
        if among.intent in options and match.intent in (None, *options):
            chosen = among.intent
    if chosen is None:
        return None
    reply, new = _about_topic(kb.topic(chosen), state, heard, max(match.confidence, 0.5))
    return reply, new


def _follow_up(kb: KnowledgeBase, state: State, heard: str, match: Match) -> tuple[Reply, State]:
    if state.topic is None:
        return Reply(heard, match.intent, match.confidence, NO_TOPIC_YET, None), state
    topic = kb.topic(state.topic)
    depth, cue = state.depth, state.cue
    if match.intent == "why":
        say = topic.cause
    elif match.intent == "fix":
        say = topic.fix
    elif match.intent == "cue" or depth >= 1:
        say = f"{topic.cues[cue % len(topic.cues)]}." if match.intent == "cue" else _cues(topic)
        cue += 1
        depth = max(depth, 2) if match.intent == "more" else depth
        if match.intent == "more" and state.depth >= 2:
            say = NO_MORE
    else:
        say, depth = topic.more, 1
    new = replace(state, depth=depth, cue=cue, last_say=say, clarify=None)
    return Reply(heard, match.intent, match.confidence, say, topic.id), new


def _cues(topic: Topic) -> str:
    return "Cues: " + ". ".join(topic.cues) + "."


def _command(kb: KnowledgeBase, state: State, heard: str, intent_id: str, match: Match) -> tuple[Reply, State]:
    command = Command.from_intent(match.intent)
    if command is Command.REPEAT:
        say = state.last_say or NOTHING_TO_REPEAT
        return Reply(heard, match.intent, match.confidence, say, state.topic), state
    intent = kb.command(intent_id)
    say = intent.reply if intent is not None and intent.reply else ""
    if command in (Command.YES, Command.NO) and not say:
        say = ACKNOWLEDGED
    new = replace(state, clarify=None, last_say=say or state.last_say)
    return Reply(heard, match.intent, match.confidence, say, state.topic), new


def opening_replies(kb: KnowledgeBase) -> list[str]:
    """Everything the coach can say first in a turn, in rough order of need: the voice renders these ahead
    so an answer starts playing as soon as the question is understood (the lifter is waiting)."""
    replies = [f"{topic.cause} {topic.fix}" for topic in kb.topics]
    replies += [_did_you_mean(topic) for topic in kb.topics]
    replies += [NOT_UNDERSTOOD, NO_TOPIC_YET, LISTENING, ACKNOWLEDGED, NOTHING_HEARD]
    replies += [command.reply for command in kb.commands if command.reply]
    return list(dict.fromkeys(replies))


class Dialogue:
    """A conversation: holds the state between turns (the listening loop and `ask --conversation`)."""

    def __init__(self, kb: KnowledgeBase, matcher: Matcher | None = None, *, confirm_unnamed: bool = False) -> None:
        self.kb = kb
        self.matcher = matcher or Matcher(kb)
        self.confirm_unnamed = confirm_unnamed
        self.state = State()

    def turn(
        self,
        heard: str,
        *,
        sure: str | None = None,
        others: Sequence[tuple[str, float]] = (),
        restored: Sequence[tuple[str, float]] = (),
        rivals: Sequence[tuple[str, float]] = (),
        clear: bool = True,
    ) -> Reply:
        """`sure`: the words of `heard` the recogniser is confident of (None: all of them, as for typed text).
        `others` and `restored`: the recogniser's other readings of the same utterance (`Transcript.alternatives`,
        `Transcript.restored`), each with how far behind `heard` it is; when `reading` takes one, it is answered on
        all its words (the reply's `heard` says which). `rivals`: readings only to check a knee answer against
        (`RIVAL_WITHIN`), each with how far behind `heard` it is (negative: ahead), for a caller that chose among
        the readings itself (the listening loop). `clear`: as `Transcript.clear`."""
        readings = [*others, *restored]
        if (chosen := self.reading(heard, others, restored=restored)) != heard:
            behind = dict(readings)[chosen]
            readings = [(text, nats - behind) for text, nats in [(heard, 0.0), *readings] if text != chosen]
            heard, sure = chosen, None
        heard_as = self.heard_as(heard, [*readings, *rivals])
        reply, self.state = respond(
            self.kb,
            self.matcher,
            self.state,
            heard,
            confirm_unnamed=self.confirm_unnamed,
            sure=sure,
            heard_as=heard_as,
            clear=clear,
        )
        return reply

    def heard_as(self, heard: str, readings: Sequence[tuple[str, float]]) -> list[str]:
        """What the readings within `RIVAL_WITHIN` of `heard` (each with how far behind it is) are about, closest
        first: the knee topic each gets outright, or `ANOTHER_PART` when it names another body part instead."""
        close = sorted((abs(nats), text) for text, nats in readings if abs(nats) <= RIVAL_WITHIN and text != heard)
        about = [self._outright(text)[0] or self._another_part(text) for _, text in close]
        return list(dict.fromkeys(topic for topic in about if topic is not None))

    def _another_part(self, heard: str) -> str | None:
        match = self.matcher.match(heard)
        return ANOTHER_PART if match.intent is None and match.elsewhere else None

    def answers_outright(self, heard: str, *, sure: str | None = None) -> bool:
        """Would `heard`, asked out of the blue, get a knee topic's advice as it stands (no question back)?
        The listening loop answers such a question without the wake word, so the knee must be named (as for
        speech, `confirm_unnamed`) whatever this dialogue's own rule."""
        reply, _ = respond(self.kb, self.matcher, State(), heard, confirm_unnamed=True, sure=sure)
        return reply.intent in self.matcher.topic_ids

    def reading(
        self,
        heard: str,
        others: Sequence[tuple[str, float]],
        *,
        restored: Sequence[tuple[str, float]] = (),
        weight: float = READING_WEIGHT,
    ) -> str:
        """Of the recogniser's readings of one utterance (`heard` its best; `others` and `restored` the rest, each
        with how far behind the best the engine scored it), the one to answer: the best by the engine's score plus
        `weight` times the confidence of the knee answer a reading gets outright (none: 0). The beam's best reading
        loses a knee word to an everyday one ("why does my knee hurt on the left breast") where a close second
        keeps it ("... on the leg press"). A command or follow-up in the best reading stands against the beam's
        others (in 10 dB noise "take me through the warmup" had "take knee through the warmup" 0.4 nats behind),
        not against a reading with the knee `restored` on clear audio ("me warm up routine": "knee warm up
        routine", benchmarks/bench_ear.py). A best reading that names another body part stands against all: in 10 dB
        gym noise "my shoulder hurts when i bend" had "knee shoulder hurts when i bend" 2 nats behind."""
        if not others and not restored:
            return heard  # no matcher call for an utterance with one reading (as before restored readings)
        if self._another_part(heard):
            return heard  # what hurts is named: a knee the beam or the engine put in its place is no evidence
        readings = [*restored] if self.asks_for_something(heard) else [*others, *restored]
        if not readings:
            return heard
        return max([(heard, 0.0), *readings], key=lambda r: weight * self._outright_confidence(r[0]) - r[1])[0]

    def asks_for_something(self, heard: str) -> bool:
        """`heard` is a command or a follow-up (not a knee question, not nothing)."""
        intent = self.matcher.match(heard).intent
        return intent is not None and intent not in self.matcher.topic_ids

    def _outright_confidence(self, heard: str) -> float:
        return self._outright(heard)[1]

    def _outright(self, heard: str) -> tuple[str | None, float]:
        """The knee topic `heard` gets asked out of the blue with the knee named (`confirm_unnamed`), and the
        matcher's confidence in it; (None, 0.0) for anything else."""
        reply, _ = respond(self.kb, self.matcher, State(), heard, confirm_unnamed=True)
        return (reply.intent, reply.confidence) if reply.intent in self.matcher.topic_ids else (None, 0.0)

    def reset(self) -> None:
        self.state = State()
