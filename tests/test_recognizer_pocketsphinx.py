"""PocketSphinx, for real, on espeak-ng speech (the committed en-us WAVs in audio/) of questions that are not
knowledge-base phrasings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voicecoach.audio.chunks import read_wav, samples_to_chunks, wav_to_chunks
from voicecoach.recognizer import Recognizer, Transcript, transcribe_chunks
from voicecoach.text import knowledge
from voicecoach.text.domain import GARBAGE_SENTENCES, Domain, build_domain

pytest.importorskip("pocketsphinx", reason="pocketsphinx has no wheel for this platform (e.g. 32-bit Pi OS)")
from voicecoach.recognizer.pocketsphinx_engine import PocketSphinxRecognizer, read_dictionary

KNEE_WORDS = {"knee", "knees", "kneecap", "squat", "squats", "squatting", "lunges", "treadmill", "extension"}
HELD_OUT = [  # (speech, words the transcript must contain): none of these is a knowledge-base phrasing
    ("my knees are sore after running", {"knees", "sore", "running"}),
    ("why does my knee hurt on the leg press", {"knee", "leg", "press"}),
    ("how do i warm up my knees before squatting", {"warm", "knees", "squatting"}),
    ("my kneecap hurts after leg day", {"kneecap", "hurts"}),
    ("slow down", {"slow", "down"}),
]
OFF_TOPIC = ["what's the weather tomorrow", "my shoulder hurts when i bench"]
WAKE_PHRASES = [  # (speech, words the transcript must contain): what follows the wake word (the listen loop
    # finds the wake word itself; how often it does is a figure of benchmarks/bench_speech.py)
    ("hey coach, my knees hurt after squats", {"knees", "hurt", "squats"}),
    ("coach, start the warm up", {"start", "warm"}),
    ("coach, stop", {"stop"}),
]


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Domain:
    try:
        return build_domain(knowledge.load())
    except knowledge.KnowledgeBaseError:  # shipped intents/ not ready: a small stand-in
        folder = tmp_path_factory.mktemp("kb")
        (folder / "t.txt").write_text(
            "[topic knee_pain_squat]\ntitle: t\ncause: c\nfix: f\nmore: m\ncue: a\ncue: b\n"
            "say: my knees hurt after squats\nsay: knee pain on the leg press\nsay: how do i warm up my knees\n"
            "say: my kneecap hurts after running\nsay: sore knees on leg day before squatting\n"
            "[command slower]\nsay: slow down\n[language]\nelsewhere: shoulder\n"
        )
        return build_domain(knowledge.load(folder))


@pytest.fixture(scope="module")
def recognizer(domain: Domain) -> PocketSphinxRecognizer:
    return PocketSphinxRecognizer(domain)


def hear(recognizer: Recognizer, path: Path) -> str:
    recognizer.reset()
    return " ".join(t.text for t in transcribe_chunks(recognizer, wav_to_chunks(path, trailing_silence=0.5)))


def voiced(samples: np.ndarray) -> np.ndarray:
    """From the first loud sample to the last: the recording without its leading and trailing silence."""
    loud = np.nonzero(np.abs(samples) > 500)[0]
    return samples[loud[0] : loud[-1]]


def test_is_a_recognizer(recognizer: PocketSphinxRecognizer) -> None:
    assert isinstance(recognizer, Recognizer)
    assert recognizer.name == "pocketsphinx" and "voicecoach model download" in recognizer.description


@pytest.mark.parametrize(("speech", "key_words"), HELD_OUT)
def test_held_out_questions_keep_their_key_words(
    recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path], speech: str, key_words: set[str]
) -> None:
    heard = set(hear(recognizer, audio_fixture(speech)).split())
    assert len(key_words & heard) >= len(key_words) - 1, heard  # one slip allowed: the matcher is fuzzy


@pytest.mark.parametrize("speech", OFF_TOPIC)
def test_off_topic_speech_is_not_forced_into_knee_words(
    recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path], speech: str
) -> None:
    heard = hear(recognizer, audio_fixture(speech))
    assert not KNEE_WORDS & set(heard.split()), heard


def test_shoulder_decodes_as_shoulder(recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path]) -> None:
    assert "shoulder" in hear(recognizer, audio_fixture("my shoulder hurts when i bench")).split()


def test_final_transcript_has_timed_words_with_confidences(
    recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path]
) -> None:
    path = audio_fixture("my knees are sore after running")
    recognizer.reset()
    silence = np.zeros(16000, dtype="<i2")
    samples = np.concatenate([silence, read_wav(path), silence])
    results = transcribe_chunks(recognizer, samples_to_chunks(samples))
    assert len(results) == 1
    result: Transcript = results[0]
    assert result.is_final and result.engine == "pocketsphinx" and result.words
    assert result.start is not None and result.end is not None
    assert 0.8 <= result.start < result.end <= len(samples) / 16000 + 0.1  # times count from stream start
    assert all(w.confidence is not None and 0.0 <= w.confidence <= 1.0 for w in result.words)
    assert result.confidence is not None and 0.0 <= result.confidence <= 1.0


def test_partial_then_reset(recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path]) -> None:
    recognizer.reset()
    chunks = list(wav_to_chunks(audio_fixture("my kneecap hurts after leg day")))
    partials = []
    for chunk in chunks[: len(chunks) * 3 // 4]:
        assert recognizer.accept(chunk) is None  # no endpoint before the speech ends
        partials.append(recognizer.partial())
    assert any(partials) and recognizer.hearing()  # the lifter is talking: the listener holds its "Yes?"
    recognizer.reset()
    assert recognizer.partial() == "" and recognizer.finish() is None and not recognizer.hearing()


def test_silence_gives_nothing(recognizer: PocketSphinxRecognizer) -> None:
    recognizer.reset()
    assert transcribe_chunks(recognizer, samples_to_chunks(np.zeros(32000, dtype="<i2"))) == []


def test_a_silent_recording_gives_nothing(
    recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path]
) -> None:
    assert hear(recognizer, audio_fixture("silence_2s")) == ""


def test_commands_only_search(recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path]) -> None:
    recognizer.commands_only(True)
    try:
        heard = hear(recognizer, audio_fixture("slow down"))
        knee = hear(recognizer, audio_fixture("my knees are sore after running"))
    finally:
        recognizer.commands_only(False)
    assert "slow" in heard.split()
    assert not KNEE_WORDS & set(knee.split())  # the warm-up search has no knee words at all


def test_interrupt_search_hears_only_commands(
    recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path]
) -> None:
    recognizer.interrupt_only(True)
    try:
        stop = hear(recognizer, audio_fixture("coach_stop"))
        knee = hear(recognizer, audio_fixture("my knees are sore after running"))
    finally:
        recognizer.interrupt_only(False)
    assert "stop" in stop.split()
    assert not KNEE_WORDS & set(knee.split())
    assert hear(recognizer, audio_fixture("slow down"))  # the domain search is back


def test_garbage_sentences_are_all_in_the_dictionary() -> None:
    # Unknown words are dropped from the dictionary, and with them the whole sentence from the n-gram model.
    words = {w for sentence in GARBAGE_SENTENCES for w in sentence.split()}
    assert words <= set(read_dictionary(words))


def test_missing_words_are_reported() -> None:
    domain = Domain(
        phrases=("my knees hurt",),
        commands=("stop",),
        words=frozenset({"my", "knees", "hurt", "stop", "zzyzxq"}),
        garbage=frozenset({"weather"}),
    )
    recognizer = PocketSphinxRecognizer(domain)
    assert recognizer.missing_words == frozenset({"zzyzxq"})


def test_speech_that_never_pauses_is_cut_and_steady_noise_is_not_speech(
    recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path]
) -> None:
    """Talk with no pause is cut into utterances (a file that then ends mid-word must not crash finish());
    steady noise is learnt as the room's floor, so it ends the utterance it opened and opens no more."""
    import numpy as np

    from voicecoach.audio.chunks import read_wav, samples_to_chunks
    from voicecoach.recognizer.pocketsphinx_engine import MAX_UTTERANCE_SECONDS

    said = np.concatenate([voiced(read_wav(audio_fixture(speech))) for speech, _ in HELD_OUT])
    talk = np.tile(said, 12)[: 16_000 * 20]  # 20 s of speech, stopped mid-word
    recognizer.reset()
    results = transcribe_chunks(recognizer, samples_to_chunks(talk))
    assert len(results) >= 2
    assert all(r.end is not None and r.start is not None for r in results)
    assert all(r.end - r.start <= MAX_UTTERANCE_SECONDS + 1.0 for r in results if r.words)  # type: ignore[operator]
    assert all("[" not in r.text and "<" not in r.text for r in results)

    rng = np.random.default_rng(1)
    hiss = (rng.standard_normal(16_000 * 20) * 3000).astype("<i2")  # 20 s of steady noise
    recognizer.reset()
    results = transcribe_chunks(recognizer, samples_to_chunks(hiss))
    assert len(results) <= 1 and all(r.end - r.start < MAX_UTTERANCE_SECONDS for r in results)  # type: ignore[operator]


@pytest.mark.parametrize(("speech", "words"), WAKE_PHRASES)
def test_wake_word_phrases_keep_their_words(
    recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path], speech: str, words: set[str]
) -> None:
    assert words <= set(hear(recognizer, audio_fixture(speech)).split())


def test_an_off_domain_question_gets_no_knee_words(
    recognizer: PocketSphinxRecognizer, audio_fixture: Callable[[str], Path]
) -> None:
    heard = hear(recognizer, audio_fixture("what is the weather tomorrow"))
    assert heard and not KNEE_WORDS & set(heard.split()), heard
