"""Accuracy yardsticks shared by the test suite and the benchmarks (one definition, two users)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from voicecoach.commands import Command
from voicecoach.text.dialogue import Dialogue
from voicecoach.text.knowledge import KnowledgeBase
from voicecoach.text.matcher import Matcher
from voicecoach.text.own_words import ACTING
from voicecoach.text.reply import FOLLOW_UPS, UNMATCHED

CLINC_COMMANDS: dict[str, frozenset[str]] = {
    "repeat": frozenset({"repeat"}),
    "cancel": frozenset({"stop", "pause"}),
    "yes": frozenset({"yes"}),
    "no": frozenset({"no"}),
    "what_can_i_ask_you": frozenset({"help"}),
    "change_speed": frozenset({"slower", "faster"}),
    "change_volume": frozenset({"louder", "quieter"}),
}
"""CLINC150 intents that are our commands, and the commands that count as right for each.
change_speed and change_volume phrasings often give no direction ("set the volume to 4"), so either
direction counts; cancel includes "pause" and "hold on", which is our pause."""


@dataclass(frozen=True)
class Score:
    right: int
    total: int
    misses: tuple[tuple[str, str, str], ...] = ()
    """(utterance, expected, got) for each miss."""

    @property
    def rate(self) -> float:
        return self.right / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.right}/{self.total} = {100 * self.rate:.2f}%"


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """`intent<TAB>utterance` lines, `#` comments skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            intent, _, text = line.partition("\t")
            rows.append((intent.strip(), text.strip()))
    return rows


def accuracy(matcher: Matcher, rows: Iterable[tuple[str, str]]) -> Score:
    """Top-1 accuracy; a clarifying question between the right topic and another counts as a miss."""
    right, total, misses = 0, 0, []
    for expected, text in rows:
        total += 1
        got = matcher.match(text)
        if got.intent == expected and not (got.intent in matcher.topic_ids and got.close_call):
            right += 1
        else:
            misses.append((text, expected, (got.intent or UNMATCHED) + ("?" if got.close_call else "")))
    return Score(right, total, tuple(misses))


def load_clinc(path: Path, splits: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(text, clinc_intent) from the given splits; out-of-scope splits get the intent "oos"."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for split in splits:
        yield from ((text, intent) for text, intent in data[split])


def knee_advice_rate(matcher: Matcher, queries: Iterable[tuple[str, str]]) -> Score:
    """How many unrelated queries got knee advice (lower is better; `right` counts the bad ones)."""
    return _unrelated_matched(matcher, queries, lambda got, _: got in matcher.topic_ids)


CLINC_SAME_COMMAND = {"goodbye": Command.GOODBYE.value}
"""CLINC150 intents outside CLINC_COMMANDS that one of our acting commands answers rightly."""


def unrelated_commanded(matcher: Matcher, queries: Iterable[tuple[str, str]]) -> Score:
    """Unrelated queries the matcher takes for a command that changes what the coach does (`own_words.ACTING`:
    stop, pause, louder, goodbye, ...). Lower is better; `right` counts the bad ones."""
    return _unrelated_matched(
        matcher, queries, lambda got, intent: got in ACTING and got != CLINC_SAME_COMMAND.get(intent)
    )


def _unrelated_matched(
    matcher: Matcher, queries: Iterable[tuple[str, str]], wrong: Callable[[str | None, str], bool]
) -> Score:
    """CLINC150 queries other than our commands for which `wrong(matched intent, CLINC intent)` holds."""
    bad, total, misses = 0, 0, []
    for text, intent in queries:
        if intent in CLINC_COMMANDS:
            continue
        total += 1
        got = matcher.match(text).intent
        if wrong(got, intent):
            bad += 1
            misses.append((text, intent, got or UNMATCHED))
    return Score(bad, total, tuple(misses))


def command_rate(matcher: Matcher, queries: Iterable[tuple[str, str]]) -> Score:
    right, total, misses = 0, 0, []
    for text, intent in queries:
        accepted = CLINC_COMMANDS.get(intent)
        if accepted is None:
            continue
        total += 1
        got = matcher.match(text).intent
        if got in accepted:
            right += 1
        else:
            misses.append((text, intent, got or UNMATCHED))
    return Score(right, total, tuple(misses))


def unrelated_acted_on(kb: KnowledgeBase, queries: Iterable[tuple[str, str]], *, after: str | None = None) -> Score:
    """Unrelated queries the coach acts on: knee advice (a topic or a follow-up about one) or the warm-up
    started. `after`: asked right after this question was answered, as a follow-up would be. Lower is better;
    `right` counts the bad ones."""
    dialogue = Dialogue(kb)
    topics = {t.id for t in kb.topics}
    bad, total, misses = 0, 0, []
    for text, intent in queries:
        if intent in CLINC_COMMANDS:
            continue
        total += 1
        dialogue.reset()
        if after is not None:
            dialogue.turn(after)
        reply = dialogue.turn(text)
        advice = reply.topic is not None and (reply.intent in topics or reply.intent in FOLLOW_UPS)
        if advice or reply.command is Command.START_WARMUP:
            bad += 1
            misses.append((text, intent, reply.intent or UNMATCHED))
    return Score(bad, total, tuple(misses))
