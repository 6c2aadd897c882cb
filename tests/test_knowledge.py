"""The knowledge base loads, validates with file:line errors, and routes every example to itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecoach.errors import KnowledgeBaseError
from voicecoach.text import knowledge
from voicecoach.text.kbcheck import problems
from voicecoach.text.knowledge import TOPIC_IDS

GOOD_TOPIC = """\
[topic knee_pain_squat]
title: Knee pain from squats
cause: Knees cave in.
fix: Push them out.
more: Longer text.
cue: Knees over toes
cue: Push knees out
say: my knees hurt after squats
say: squats hurt my knee
say: knee pain when squatting
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kb.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_knowledge_base_has_every_fixed_topic() -> None:
    kb = knowledge.load()
    assert [t.id for t in kb.topics] == list(TOPIC_IDS)
    for topic in kb.topics:
        assert 2 <= len(topic.cues) <= 4
        assert all(len(cue.split()) <= 6 for cue in topic.cues)
        assert len(topic.phrasings) >= 3


def test_shipped_knowledge_base_passes_its_own_check() -> None:
    assert problems(knowledge.load()) == []


def test_article_facts_are_carried_over() -> None:
    kb = knowledge.load()
    text = " ".join(f"{t.cause} {t.fix} {t.more}" for t in kb.topics).lower()
    for fact in [
        "toes",
        "rotate",
        "ceiling",
        "incline",
        "bend",
        "four",
        "bodyweight squats",
        "leg extensions",
        "arthritis",
        "sissy squats",
        "quad pump",
        "physio",
        "worse",
        "lunges",
        "hack squats",
    ]:
        assert fact in text, fact


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD_TOPIC.replace("title:", "colour:"), 2, "unknown field 'colour'"),
        (GOOD_TOPIC.replace("fix: Push them out.", "fix:"), 4, "empty 'fix'"),
        (
            GOOD_TOPIC.replace("cue: Push knees out", "cue: push your knees out over your toes always"),
            7,
            "more than 6 words",
        ),
        (GOOD_TOPIC + "say: My knees hurt after squats!\n", 11, "duplicate phrasing"),
        (GOOD_TOPIC.replace("[topic knee_pain_squat]", "[topc knee_pain_squat]"), 1, "bad section header"),
        ("say: orphan\n", 1, "before any"),
        (GOOD_TOPIC.replace("more: Longer text.\n", ""), 1, "needs at least 1 'more'"),
        (GOOD_TOPIC + GOOD_TOPIC.replace("say: ", "say: x "), 11, "defined twice"),
        ("just words\n", 1, "expected 'field: text'"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(KnowledgeBaseError) as caught:
        knowledge.load(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line
    assert message in str(caught.value)


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "kb.txt"
    path.write_bytes(GOOD_TOPIC.encode() + b"say: caf\xe9 knees\n")
    with pytest.raises(KnowledgeBaseError) as caught:
        knowledge.load(path)
    assert caught.value.line == 11


def test_single_topics_file_is_completed_with_shipped_commands(tmp_path: Path) -> None:
    kb = knowledge.load(write(tmp_path, GOOD_TOPIC))
    assert [t.id for t in kb.topics] == ["knee_pain_squat"]
    assert kb.command("stop") is not None


def test_check_reports_a_phrasing_that_routes_elsewhere(tmp_path: Path) -> None:
    shipped = (knowledge.default_path() / "topics.txt").read_text(encoding="utf-8")
    mislabelled = "say: knee pain on the leg press\nsay: i heard a pop in my knee today\n"
    broken = shipped.replace("say: knee pain on the leg press\n", mislabelled, 1)
    path = write(tmp_path, broken)
    found = problems(knowledge.load(path))
    assert len(found) == 1
    assert found[0].startswith(f"{path}:")
    assert "routes to 'knee_pain_red_flag', not 'knee_pain_squat'" in found[0]


def test_check_reports_missing_fixed_topics(tmp_path: Path) -> None:
    found = problems(knowledge.load(write(tmp_path, GOOD_TOPIC)))
    assert any("'knee_pain_red_flag' is missing" in p for p in found)


def test_vocabulary_covers_phrasings_and_language() -> None:
    words = knowledge.load().vocabulary()
    assert {"squats", "treadmill", "sissy", "shoulder", "swollen", "stop", "louder"} <= words
