"""The knee put back into the first words of a reading (`knee_readings`): which variants the model scores."""

from __future__ import annotations

from voicecoach.recognizer.knee_readings import after_wake, knee_variants, names_knee


def test_each_of_the_first_words_or_two_is_replaced_by_the_knee() -> None:
    variants = knee_variants("These feel bad after squatting.")
    assert "Knees feel bad after squatting." in variants
    assert "Knee feel bad after squatting." in variants
    assert "These knees bad after squatting." in variants
    assert "Knees bad after squatting." in variants  # two words heard for one ("in these" for "knees")
    assert not any("squatting" not in v for v in variants)  # never past the first three words
    assert len(variants) == len(set(variants)) == 3 * 2 * 2


def test_a_lead_in_is_kept_and_the_knee_looked_for_after_it() -> None:
    variants = knee_variants("Hey coach, my leak keeps sparkling.")
    assert "Hey coach, my knee keeps sparkling." in variants
    assert all(v.startswith("Hey coach, ") for v in variants)


def test_punctuation_and_capitals_follow_the_words_replaced() -> None:
    assert "Knee." in knee_variants("We need.")
    assert "we knees." in knee_variants("we need.")


def test_a_reading_that_names_the_knee_gets_none() -> None:
    assert knee_variants("My knee is locked.") == []
    assert knee_variants("Knees hurt.") == []
    assert knee_variants("") == []
    assert names_knee("my KNEES hurt") and names_knee("my kneecap hurts") and not names_knee("knead the dough")


def test_a_reading_after_the_wake_word_is_told_apart() -> None:
    # Behind "hey coach" the knee may lie further back (`AFTER_WAKE`).
    assert after_wake("Hey coach, my leak keeps sparkling.") and after_wake("coach these feel bad")
    assert not after_wake("These feel bad, coach.") and not after_wake("")
