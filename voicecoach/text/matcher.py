"""Spoken complaint -> intent: nearest knowledge-base example by IDF-weighted word overlap.

Why this shape: the examples in `intents/` are the only training data, a Pi must answer in well under a
millisecond, and a wrong knee answer costs the lifter's trust. So scoring is a cosine between the
utterance's stems and each example's stems (rare, telling words weigh most; words the knowledge base
has never seen dilute the score, which is what rejects off-topic chatter), with three guards on top:
  * a question about another body part ("my shoulder hurts") never gets knee advice;
  * warning signs (swelling, a pop...) with the knee always route to the red-flag topic;
  * a close call between two knee topics becomes a clarifying question, not a guess.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from voicecoach.text.knowledge import KnowledgeBase
from voicecoach.text.normalize import Normalizer, contains_phrase
from voicecoach.text.own_words import ACTING, OWN_WORDS_ONLY, OwnWords
from voicecoach.text.words import FUNCTION_STEMS, KNEE_WORDS, generic, token_weight

RED_FLAG = "knee_pain_red_flag"

DEFAULT_THRESHOLD = 0.45
"""Below this confidence the answer is `unknown`. Tuned on CLINC150 train/val and the examples."""
WARNING_NEAR = 75
"""How close (`rapidfuzz.fuzz.partial_ratio`, 0-100) a reading must come to a warning sign's words to count as
naming one (`Matcher.sounds_like_a_warning`). Read off the listen loop of benchmarks/bench_ear.py: the warning
questions answered with misheard signs scored 78-93 ("my knee gets away when i walk", "my knee keeps tuckling",
"my knee won't straight"); the other questions that got the warning 59-62 ("my knee hot weed" for "my knees are
weak", "knee more about hot" for "tell me more about that"); held-out questions for other topics 50-71."""
UNNAMED_TOPIC_UNSEEN = 1
"""A knee topic asked without naming the knee may have at most this many words the knowledge base never uses:
"are sissy squats safe" (one) is a question for the coach, "how long should a cold last before I call a
doctor" (three) is not."""
NAMED_TOPIC_UNSEEN = 2
"""... and one that names the knee, at most this many: a question a person asks about the knee uses the coach's
words (typed held-out questions: at most one the knowledge base never uses), but a misheard sentence about
something else can pick up a "knee" ("tail my bang can't even under knee ... six tunnel thirty": six unseen, knee
advice, spoken CLINC150 queries in benchmarks/bench_ear.py)."""
CLARIFY_MARGIN = 0.06
"""Two knee topics closer than this ask "which one?" instead of guessing."""
NEAREST_SHARE = 0.6
"""Weight of the nearest example's cosine; the rest is the intent vocabulary's coverage of the utterance."""
EXACT_BONUS = 0.01
TOPIC_PREFERENCE = 0.15
"""Added to every knee topic's score when the lifter names the knee."""
NEAR_ELSEWHERE = 80
"""rapidfuzz ratio (0-100) of stems from which a word is spelt like another body part (`may_hide_the_knee`): "sins"
(sin ~ shin) 86; the words that hid the knee in the held-out set ("lean", "lead", "these", "he's") 75 at most."""
UNSEEN_WORD_WEIGHT = 0.4
"""Weight of a word the knowledge base never uses, relative to the rarest known word."""


@dataclass(frozen=True)
class Match:
    """What the matcher made of one utterance."""

    intent: str | None
    """Topic id or command id; None when nothing in the knowledge base matches."""
    confidence: float
    """0..1: the cosine similarity to the nearest example of `intent`."""
    runner_up: str | None = None
    """The best other intent, if any scored."""
    runner_up_confidence: float = 0.0
    elsewhere: str | None = None
    """A body part other than the knee that the lifter named."""
    text: str = ""
    """The normalised words the decision was made on."""

    rival: str | None = None
    """Another knee topic that scored so close that the coach should ask which one was meant."""

    @property
    def close_call(self) -> bool:
        return self.rival is not None


@dataclass(frozen=True)
class _Example:
    intent: str
    weights: dict[str, float]
    norm: float


class Matcher:
    """Matches utterances against every phrasing in a knowledge base."""

    def __init__(self, kb: KnowledgeBase, *, threshold: float = DEFAULT_THRESHOLD, exact: bool = True) -> None:
        """`exact=False` scores knowledge-base phrasings like any other utterance (for `kb check`)."""
        self.threshold = threshold
        self.topic_ids = frozenset(t.id for t in kb.topics)
        self.normalizer = Normalizer(kb.language.mishearings)
        self._elsewhere = [self.normalizer.tokens(p) for p in kb.language.elsewhere]
        self._elsewhere_spelt = kb.language.elsewhere  # as spoken back: "calves", not the stem "calv"
        self._elsewhere_words = [part[0] for part in self._elsewhere if len(part) == 1]
        self._alarms = [self.normalizer.tokens(p) for p in kb.language.alarms]
        self._alarm_texts = tuple(p.lower() for p in kb.language.alarms)
        phrasings = [(intent, self.normalizer.tokens(line.text)) for intent, line in kb.phrasings()]
        document_frequency: dict[str, int] = defaultdict(int)
        for _, tokens in phrasings:
            for token in set(tokens):
                document_frequency[token] += 1
        count = len(phrasings)
        self._idf = {t: token_weight(t, math.log((count + 1) / (df + 1)) + 1.0) for t, df in document_frequency.items()}
        self._unseen_weight = UNSEEN_WORD_WEIGHT * max(self._idf.values(), default=1.0)
        for phrase in self._elsewhere + self._alarms:
            for token in phrase:
                self._idf.setdefault(token, self._unseen_weight)
        # Repairs land on words that tell intents apart: "tough" repaired to "though" (a word any question uses,
        # but rare in the phrasings, so heavy) turned "my knees are tough to run" into warm-up advice.
        self._vocabulary = tuple(sorted(t for t in self._idf if not generic(t)))
        self._intents = tuple(dict.fromkeys(intent for intent, _ in phrasings))
        self._exact = {tokens: intent for intent, tokens in phrasings} if exact else {}
        uses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for intent, tokens in phrasings:
            for token in set(tokens):
                uses[token][intent] += 1
        # How much an intent owns a word: 1 for the intent that uses it most, less for the others, so
        # "squat" counts fully for the squat topic and a little for the warm-up that mentions squats too.
        self._ownership: dict[str, dict[str, float]] = {
            token: {intent: n / max(counts.values()) for intent, n in counts.items()} for token, counts in uses.items()
        }
        # Words that mark a knee topic: not mostly command words ("warm up" is both, "stop" is a command)
        self._anchors = frozenset(
            token
            for token, counts in uses.items()
            if not generic(token)
            and 3 * sum(n for i, n in counts.items() if i in self.topic_ids)
            >= max(1, sum(n for i, n in counts.items() if i not in self.topic_ids))
        )
        self._own = OwnWords(self._ownership, self._idf, self._unseen_weight, self.topic_ids, self.normalizer)
        self._examples: list[_Example] = []
        self._index: dict[str, list[int]] = defaultdict(list)
        for intent, tokens in phrasings:
            weights = {t: self._idf[t] for t in set(tokens)}
            self._index_example(_Example(intent, weights, math.sqrt(sum(w * w for w in weights.values()))))

    def _index_example(self, example: _Example) -> None:
        for token in example.weights:
            self._index[token].append(len(self._examples))
        self._examples.append(example)

    def match(self, text: str, *, among: Collection[str] | None = None) -> Match:
        """The best intent for `text`; `among` restricts the choice (e.g. to answer "which one?")."""
        said = self.normalizer.tokens(text)
        tokens = tuple(self._repair(t) for t in said)
        words = " ".join(tokens)
        if not tokens:
            return Match(None, 0.0, text=words)
        ranking = self.rank(tokens, among=among)
        elsewhere = self._named_elsewhere(tokens)
        knee_named = any(t in KNEE_WORDS for t in tokens) and self._anchored(tokens)
        if elsewhere and not knee_named:
            # "my hip pops when I squat": squats are a knee topic here, the hip is not. No knee advice, and no
            # command from a complaint about it: "my lower back hurts" is no "lower the volume" ("back to it" is).
            complaint = self._own.complains(tokens)
            ranking = [(i, s) for i, s in ranking if i not in self.topic_ids and not (complaint and i in ACTING)]
        if done := self._own.told_as_done(text):
            # "i skipped my warm up", "i stopped squatting": what the lifter did, not a command to do it now.
            ranking = [(i, s) for i, s in ranking if i not in done]
        if knee_named and ranking:
            # Naming the knee is strong evidence: "does the treadmill cause knee pain" is about the
            # treadmill topic even though "why" alone is a follow-up, and it may score a little lower.
            ranking = [(i, s + TOPIC_PREFERENCE if i in self.topic_ids else s) for i, s in ranking]
            ranking.sort(key=lambda item: -item[1])
        if knee_named:
            # A follow-up or the warm-up must be said in its own words (below); a knee question that merely uses
            # one of their words ("does the treadmill cause knee pain": "cause" is "why") is judged on the rest.
            ranking = [(i, s) for i, s in ranking if i not in OWN_WORDS_ONLY or self._own.said_as_command(tokens, i)]
        alarmed = knee_named and any(contains_phrase(tokens, alarm) for alarm in self._alarms)
        if alarmed and (among is None or RED_FLAG in among):
            # A warning sign beats any form advice: "my knee popped during squats" is not a squat question.
            best = max(ranking[0][1] if ranking else 0.0, self.threshold)
            ranking = [(RED_FLAG, best)] + [(i, s) for i, s in ranking if i != RED_FLAG]
        if not ranking or ranking[0][1] < self.threshold:
            top = ranking[0] if ranking else (None, 0.0)
            return Match(None, round(1.0 - top[1], 3), top[0], round(top[1], 3), elsewhere, words)
        (intent, score), rest = ranking[0], ranking[1:]
        runner_up, runner_score = rest[0] if rest else (None, 0.0)
        unseen_allowed = NAMED_TOPIC_UNSEEN if knee_named else UNNAMED_TOPIC_UNSEEN
        unfamiliar = intent in self.topic_ids and self._unseen_count(tokens) > unseen_allowed
        if (
            unfamiliar
            or (intent in OWN_WORDS_ONLY and not self._own.said_as_command(tokens, intent))
            or (intent in ACTING and not self._own.mostly_own(said, intent))
        ):
            # "what is global warming" is not "start the warm-up", "how do I change my oil" is not "what
            # should I change", "how long should a cold last before I call a doctor" is no warm-up advice:
            # a command is said in its own words, and a knee question in words the knowledge base knows, with
            # little else around them (a little more when it names the knee).
            return Match(None, round(1.0 - score, 3), intent, round(min(score, 1.0), 3), elsewhere, words)
        rival = None
        if intent in self.topic_ids and intent != RED_FLAG:
            rival = next((i for i, s in rest if i in self.topic_ids and score - s < CLARIFY_MARGIN), None)
        return Match(
            intent, round(min(score, 1.0), 3), runner_up, round(min(runner_score, 1.0), 3), elsewhere, words, rival
        )

    def rank(self, tokens: tuple[str, ...], *, among: Collection[str] | None = None) -> list[tuple[str, float]]:
        """Intents by their best example's cosine similarity, best first."""
        query = {t: self._idf.get(t, token_weight(t, self._unseen_weight)) for t in set(tokens)}
        anchored = self._anchored(tuple(query))
        if not anchored and among is None:  # an explicit choice ("which one?") needs no anchor
            among = [i for i in self._intents if i not in self.topic_ids]
        query_norm = math.sqrt(sum(w * w for w in query.values()))
        overlap: dict[int, float] = defaultdict(float)
        for token, weight in query.items():
            for example_id in self._index.get(token, ()):
                overlap[example_id] += weight * weight
        nearest: dict[str, float] = {}
        for example_id, dot in overlap.items():
            example = self._examples[example_id]
            if among is not None and example.intent not in among:
                continue
            score = dot / (query_norm * example.norm)
            if score > nearest.get(example.intent, 0.0):
                nearest[example.intent] = score
        # How much of what was said the intent's whole vocabulary explains: separates "after a run"
        # from "after squats" when the nearest examples share only "my knee hurts after".
        query_mass = query_norm * query_norm
        scores = {
            intent: NEAREST_SHARE * score
            + (1 - NEAREST_SHARE)
            * sum(w * w * self._ownership.get(t, {}).get(intent, 0.0) for t, w in query.items())
            / query_mass
            for intent, score in nearest.items()
        }
        exact = self._exact.get(tokens)
        if exact in scores:
            # Said word for word as a knowledge-base phrasing: that phrasing's intent, whatever else scores.
            scores[exact] = max(scores.values()) + EXACT_BONUS
        return sorted(scores.items(), key=lambda item: -item[1])

    def said_as_command(self, tokens: tuple[str, ...], intent: str) -> bool:
        """Whether `tokens` say command (or follow-up) `intent` in its own words (`OwnWords.said_as_command`)."""
        return self._own.said_as_command(tokens, intent)

    def sounds_like_a_warning(self, text: str) -> bool:
        """Does `text` hold a warning sign (`intents/language.txt` alarm), or something spelt close to one ("gives
        away" for "gives way", "keeps tuckling" for "keeps buckling"; `WARNING_NEAR`)?"""
        lowered = text.lower()
        return any(fuzz.partial_ratio(alarm, lowered) >= WARNING_NEAR for alarm in self._alarm_texts)

    def names_the_knee(self, text: str) -> bool:
        """Does `text` say "knee" (or "knees", "kneecap", "patella")?"""
        return bool(KNEE_WORDS & set(self.normalizer.tokens(text)))

    def may_hide_the_knee(self, word: str) -> bool:
        """Could `word` be "knee" misheard? Not if a knee topic's phrasings use it ("sissy", "snap": the lifter said
        it), nor if it is spelt like another body part (`elsewhere`, stems within `NEAR_ELSEWHERE`): "my sins are
        tough" was "my shins hurt", and a knee put in its place got shin pain the treadmill advice."""
        tokens = self.normalizer.tokens(word)
        if not tokens:
            return True
        token = tokens[0]
        if token not in FUNCTION_STEMS and self.topic_ids & self._ownership.get(token, {}).keys():
            return False
        near = process.extractOne(token, self._elsewhere_words, scorer=fuzz.ratio, score_cutoff=NEAR_ELSEWHERE)
        return near is None

    def knows(self, token: str) -> bool:
        """Does any phrasing of the knowledge base use this (normalised) word?"""
        return token in self._idf

    def _unseen_count(self, tokens: tuple[str, ...]) -> int:
        """How many different content words of `tokens` no phrasing in the knowledge base uses. Gym words count as
        seen: "should I train sissy squats" heard as "jedi train sissy squats" was dropped for "train" (replayed
        spoken decodes, 20 dB: right 83.9 -> 84.2%; CLINC150 acted on still 0 of 5,290)."""
        return sum(t not in self._ownership and not generic(t) for t in set(tokens))

    def _anchored(self, tokens: tuple[str, ...]) -> bool:
        """Knee advice needs two knee-topic words ("knee" + "hurt", "sissy" + "squat"). One is not enough:
        a closed-grammar recogniser turns "play some music please" into "some music knees"."""
        knee = any(t in KNEE_WORDS for t in tokens)
        alarm = knee and any(contains_phrase(tokens, phrase) for phrase in self._alarms)
        return sum(t in self._anchors or t in KNEE_WORDS for t in set(tokens)) + alarm >= 2

    def _repair(self, token: str) -> str:
        """Map a word the knowledge base never uses onto a near-identical one it does ("sqaut")."""
        if token in self._idf or len(token) < 3 or token.isdigit() or token in FUNCTION_STEMS:
            return token
        # Short words have near neighbours that mean something else ("score" ~ "sore"): demand more.
        return _nearest(token, self._vocabulary, 90 if len(token) < 6 else 80) or token

    def _named_elsewhere(self, tokens: tuple[str, ...]) -> str | None:
        """The body part named, as the knowledge base spells it ("calves", not the stem "calv": it is spoken)."""
        for part, spelt in zip(self._elsewhere, self._elsewhere_spelt, strict=True):
            if contains_phrase(tokens, part):
                return spelt
        return None


@lru_cache(maxsize=4096)
def _nearest(token: str, vocabulary: tuple[str, ...], cutoff: float) -> str | None:
    found = process.extractOne(token, vocabulary, scorer=fuzz.ratio, score_cutoff=cutoff)
    return found[0] if found else None
