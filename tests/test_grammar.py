"""The domain generated from a knowledge base: pure text, no engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecoach.recognizer.language_model import command_grammar, lm_corpus, vosk_grammar
from voicecoach.text import domain as grammar
from voicecoach.text import knowledge
from voicecoach.text.normalize import words_of

TOPICS = """
[topic knee_pain_squat]
title: Knee pain from squats
cause: Knees cave in.
fix: Push them out.
more: Longer text.
cue: Knees over toes
cue: Push the floor apart
say: my knees hurt after squats
say: my knee hurts when i squat
say: my knees click on lunges
"""
COMMANDS = "[command stop]\nsay: stop\nsay: never mind\nreply: Stopped.\n"
LANGUAGE = "[language]\nheard: squads -> squats\nelsewhere: shoulder\nelsewhere: lower back\n"


def small_kb(folder: Path, *, commands: bool = True) -> knowledge.KnowledgeBase:
    (folder / "topics.txt").write_text(TOPICS)
    (folder / "language.txt").write_text(LANGUAGE)
    if commands:
        (folder / "commands.txt").write_text(COMMANDS)
    return knowledge.load(folder)


@pytest.fixture
def domain(tmp_path: Path) -> grammar.Domain:
    return grammar.build_domain(small_kb(tmp_path))


def test_words_a_coach_adds_join_the_domain(domain: grammar.Domain) -> None:
    assert {"click", "lunges", "knees", "squats"} <= domain.words
    assert "my knees click on lunges" in domain.phrases


def test_commands_come_from_the_kb_and_the_command_enum(tmp_path: Path) -> None:
    domain = grammar.build_domain(small_kb(tmp_path))
    assert "never mind" in domain.commands
    assert "pause" in domain.commands and "start warmup" in domain.commands
    assert "never mind" not in domain.phrases


def test_elsewhere_body_parts_are_words_and_garbage(domain: grammar.Domain) -> None:
    assert {"shoulder", "lower", "back"} <= domain.words
    assert {"shoulder", "back"} <= domain.garbage
    assert "weather" in domain.garbage and "knees" not in domain.garbage


def test_every_garbage_sentence_word_is_in_the_domain(domain: grammar.Domain) -> None:
    # A sentence with a word outside the dictionary is dropped from the model without a word.
    assert len(grammar.GARBAGE_SENTENCES) > 100
    assert {"i need to call my brother", "please tell my wife i will be late"} <= set(grammar.GARBAGE_SENTENCES)
    for sentence in grammar.GARBAGE_SENTENCES:
        assert set(sentence.split()) <= domain.all_words, sentence
    assert {"passport", "umbrella"} <= domain.garbage and not {"passport", "umbrella"} & grammar.GARBAGE


def test_slot_alternatives_join_only_when_the_slot_is_used(domain: grammar.Domain) -> None:
    assert {"aches", "sore", "running"} <= domain.words


def test_variants_swap_slots_and_drop_optional_words() -> None:
    out = list(grammar.variants("my knees hurt after squats"))
    assert out[0] == "my knees hurt after squats"
    assert "my knees ache after squats" in out
    assert "my knees hurt after lunges" in out
    assert "knees hurt after squats" in out


def test_generated_phrasings_are_unique_and_capped(domain: grammar.Domain) -> None:
    many = list(domain.sentences)
    assert len(many) == len(set(many)) > 50
    assert "hey coach my knees hurt after squats" in many
    assert len(grammar.generated_phrasings((*domain.phrases, *domain.commands), limit=10)) == 10


def test_lm_corpus_has_domain_garbage_and_every_word(domain: grammar.Domain) -> None:
    lines = set(lm_corpus(domain).splitlines())
    assert "my knees hurt after squats" in lines
    assert set(grammar.GARBAGE_SENTENCES) <= lines
    assert domain.all_words <= lines


def test_vosk_grammar_keeps_only_known_words_and_ends_with_unk(domain: grammar.Domain) -> None:
    full = vosk_grammar(domain)
    assert full[-1] == "[unk]" and "my knees hurt after squats" in full and "weather" in full
    known = frozenset({"my", "knees", "hurt", "after", "squats", "stop"})
    small = vosk_grammar(domain, known=known, unk=False)
    assert "my knees hurt after squats" in small and "stop" in small
    assert all(set(entry.split()) <= known for entry in small)
    assert vosk_grammar(domain, known=frozenset()) == []  # nothing known: no grammar, no lone [unk]


def test_command_grammar(domain: grammar.Domain) -> None:
    assert command_grammar(domain)[-1] == "[unk]"
    assert command_grammar(domain, known=frozenset({"stop"}), unk=False) == ["stop"]


def test_words_of_normalises() -> None:
    assert words_of("My knee’s SORE, after 3 squats!") == ["my", "knee's", "sore", "after", "squats"]


def test_shipped_knowledge_base_builds_a_domain() -> None:
    domain = grammar.build_domain(knowledge.load())
    assert {"knee", "knees", "squats", "stop"} <= domain.words
