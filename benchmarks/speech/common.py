"""What the parts of bench_speech share: paths, the spoken corpus, the engines, and the summary table."""

from __future__ import annotations

import ctypes.util
import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
"""The shared folder beside the checkout (datasets and tools that are not part of the repository)."""
GYM_NOISE = SHARED / "tools" / "gym_noise.py"
REPLY_GAPS = SHARED / "tools" / "reply_gaps.py"
CLINC = SHARED / "datasets" / "clinc150" / "data_full.json"
HELDOUT = REPO / "tests" / "data" / "heldout.tsv"
NOT_KNEE = REPO / "tests" / "data" / "not_knee.txt"
PARTS = ("accuracy", "noise", "ood", "wake", "latency", "idle")
PREFIX = "hey coach, "
TRAILING_SILENCE = 1.0
"""Seconds of silence after each file, as `voicecoach answer` adds (so the endpointer can close)."""
VOICES: tuple[tuple[str, str | None, int], ...] = (
    ("default 165wpm", None, 165),
    ("gmw/en-us 140wpm", "gmw/en-us", 140),
    ("default 200wpm", None, 200),
)
NA_VOSK = "n/a (no English Vosk model installed)"

NEEDS: dict[str, tuple[Path, ...]] = {
    "noise": (GYM_NOISE, CLINC),
    "ood": (CLINC,),
    "wake": (GYM_NOISE, CLINC),
    "latency": (REPLY_GAPS,),
    "idle": (GYM_NOISE, CLINC),
}
"""Shared files each part reads (the gym noise is made from CLINC150 queries)."""


def missing_parts(parts: list[str]) -> str | None:
    """One line naming what the chosen parts need and this machine lacks, or None."""
    files = sorted({path for part in parts for path in NEEDS.get(part, ()) if not path.is_file()})
    if files:
        where = ", ".join(str(path.relative_to(SHARED)) for path in files)
        return f"needs {where} in the shared folder beside the checkout ({SHARED})"
    if {"accuracy", "noise", "ood", "latency"} & set(parts) and ctypes.util.find_library("espeak-ng") is None:
        return "needs espeak-ng to speak the questions (apt-get install libespeak-ng1)"
    if {"latency", "idle"} & set(parts):
        sys.path.insert(0, str(REPO / "tests"))
        from conftest import _missing_audio_parts

        return _missing_audio_parts()
    return None


def load_tool(path: Path) -> ModuleType:
    """A shared tool as a module (gym_noise's `cmd_make`/`cmd_mix` in-process: no interpreter per file)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Speaker:
    """Renders text with pyttsx3 (one engine for the process) into WAVs under `folder`, cached by name."""

    def __init__(self, folder: Path) -> None:
        from voicecoach.voice import Pyttsx3Synthesizer

        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.synth = Pyttsx3Synthesizer()
        self.count = 0

    def speak(self, text: str, voice: tuple[str, str | None, int]) -> Path:
        from voicecoach.voice import VoiceSettings, render_to_wav

        _, voice_id, rate = voice
        safe = "".join(c if c.isalnum() else "_" for c in text)[:60]
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]  # not hash(): it changes per process, defeating the cache
        path = self.folder / f"{(voice_id or 'default').replace('/', '_')}-{rate}-{safe}-{digest}.wav"
        if not path.exists():
            render_to_wav(text, path, VoiceSettings(voice=voice_id, rate=rate), synthesizer=self.synth)
            self.count += 1
        return path


def heldout_knee(topics: set[str]) -> list[tuple[str, str]]:
    rows = []
    for line in HELDOUT.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        intent, text = line.split("\t", 1)
        if intent in topics:
            rows.append((text.strip(), intent))
    return rows


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part}/{whole})" if whole else "n/a"


class Summary:
    def __init__(self) -> None:
        self.rows: list[tuple[str, dict[str, str]]] = []

    def add(self, metric: str, engine: str, value: str) -> None:
        for name, values in self.rows:
            if name == metric:
                values[engine] = value
                return
        self.rows.append((metric, {engine: value}))

    def print(self, engines: list[str]) -> None:
        # The room parts may run an engine the file parts did not (--room-engine): it gets its column too.
        engines = list(dict.fromkeys([*engines, *(engine for _, values in self.rows for engine in values)]))
        width = max([len(name) for name, _ in self.rows] + [10])
        cols = {e: max([len(e)] + [len(v.get(e, "")) for _, v in self.rows]) for e in engines}
        print(f"{'metric':<{width}}  " + "  ".join(f"{e:<{cols[e]}}" for e in engines))
        print("-" * (width + 2 + sum(cols.values()) + 2 * len(engines)))
        for name, values in self.rows:
            print(f"{name:<{width}}  " + "  ".join(f"{values.get(e, ''):<{cols[e]}}" for e in engines))


def header(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


@dataclass(frozen=True)
class Engine:
    name: str
    model: str | None = None
    unavailable: str | None = None


def find_engines(model: str | None) -> list[Engine]:
    from voicecoach.recognizer.models import find_model

    path, _why = find_model(model)
    vosk = Engine("vosk", str(path)) if path is not None else Engine("vosk", unavailable=NA_VOSK)
    return [Engine("pocketsphinx"), vosk]


def usable(engines: list[Engine], summary: Summary, metric: str) -> Iterator[Engine]:
    """The engines that ran; each one that could not is named with its reason and gets "n/a" for `metric`."""
    for engine in engines:
        if engine.unavailable:
            print(f"{engine.name}: {engine.unavailable}")
            summary.add(metric, engine.name, "n/a")
            continue
        yield engine
