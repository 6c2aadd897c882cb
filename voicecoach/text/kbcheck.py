"""`voicecoach kb check`: the knowledge base is its own regression suite."""

from __future__ import annotations

from voicecoach.text.knowledge import TOPIC_IDS, KnowledgeBase
from voicecoach.text.matcher import Matcher
from voicecoach.text.spoken import word_seconds

MAX_FIRST_ANSWER_SECONDS = 15.0


def problems(kb: KnowledgeBase) -> list[str]:
    """Every problem found, each `path:line: message`; empty when the knowledge base is sound."""
    found: list[str] = []
    ids = {t.id for t in kb.topics}
    for missing in (i for i in TOPIC_IDS if i not in ids):
        where = kb.sources[0] if kb.sources else "knowledge base"
        found.append(f"{where}:0: topic {missing!r} is missing; other parts of voicecoach rely on it")
    for topic in kb.topics:
        seconds = word_seconds(len(f"{topic.cause} {topic.fix}".split()))
        if seconds > MAX_FIRST_ANSWER_SECONDS:
            found.append(
                f"{topic.path}:{topic.line}: cause + fix of {topic.id!r} take about {seconds:.0f} s to say; "
                f"keep them under {MAX_FIRST_ANSWER_SECONDS:.0f} s (put the rest in 'more')"
            )
    matcher = Matcher(kb, exact=False)  # each phrasing must route on its merits, not by being looked up
    for intent, line in kb.phrasings():
        match = matcher.match(line.text)
        if match.intent != intent:
            found.append(
                f"{line.path}:{line.line}: {line.text!r} routes to {match.intent or 'nothing'!r}, not {intent!r}"
            )
        elif match.rival is not None:
            found.append(
                f"{line.path}:{line.line}: {line.text!r} is too close to {match.rival!r} to answer without asking"
            )
    return found
