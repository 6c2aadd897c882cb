from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voicecoach.text.normalize import MAX_CHARS, Normalizer, clean, stem


def test_recogniser_and_keyboard_forms_meet() -> None:
    n = Normalizer([("squads", "squats"), ("tread mill", "treadmill")])
    assert n.tokens("My KNEES hurt after SQUATS!!") == n.tokens("[unk] my knees hurt <unk> after squads")
    assert n.tokens("tread mill") == ("treadmill",)
    assert n.tokens("squatting") == n.tokens("squats") == ("squat",)


def test_numbers_contractions_and_suffixes() -> None:
    assert clean("4 sets, 10 reps") == "four sets ten reps"
    assert clean("I can't, it isn't, won't") == "i can not it is not will not"
    assert stem("running") == "run" and stem("swelling") == "swell" and stem("press") == "press"


def test_a_silent_e_is_dropped_only_where_no_other_word_is_left() -> None:
    assert stem("caving") == stem("cave") and stem("aching") == stem("ache")
    assert stem("quite") != stem("quit") and stem("note") != stem("not")


def test_control_characters_and_huge_input() -> None:
    assert clean("knee\x00\x1b[31m pain\x07") == "knee 31m pain"
    assert len(clean("knee " * 50_000)) <= MAX_CHARS


@given(st.text())
def test_any_text_normalises_to_plain_words(text: str) -> None:
    words = Normalizer([("squads", "squats")]).words(text)
    assert len(words) <= MAX_CHARS
    assert all(w.isalnum() and w.isascii() for w in words.split())
