"""One turn's reply: what was heard and the context so far -> what the coach says next (`respond`).

The transition is a pure function of (state, heard), so every conversational path is testable without
audio. Replies are short on purpose: cause and fix first (under ~15 s spoken), details on "more".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from voicecoach.commands import Command
from voicecoach.text.knowledge import KnowledgeBase, Topic
from voicecoach.text.matcher import RED_FLAG, Match, Matcher
from voicecoach.text.words import KNEE_WORDS

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
LOOP_WORDS = 3
"""In a reading heard barely over the room (`respond`'s `clear`), a word this many times, or a pair of words twice,
is the decoder looping, not a lifter: "front squats give me knee pain" came out "run squat skip knee knee knee".
No held-out phrasing repeats itself so. Held-out questions in 10 dB gym noise (answer path, benchmarks/bench_ear.py),
right / confirmed / wrong advice: 58.4 / 3.4 / 6.6% -> 55.0 / 6.8 / 4.5%, spoken out-of-domain advice 3.1 -> 2.8%;
quiet and 20 dB unchanged (heard clear). On clear audio it would cost right answers for little (stop 26: 20 dB
right 85.3 -> 83.7%)."""

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

    `heard_as`: what other close readings of the same speech are about (`ReadingChoice.heard_as`, closest first); a
    knee answer asks back when one is about another topic ("Did you mean A? Or B?") or another body part ("Did
    you mean A?"), and a warm-up start when one is a knee question ("Did you mean A?"). `clear`: False when the
    recogniser heard the words barely over the room; a knee answer to a reading that repeats itself (`LOOP_WORDS`)
    is then asked back.

    `confirm_unnamed` (for recognised speech): knee advice needs the word "knee" and, when the recogniser
    says which words it is sure of (`sure`, those words in order), the same topic from those words alone.
    Otherwise the coach asks ("Did you mean knee pain from squats?"): a closed-vocabulary recogniser turns
    chatter into gym words, with low word confidences, far more often than into a confident "knee".
    """
    if not matcher.normalizer.tokens(heard):
        return Reply(heard, None, 0.0, NOTHING_HEARD, None), replace(state, clarify=None)
    if state.clarify is not None:
        answered = _answer_clarification(kb, matcher, state, heard, confirm_unnamed=confirm_unnamed)
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
        if _something_else_hurts(matcher, heard) or _warning_without_the_knee(matcher, intent, heard):
            return _ask_which(kb, state, heard, intent, match, None)
        return _about_topic(kb.topic(intent), state, heard, match.confidence)
    if intent in FOLLOW_UPS:
        return _follow_up(kb, state, heard, match)
    if intent == Command.START_WARMUP and (knee := next((t for t in heard_as if t in matcher.topic_ids), None)):
        return _ask_which(kb, state, heard, knee, match, None)  # a knee question heard without its knee
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


def _warning_without_the_knee(matcher: Matcher, intent: str, heard: str) -> bool:
    """Warning-sign advice without the knee named: asked back, as a hip pops, a lifter runs hot, an ankle swells.
    Spoken out-of-domain questions, listen loop, 20 dB gym noise: "my hip pops when i squat" heard "am i a bit hot
    when i squat" got the warning; held-out warning-sign questions answered without the knee named, 4 voices: none
    quiet or at 20 dB, 2 of 60 at 10 dB (benchmarks/bench_ear.py). Nor without something like a warning sign
    (`Matcher.sounds_like_a_warning`): "my knee hot weed" (for "my knees are weak") got the warning."""
    return intent == RED_FLAG and not (matcher.names_the_knee(heard) and matcher.sounds_like_a_warning(heard))


def _something_else_hurts(matcher: Matcher, heard: str) -> bool:
    """ "my uncle hurts when I run": the lifter names what hurts, it is no knee and nothing the knowledge base
    knows. An open-vocabulary recogniser hears "my ankle" so (bench_ear: most of the knee advice given to
    spoken out-of-domain questions), and a typed "my hamstrings are sore" is no knee question either."""
    if matcher.names_the_knee(heard):
        return False
    return any(a == "my" and not matcher.knows(b) for a, b in pairwise(matcher.normalizer.tokens(heard)))


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


def _answer_clarification(
    kb: KnowledgeBase, matcher: Matcher, state: State, heard: str, *, confirm_unnamed: bool
) -> tuple[Reply, State] | None:
    """Yes means the first option, no the second; naming one picks it. Anything else moves on."""
    assert state.clarify is not None
    first, second = state.clarify
    match = matcher.match(heard)
    chosen = {"yes": first, "no": second}.get(match.intent or "")
    if chosen == "":  # "no" to "Did you mean A?"
        declined = replace(state, clarify=None)
        if (instead := _after_no(matcher, heard)) is not None:  # "no, start the warm-up": what they want instead
            reply, new = respond(kb, matcher, declined, instead, confirm_unnamed=confirm_unnamed)
            return replace(reply, heard=heard), new
        return Reply(heard, match.intent, match.confidence, NO_TOPIC_YET, None), declined
    if chosen is None:
        options = [option for option in state.clarify if option]
        among = matcher.match(heard, among=options)
        if among.intent in options and match.intent in (None, *options):
            chosen = among.intent
    if chosen is None:
        return None
    reply, new = _about_topic(kb.topic(chosen), state, heard, max(match.confidence, 0.5))
    return reply, new


def _after_no(matcher: Matcher, heard: str) -> str | None:
    """What follows a leading "no" ("no, start the warm-up" -> "start the warm-up") when it asks for something
    on its own; None for a bare "no" or "no thanks"."""
    words = heard.split()
    if len(words) < 2 or matcher.match(words[0]).intent != Command.NO:
        return None
    rest = " ".join(words[1:])
    intent = matcher.match(rest).intent
    return rest if intent is not None and intent not in (Command.NO, Command.YES, Command.THANKS) else None


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
