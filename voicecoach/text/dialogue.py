"""A conversation: the state carried between turns, and which reading of the speech each turn answers.

`reply.respond` is the pure transition; `readings.ReadingChoice` picks among the recogniser's readings and
names what the close ones are about. The listening loop and `ask --conversation` hold one `Dialogue`.
"""

from __future__ import annotations

from collections.abc import Sequence

from voicecoach.text.knowledge import KnowledgeBase
from voicecoach.text.matcher import Matcher
from voicecoach.text.readings import ReadingChoice
from voicecoach.text.reply import Reply, State, respond


class Dialogue:
    """A conversation: holds the state between turns (the listening loop and `ask --conversation`)."""

    def __init__(self, kb: KnowledgeBase, matcher: Matcher | None = None, *, confirm_unnamed: bool = False) -> None:
        self.kb = kb
        self.matcher = matcher or Matcher(kb)
        self.readings = ReadingChoice(kb, self.matcher)
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
        `Transcript.restored`), each with how far behind `heard` it is; when `ReadingChoice.best` takes one, it is
        answered on all its words (the reply's `heard` says which). `rivals`: readings only to check a knee answer
        against (`readings.RIVAL_WITHIN`), each with how far behind `heard` it is (negative: ahead), for a caller
        that chose among the readings itself (the listening loop). `clear`: as `Transcript.clear`."""
        readings = [*others, *restored]
        if (chosen := self.readings.best(heard, others, restored=restored)) != heard:
            behind = dict(readings)[chosen]
            readings = [(text, nats - behind) for text, nats in [(heard, 0.0), *readings] if text != chosen]
            heard, sure = chosen, None
        reply, self.state = respond(
            self.kb,
            self.matcher,
            self.state,
            heard,
            confirm_unnamed=self.confirm_unnamed,
            sure=sure,
            heard_as=self.readings.heard_as(heard, [*readings, *rivals], clear=clear),
            clear=clear,
        )
        return reply

    def reset(self) -> None:
        self.state = State()
