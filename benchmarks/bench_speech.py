"""Spoken-question benchmark of the whole speech-in pipeline: accuracy, noise, off-domain, wake, latency, idle CPU.

Usage:
    python benchmarks/bench_speech.py [--part accuracy,noise,ood,wake,latency,idle] [--quick] [--jobs 2]
                                      [--workdir DIR] [--model VOSK_DIR] [--verbose]

Parts (each prints its figures; a summary table and the command line come last):
  accuracy  held-out knee questions (tests/data/heldout.tsv, knee topics only) spoken by pyttsx3 in 3 voices,
            through the `voicecoach answer` path (WAV -> recogniser -> Dialogue): % with the right topic;
            again prefixed "hey coach, " through the same path, and through the listening loop in wake-word
            mode (a `Listener` with a simulated half-duplex voice and a clock driven by chunk timestamps).
  noise     the same with gym noise (shared tools/gym_noise.py) mixed in at 10 dB SNR: plain questions through
            the answer path (mix, then 1 s of silence as `answer` pads), "hey coach, ..." through the listen loop
            with the noise going on 0.5 s before and 2.5 s after the question (a gym does not fall silent).
  ood       ~150 CLINC150 test/oos_test queries (seeded sample) + tests/data/not_knee.txt, spoken: % that got
            a knee topic (Reply.topic set, which includes "did you mean ..." clarifications); target <= 1%.
  wake      gym noise through a Listener (wake word / always-on), clock driven by chunk timestamps: false turns
            per hour. Gated noise (8 s on, 2 s off; 10 min wake word, 5 min always-on) lets utterances end;
            2 min of continuous noise shows that none ever ends (and how the open utterance grows memory).
  latency   `voicecoach listen --json` in a private PulseAudio room; "hey coach, ..." questions played with
            paplay; the room recording goes through shared tools/reply_gaps.py: end of question to first reply
            sound, minus the endpointer's closing silence (voicecoach.recognizer.endpoint) ("beyond endpoint").
  idle      `voicecoach listen` in the room, 30 s of silence then 30 s of gym noise: CPU % of one core
            (/proc/PID/stat utime+stime) and peak memory (VmHWM) of the listen process.

Offline parts decode in `--jobs` worker processes (one recogniser each); room parts run alone afterwards so
their timing and CPU figures are not disturbed. Engines: PocketSphinx always; Vosk only when an English
model is installed (else "n/a"). The room parts run whatever `voicecoach listen` picks (the default engine).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import multiprocessing
import os
import random
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared")
GYM_NOISE = SHARED / "tools" / "gym_noise.py"
REPLY_GAPS = SHARED / "tools" / "reply_gaps.py"
CLINC = SHARED / "datasets" / "clinc150" / "data_full.json"
HELDOUT = REPO / "tests" / "data" / "heldout.tsv"
NOT_KNEE = REPO / "tests" / "data" / "not_knee.txt"
PARTS = ("accuracy", "noise", "ood", "wake", "latency", "idle")
PREFIX = "hey coach, "
SNR_DB = 10.0
TRAILING_SILENCE = 1.0
NOISE_BEFORE, NOISE_AFTER = 0.5, 2.5
"""Seconds of gym noise around a question for the listen loop in noise (the gym does not go quiet to help)."""
"""Seconds of silence after each file, as `voicecoach answer` adds (so the endpointer can close)."""
VOICES: tuple[tuple[str, str | None, int], ...] = (
    ("default 165wpm", None, 165),
    ("gmw/en-us 140wpm", "gmw/en-us", 140),
    ("default 200wpm", None, 200),
)
NA_VOSK = "n/a (no English Vosk model installed)"


# -- jobs run in worker processes ------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    engine: str
    model: str | None
    mode: str
    """"answer" (the `voicecoach answer` path) or "wake"/"always" (the listening loop, simulated)."""
    path: str
    group: str
    """Which figure this job counts towards, e.g. "accuracy/plain"."""
    text: str = ""
    expected: str | None = None
    voice: str = ""
    tail: str = "silence"
    """"silence": 1 s of silence after the audio, then the recogniser's finish() (as `voicecoach answer` and the
    end of a WAV); "noise": the audio ends in ongoing noise, so no finish() (a live stream never ends)."""


@dataclass
class Result:
    job: Job
    heard: str = ""
    topic: str | None = None
    intent: str = ""
    utterances: int = 0
    turns: list[dict[str, Any]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    longest_utterance: float = 0.0
    finish_errors: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    """Every final transcript the listen loop got (answer path: see `heard`)."""
    seconds: float = 0.0
    decode_seconds: float = 0.0
    rss_growth_mb: float = 0.0
    """Worker memory growth (VmRSS) over the job: an utterance that never ends keeps growing the decoder."""


class FakeClock:
    """The Listener's clock, driven by the timestamps of the chunks it is fed (faster than real time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wait(self, deadline: float, interrupt: threading.Event) -> bool:
        self.now = max(self.now, deadline)
        return interrupt.is_set()


class SimulatedVoice:
    """A `Voice` that records what it would say and is "speaking" for as long as saying it would take.

    Speaking time is estimated from the word count at the voice's rate (+0.3 s), and advanced by `tick`
    from the fake clock, so the Listener goes deaf exactly as with a real speaker (no sound is made).
    """

    def __init__(self, clock: FakeClock) -> None:
        from voicecoach.voice import VoiceSettings

        self.settings = VoiceSettings()
        self.said: list[str] = []
        self._clock = clock
        self._until: float | None = None
        self._listeners: list[Callable[[bool], None]] = []

    def say(self, text: str, *, wait: bool = True) -> bool:
        self.said.append(text)
        seconds = len(text.split()) / self.settings.rate * 60 + 0.3
        was_speaking = self._until is not None
        self._until = self._clock.now + seconds
        if not was_speaking:
            for listener in self._listeners:
                listener(True)
        return False

    def play(self, clip: Any, *, wait: bool = True) -> bool:
        return self.say(clip.text, wait=wait)

    def stop(self) -> None:
        self._finish()

    @property
    def speaking(self) -> bool:
        return self._until is not None

    def add_listener(self, listener: Callable[[bool], None]) -> None:
        self._listeners.append(listener)

    def handle(self, command: Any) -> bool:
        return False  # louder/slower would not change what the loop hears

    def prepare(self, texts: Iterable[str]) -> None:
        pass

    def ready(self, timeout: float = 4.0) -> bool:
        return True

    def close(self) -> None:
        pass

    def tick(self, now: float) -> None:
        if self._until is not None and now >= self._until:
            self._finish()

    def _finish(self) -> None:
        if self._until is not None:
            self._until = None
            for listener in self._listeners:
                listener(False)


class CountingRecognizer:
    """Wraps a recogniser: counts final transcripts (utterances) and the longest one."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.description: str = inner.description
        self.missing_words: frozenset[str] = inner.missing_words
        self.utterances = 0
        self.longest = 0.0
        self.finish_errors: list[str] = []
        self.texts: list[str] = []

    def _count(self, transcript: Any) -> Any:
        if transcript is not None:
            self.utterances += 1
            self.texts.append(transcript.text)
            if transcript.start is not None and transcript.end is not None:
                self.longest = max(self.longest, transcript.end - transcript.start)
        return transcript

    def accept(self, chunk: Any) -> Any:
        return self._count(self.inner.accept(chunk))

    def partial(self) -> str:
        return str(self.inner.partial())

    def finish(self) -> Any:
        try:
            return self._count(self.inner.finish())
        except IndexError as err:  # an engine that fails to flush a stream ending mid-speech is counted, not fatal
            self.finish_errors.append(f"{type(err).__name__}: {err}")
            self.inner.reset()
            return None

    def reset(self) -> None:
        self.inner.reset()

    def commands_only(self, enabled: bool) -> None:
        self.inner.commands_only(enabled)


_RECOGNIZERS: dict[str, Any] = {}
_KB: list[Any] = []


def _kb() -> Any:
    if not _KB:
        from voicecoach.text import knowledge

        _KB.append(knowledge.load())
    return _KB[0]


def _recognizer(engine: str, model: str | None) -> Any:
    """One recogniser per engine per worker process (loaded once, `reset()` between files)."""
    if engine not in _RECOGNIZERS:
        from voicecoach.recognizer import build_domain, open_recognizer

        if engine == "pocketsphinx":
            from voicecoach.recognizer.pocketsphinx_engine import PocketSphinxRecognizer

            _RECOGNIZERS[engine] = PocketSphinxRecognizer(build_domain(_kb()))
        else:
            _RECOGNIZERS[engine] = open_recognizer(_kb(), model)
    return _RECOGNIZERS[engine]


def run_job(job: Job) -> Result:
    from voicecoach.audio.chunks import wav_to_chunks

    recognizer = _recognizer(job.engine, job.model)
    recognizer.reset()
    started = time.perf_counter()
    result = Result(job)
    rss_before = _rss_mb()
    if job.mode == "answer":
        from voicecoach.recognizer.base import heard_and_sure, transcribe_chunks
        from voicecoach.text.dialogue import Dialogue

        chunks = list(wav_to_chunks(job.path, trailing_silence=TRAILING_SILENCE))
        transcripts = transcribe_chunks(recognizer, chunks)
        result.heard, sure = heard_and_sure(transcripts)
        reply = Dialogue(_kb(), confirm_unnamed=True).turn(result.heard, sure=sure)  # as `voicecoach answer`
        result.topic, result.intent, result.utterances = reply.topic, reply.intent, len(transcripts)
        result.seconds = len(chunks) * chunks[0].seconds if chunks else 0.0
    else:
        silence = TRAILING_SILENCE if job.tail == "silence" else 0.0
        simulate_listener(result, recognizer, wav_to_chunks(job.path, trailing_silence=silence))
    result.decode_seconds = time.perf_counter() - started
    result.rss_growth_mb = _rss_mb() - rss_before
    recognizer.reset()  # drop an utterance still open (noise that never ended) before the next job
    return result


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def simulate_listener(result: Result, recognizer: Any, chunks: Iterable[Any]) -> None:
    """Feed chunks to a real `Listener` (fresh Dialogue) with a simulated voice and a chunk-driven clock."""
    from voicecoach.app.listener import Activation, Listener, ListenSettings, Turn
    from voicecoach.text.dialogue import Dialogue

    clock = FakeClock()
    voice = SimulatedVoice(clock)
    counting = CountingRecognizer(recognizer)
    turns: list[Turn] = []
    settings = ListenSettings(activation=Activation(result.job.mode))
    listener = Listener(
        counting, Dialogue(_kb(), confirm_unnamed=True), voice, settings, on_turn=turns.append, clock=clock
    )

    def timed() -> Iterator[Any]:
        for chunk in chunks:
            clock.now = chunk.timestamp
            voice.tick(clock.now)
            yield chunk
            clock.now = chunk.end
        result.seconds = clock.now

    if result.job.tail == "silence":
        listener.run(timed())  # the loop's own run(): chunks, then the recogniser's finish()
    else:
        for chunk in timed():  # a live stream in ongoing noise: no end of stream to flush the last utterance
            listener.process(chunk)
    result.turns = [
        {"heard": t.heard, "topic": t.reply.topic, "intent": t.reply.intent, "start": t.start} for t in turns
    ]
    result.said = voice.said
    result.utterances = counting.utterances
    result.longest_utterance = counting.longest
    result.finish_errors = counting.finish_errors
    result.texts = counting.texts
    first = next((t for t in turns if t.reply.intent not in ("stop", "pause")), None)
    if first is not None:
        result.heard, result.topic, result.intent = first.heard, first.reply.topic, first.reply.intent


# -- preparing audio -------------------------------------------------------------------------------


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


def ood_texts(count: int, seed: int) -> list[tuple[str, str]]:
    """(text, source): a seeded sample of CLINC150 test + oos_test, then every line of not_knee.txt."""
    data = json.loads(CLINC.read_text())
    pool = [(q, f"clinc:{label}") for q, label in data["test"] + data["oos_test"]]
    sample = random.Random(seed).sample(pool, count)
    own = [
        (line.strip(), "not_knee")
        for line in NOT_KNEE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return sample + own


# -- reporting helpers -----------------------------------------------------------------------------


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
        width = max([len(name) for name, _ in self.rows] + [10])
        cols = {e: max([len(e)] + [len(v.get(e, "")) for _, v in self.rows]) for e in engines}
        print(f"{'metric':<{width}}  " + "  ".join(f"{e:<{cols[e]}}" for e in engines))
        print("-" * (width + 2 + sum(cols.values()) + 2 * len(engines)))
        for name, values in self.rows:
            print(f"{name:<{width}}  " + "  ".join(f"{values.get(e, ''):<{cols[e]}}" for e in engines))


def header(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


# -- offline parts ---------------------------------------------------------------------------------


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


def mix_noise(gym: ModuleType, speech: Path, noise: Path, offset: float, *, pad: bool) -> Path:
    """`gym_noise.py mix` at SNR_DB; with `pad`, the noise also runs NOISE_BEFORE s before and NOISE_AFTER s after."""
    from voicecoach.audio.chunks import read_wav, write_wav

    name = f"{speech.stem}-snr{SNR_DB:g}{'-padded' if pad else ''}.wav"
    mixed = speech.with_name(name)
    if mixed.exists():
        return mixed
    source = speech
    if pad:  # gym_noise measures speech loudness over its loud samples only, so padding keeps the SNR
        samples = read_wav(speech)
        source = speech.with_name(f"{speech.stem}-padded.wav")
        before, after = np.zeros(int(NOISE_BEFORE * 16_000), "<i2"), np.zeros(int(NOISE_AFTER * 16_000), "<i2")
        write_wav(source, np.concatenate([before, samples, after]))
    gym.cmd_mix(argparse.Namespace(speech=str(source), noise=str(noise), out=str(mixed), snr=SNR_DB, offset=offset))
    return mixed


MIX_NOISE_SECONDS = 60.0
CONTINUOUS_SECONDS = 120.0
ALWAYS_GATED_SECONDS = 300.0
"""Always-on hears far more turns than wake-word mode, so 5 minutes of gated noise measure it well enough."""


def noise_excerpt(noise: Path, seconds: float) -> Path:
    """The first `seconds` of the gym noise as its own WAV (mixing offsets stay inside it)."""
    from voicecoach.audio.chunks import read_wav, write_wav

    excerpt = noise.with_name(f"{noise.stem}-first{seconds:g}s.wav")
    if not excerpt.exists():
        write_wav(excerpt, read_wav(noise)[: int(seconds * 16_000)])
    return excerpt


def accuracy_jobs(
    engines: list[Engine],
    speaker: Speaker,
    questions: list[tuple[str, str]],
    voices: list[tuple[str, str | None, int]],
    *,
    noise: Path | None,
    group: str,
    seed: int,
) -> list[Job]:
    """Plain and "hey coach, " questions through the answer path; the prefixed ones also through the listen loop.

    With noise, the answer path gets the mix followed by 1 s of silence (as `voicecoach answer` pads), while the
    listen loop gets noise that goes on before and after the question, as on a gym floor (no silence to end on).
    """
    gym = load_tool(GYM_NOISE) if noise is not None else None
    if noise is not None:
        noise = noise_excerpt(noise, MIX_NOISE_SECONDS)  # `mix` reads the whole noise file for every question
    rng = random.Random(seed)
    jobs = []
    for voice in voices:
        for text, expected in questions:
            for prefixed in (False, True):
                spoken = PREFIX + text if prefixed else text
                clean = speaker.speak(spoken, voice)
                offset = rng.uniform(0, MIX_NOISE_SECONDS)
                runs = [("answer", "plain-answer" if not prefixed else "prefixed-answer")]
                if prefixed:
                    # In noise only the listen loop hears "hey coach, ...": the prefixed answer path adds little
                    # there and would push the default run past 10 minutes.
                    runs = [("wake", "prefixed-wake")] if noise is not None else [*runs, ("wake", "prefixed-wake")]
                for mode, kind in runs:
                    path, tail = clean, "silence"
                    if gym is not None and noise is not None:
                        path = mix_noise(gym, clean, noise, offset, pad=mode == "wake")
                        tail = "noise" if mode == "wake" else "silence"
                    for engine in engines:
                        job = Job(engine.name, engine.model, mode, str(path), f"{group}/{kind}", spoken, expected)
                        jobs.append(replace(job, voice=voice[0], tail=tail))
    return jobs


def report_accuracy(
    title: str, group: str, results: list[Result], engines: list[Engine], summary: Summary, verbose: bool
) -> None:
    header(title)
    for engine in engines:
        if engine.unavailable:
            print(f"{engine.name}: {engine.unavailable}")
            summary.add(f"{group}: plain (answer path)", engine.name, "n/a")
            continue
        mine = [r for r in results if r.job.engine == engine.name and r.job.group.startswith(group + "/")]
        for kind, label in (
            ("plain-answer", "plain (answer path)"),
            ("prefixed-answer", '"hey coach, ..." (answer path)'),
            (
                "prefixed-wake",
                '"hey coach, ..." (listen loop, wake)' + (", noise goes on" if group == "noise" else ""),
            ),
        ):
            rows = [r for r in mine if r.job.group == f"{group}/{kind}"]
            if not rows:
                continue
            right = sum(r.topic == r.job.expected for r in rows)
            by_voice = Counter(r.job.voice for r in rows if r.topic == r.job.expected)
            totals = Counter(r.job.voice for r in rows)
            per_voice = ", ".join(f"{v} {pct(by_voice[v], n)}" for v, n in totals.items())
            print(f"{engine.name}: {label}: {pct(right, len(rows))} right topic  [{per_voice}]")
            summary.add(f"{group}: {label}", engine.name, f"{100 * right / max(1, len(rows)):.1f}%")
            if kind == "prefixed-wake":
                lost = sum(not r.turns for r in rows)
                split = sum(r.utterances > 1 for r in rows)
                yes = sum("Yes?" in r.said for r in rows)
                print(
                    f"  listen loop: no turn at all (wake word lost or dropped) {pct(lost, len(rows))}; "
                    f"split into >1 utterance {pct(split, len(rows))}; "
                    f'coach said "Yes?" mid-question {pct(yes, len(rows))}'
                )
                summary.add(f"{group}: wake lost (no turn)", engine.name, f"{100 * lost / max(1, len(rows)):.1f}%")
            if kind == "plain-answer":
                split = sum(r.utterances > 1 for r in rows)
                empty = sum(not r.heard for r in rows)
                print(f"  split into >1 utterance {pct(split, len(rows))}; nothing heard {pct(empty, len(rows))}")
            wrong = [r for r in rows if r.topic != r.job.expected]
            for r in wrong[: (len(wrong) if verbose else 4)]:
                heard = r.heard if r.job.mode == "answer" or r.turns else " | ".join(r.texts) or "(no utterance ended)"
                print(f"    {r.job.voice}: {r.job.text!r} -> heard {heard!r} -> {r.topic or r.intent or 'no turn'}")


def ood_jobs(engines: list[Engine], speaker: Speaker, texts: list[tuple[str, str]]) -> list[Job]:
    jobs = []
    clinc_index = 0
    for text, source in texts:
        if source == "not_knee":
            voices = list(VOICES)
        else:
            voices = [VOICES[clinc_index % len(VOICES)]]
            clinc_index += 1
        for voice in voices:
            for prefixed in (False, True):
                spoken = PREFIX + text if prefixed else text
                path = speaker.speak(spoken, voice)
                for engine in engines:
                    mode, kind = ("wake", "prefixed-wake") if prefixed else ("answer", "plain-answer")
                    jobs.append(
                        Job(engine.name, engine.model, mode, str(path), f"ood/{kind}", spoken, source, voice[0])
                    )
    return jobs


def report_ood(results: list[Result], engines: list[Engine], summary: Summary, verbose: bool) -> None:
    header("3. knee advice given to spoken out-of-domain questions (target <= 1%)")
    for engine in engines:
        if engine.unavailable:
            print(f"{engine.name}: {engine.unavailable}")
            summary.add("ood: knee advice (answer path)", engine.name, "n/a")
            continue
        for kind, label in (("plain-answer", "answer path"), ("prefixed-wake", '"hey coach, ..." listen loop')):
            rows = [r for r in results if r.job.engine == engine.name and r.job.group == f"ood/{kind}"]
            knee = [r for r in rows if r.topic is not None]
            clinc = [r for r in rows if r.job.expected != "not_knee"]
            own = [r for r in rows if r.job.expected == "not_knee"]
            print(
                f"{engine.name}: {label}: knee topic given to {pct(len(knee), len(rows))}  "
                f"[CLINC150 {pct(sum(r.topic is not None for r in clinc), len(clinc))}, "
                f"not_knee.txt x3 voices {pct(sum(r.topic is not None for r in own), len(own))}]"
            )
            clarify = sum(r.intent == "clarify" for r in knee)
            print(f'  of which {len(knee) - clarify} straight knee advice, {clarify} "did you mean ..." knee questions')
            advice = len(knee) - clarify
            summary.add(f"ood: knee advice ({label})", engine.name, f"{100 * advice / max(1, len(rows)):.1f}%")
            summary.add(f"ood: knee question asked ({label})", engine.name, f"{100 * clarify / max(1, len(rows)):.1f}%")
            for r in knee[: (len(knee) if verbose else 8)]:
                print(f"    {r.job.voice}: {r.job.text!r} -> heard {r.heard!r} -> {r.intent} ({r.topic})")


GATE_ON, GATE_OFF = 8.0, 2.0
"""Gated noise: GATE_ON s of gym noise, GATE_OFF s of silence (music stops, lifters pause), repeated."""


def gate_noise(noise: Path, workdir: Path) -> Path:
    """The gym noise with regular pauses, so the endpointer can close utterances (continuous babble never ends)."""
    from voicecoach.audio.chunks import read_wav, write_wav

    gated = workdir / f"{noise.stem}-gated.wav"
    if not gated.exists():
        samples = read_wav(noise)
        t = np.arange(len(samples)) / 16_000
        write_wav(gated, np.where(t % (GATE_ON + GATE_OFF) < GATE_ON, samples, 0).astype("<i2"))
    return gated


def report_wake(results: list[Result], engines: list[Engine], summary: Summary) -> None:
    header("4. false wakes in gym noise (Listener, simulated voice, chunk-driven clock)")
    for engine in engines:
        if engine.unavailable:
            print(f"{engine.name}: {engine.unavailable}")
            summary.add("wake: false turns/h (wake word)", engine.name, "n/a")
            continue
        for mode in ("wake", "always", "wake-gated", "always-gated"):
            r = next((r for r in results if r.job.engine == engine.name and r.job.group == f"wake/{mode}"), None)
            if r is None:
                continue
            if mode.endswith("gated"):
                print(f"  (gated: {GATE_ON:g} s noise / {GATE_OFF:g} s silence, so utterances can end)")
            hours = r.seconds / 3600
            yes = r.said.count("Yes?")
            print(
                f'{engine.name}: {mode}: {len(r.turns)} turns + {yes} bare-wake "Yes?" '
                f"in {r.seconds / 60:.1f} min of noise "
                f"= {len(r.turns) / hours:.1f} turns/h, {(len(r.turns) + yes) / hours:.1f} times the coach spoke/h; "
                f"{r.utterances} utterances, longest {r.longest_utterance:.1f} s; decoded in {r.decode_seconds:.0f} s, "
                f"worker memory +{r.rss_growth_mb:.0f} MB"
            )
            if r.finish_errors:
                print(
                    f"    recogniser finish() at the end of the noise raised {r.finish_errors[0]} "
                    "(stream ended mid-speech)"
                )
            for turn in r.turns[:6]:
                print(
                    f"    at {turn['start'] or 0:.0f} s heard {turn['heard']!r} -> {turn['intent']} ({turn['topic']})"
                )
            label = ("wake word" if mode.startswith("wake") else "always-on") + (", gated" if "gated" in mode else "")
            summary.add(f"wake: false turns/h ({label})", engine.name, f"{len(r.turns) / hours:.1f}")
            if mode.startswith("wake"):
                summary.add(
                    f'wake: coach spoke/h incl. "Yes?" ({label})', engine.name, f"{(len(r.turns) + yes) / hours:.1f}"
                )


# -- room parts ------------------------------------------------------------------------------------


def _tests_module(name: str) -> ModuleType:
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module(name)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid: int, key: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return "?"


def megabytes(value: str) -> str:
    """ "87548 kB" -> "85.5 MB"."""
    number, _, unit = value.partition(" ")
    return f"{int(number) / 1024:.1f} MB" if unit == "kB" and number.isdigit() else value


@contextlib.contextmanager
def pulse_room() -> Iterator[dict[str, str]]:
    """The tests' private PulseAudio room; yields the full environment for subprocesses."""
    with _tests_module("conftest").pulse_room_running() as env:
        yield {**os.environ, **env}


def wait_quiet(recorder: Any, mark: int, *, quiet: float = 1.5, timeout: float = 30.0) -> None:
    """Until the room has been silent for `quiet` seconds (the reply ended), or `timeout`."""
    conftest = _tests_module("conftest")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        room = recorder.since(mark)
        seconds = len(room) / 16_000
        spans = conftest.sound_spans(room)
        if seconds > quiet and (not spans or seconds - spans[-1][1] >= quiet):
            return
        time.sleep(0.25)


def run_latency(
    speaker: Speaker, questions: list[tuple[str, str]], workdir: Path, summary: Summary, engine: str
) -> None:
    header("5. end of question to first reply sound (voicecoach listen --json in a PulseAudio room)")
    conftest = _tests_module("conftest")
    e2e = _tests_module("test_end_to_end")
    from voicecoach.audio.chunks import write_wav

    files = [speaker.speak(PREFIX + text, VOICES[0]) for text, _ in questions]
    turns: list[dict[str, Any] | None] = []
    barge_ins: list[dict[str, Any]] = []
    stray: list[dict[str, Any]] = []
    """Turns after a question's own turn: the coach answering itself or a question split in two."""
    with pulse_room() as env:
        recorder = conftest.RoomRecorder()
        recorder.wait_until_live()
        process = e2e.ListenProcess(env)
        try:
            process.wait_listening()
            time.sleep(5.0)  # PulseAudio capture starts ~2 s after the stream opens
            start = recorder.position()
            for path in files:
                mark = recorder.position()
                e2e.play_into_room(path, env)
                turn = process.next_turn(timeout=20)
                while turn is not None and turn.get("start") is None:  # a barge-in ("stop" heard mid-reply)
                    barge_ins.append(turn)
                    turn = process.next_turn(timeout=20)
                turns.append(turn)
                wait_quiet(recorder, mark)
                while (extra := process.next_turn(timeout=0.5)) is not None:
                    (barge_ins if extra.get("start") is None else stray).append(extra)
            time.sleep(1.0)
            room = recorder.since(start)
        finally:
            code = process.stop()
            recorder.close()
    room_path = workdir / "room-latency.wav"
    write_wav(room_path, room)
    done = subprocess.run(
        [sys.executable, str(REPLY_GAPS), str(room_path), *map(str, files)], capture_output=True, text=True, timeout=120
    )
    gaps: list[int | None] = json.loads(done.stdout.strip().splitlines()[-1])["gaps_ms"] if done.returncode == 0 else []
    if done.returncode != 0:
        print(f"reply_gaps.py failed: {done.stderr.strip()[-300:]}")
    endpoint_ms = endpoint_silence_ms()
    for (text, expected), gap, turn in zip(questions, gaps + [None] * len(questions), turns, strict=False):
        got = f"{turn['topic'] or turn['intent']}, heard {turn['heard']!r}" if turn else "no turn"
        beyond = f", beyond endpoint {gap - endpoint_ms:.0f} ms" if gap is not None else ""
        print(f"  {PREFIX + text!r}: gap {gap if gap is not None else 'none'} ms{beyond}  [{got}; expected {expected}]")
    measured = [g for g in gaps if g is not None]
    if measured:
        mean, worst = sum(measured) / len(measured), max(measured)
        print(
            f"{engine}: gaps {measured} ms: mean {mean:.0f} ms, max {worst} ms; endpointer closing silence "
            f"{endpoint_ms:.0f} ms -> beyond endpoint mean {mean - endpoint_ms:.0f} ms, "
            f"max {worst - endpoint_ms:.0f} ms "
            f"({len(measured)}/{len(files)} replies heard; listen exit code {code})"
        )
        summary.add("latency: end of question -> reply, mean ms", engine, f"{mean:.0f}")
        summary.add("latency: beyond endpoint, mean ms", engine, f"{mean - endpoint_ms:.0f}")
    else:
        print(f"{engine}: no reply heard in the room; listen stderr:\n{''.join(process.stderr)[-1500:]}")
        summary.add("latency: end of question -> reply, mean ms", engine, "no reply")
    if barge_ins or stray:
        print(
            f"  barge-ins while the coach spoke (nobody said stop): {[t['heard'] for t in barge_ins]}; "
            f"extra turns: {[t['heard'] for t in stray]}"
        )
    summary.add("latency: self barge-ins / extra turns", engine, f"{len(barge_ins)} / {len(stray)}")
    right = sum(1 for (_, expected), t in zip(questions, turns, strict=False) if t and t.get("topic") == expected)
    summary.add("latency: right topic in the room", engine, f"{right}/{len(questions)}")


def endpoint_silence_ms() -> float:
    """Silence the PocketSphinx engine's endpointer needs to close an utterance (voicecoach.recognizer.endpoint)."""
    from voicecoach.recognizer import endpoint

    return 1000 * endpoint.CLOSING_FRAMES * endpoint.FRAME_SECONDS


def run_idle(noise: Path, seconds: float, workdir: Path, summary: Summary, engine: str) -> None:
    header("6. CPU and memory of `voicecoach listen` while idle-listening")
    e2e = _tests_module("test_end_to_end")
    from voicecoach.audio.chunks import read_wav, write_wav

    clip = workdir / f"noise-{seconds:g}s.wav"
    write_wav(clip, read_wav(noise)[: int((seconds + 2) * 16_000)])
    with pulse_room() as env:
        process = e2e.ListenProcess(env)
        pid = process.proc.pid
        try:
            process.wait_listening()
            time.sleep(5.0)  # start-up (model load, output warm-up, capture start) is not idle time
            figures = {}
            for label, player in (("silence", None), ("gym noise", clip)):
                playing = (
                    subprocess.Popen(["paplay", "--device=gym", str(player)], env=env) if player is not None else None
                )
                time.sleep(0.5)
                cpu0, wall0 = cpu_seconds(pid), time.monotonic()
                time.sleep(seconds)
                cpu1, wall1 = cpu_seconds(pid), time.monotonic()
                if playing is not None:
                    playing.wait(timeout=seconds + 30)
                figures[label] = 100 * (cpu1 - cpu0) / (wall1 - wall0)
            hwm, rss = megabytes(proc_status(pid, "VmHWM")), megabytes(proc_status(pid, "VmRSS"))
            time.sleep(2.0)
        finally:
            code = process.stop()
    turns = []
    while (turn := process.next_turn(timeout=0.1)) is not None:
        turns.append(turn)
    ignored = [line.strip() for line in process.stderr if line.startswith("voicecoach: ignored")]
    print(
        f"{engine}: CPU over {seconds:.0f} s: silence {figures['silence']:.1f}% of one core, gym noise "
        f"{figures['gym noise']:.1f}%; peak memory VmHWM {hwm} (VmRSS {rss}); turns during noise {len(turns)}, "
        f"ignored utterances {len(ignored)}; exit code {code}"
    )
    for turn in turns[:5]:
        print(f"    turn from noise: {turn}")
    for line in ignored[:5]:
        print(f"    {line}")
    summary.add("idle: CPU % of one core, silence", engine, f"{figures['silence']:.1f}%")
    summary.add("idle: CPU % of one core, gym noise", engine, f"{figures['gym noise']:.1f}%")
    summary.add("idle: peak memory (VmHWM)", engine, hwm)


# -- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", default=",".join(PARTS), help=f"comma-separated, from {','.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="small samples (about 2 minutes)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="decoding worker processes")
    parser.add_argument("--workdir", help="keep the WAVs here (default: a temporary folder, removed)")
    parser.add_argument("--model", help="Vosk English model folder (default: the installed one, if any)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ood-count", type=int, default=150, help="CLINC150 queries in the off-domain sample")
    parser.add_argument("--noise-seconds", type=float, default=600.0, help="gym noise for the false-wake part")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--latency-count", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    parts = [p.strip() for p in args.part.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {','.join(PARTS)}")
    if args.quick:
        args.ood_count, args.noise_seconds = min(args.ood_count, 30), min(args.noise_seconds, 120.0)
        args.idle_seconds, args.latency_count = min(args.idle_seconds, 10.0), min(args.latency_count, 3)
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        workdir = Path(args.workdir) if args.workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        run(args, parts, workdir)
    print(f"\ncommand: {command}\nelapsed: {time.monotonic() - began:.0f} s", flush=True)


def run(args: argparse.Namespace, parts: list[str], workdir: Path) -> None:
    from voicecoach.text import knowledge

    kb = knowledge.load()
    topics = {t.id for t in kb.topics}
    engines = find_engines(args.model)
    usable = [e for e in engines if e.unavailable is None]
    summary = Summary()
    speaker = Speaker(workdir / "spoken")
    questions = heldout_knee(topics)
    voices = list(VOICES)
    if args.quick:
        per_topic: Counter[str] = Counter()
        questions = [q for q in questions if (per_topic.update([q[1]]) or per_topic[q[1]] <= 2)]
    print(
        f"engines: {', '.join(e.name + (': ' + e.unavailable if e.unavailable else '') for e in engines)}; "
        f"{len(questions)} held-out knee questions x {len(voices)} voices; parts {','.join(parts)}"
        + (" (quick)" if args.quick else ""),
        flush=True,
    )
    noise: Path | None = None
    if {"noise", "wake", "idle"} & set(parts):
        t = time.monotonic()
        noise = workdir / f"gym-noise-{args.noise_seconds:g}s-seed{args.seed}.wav"
        if not noise.exists():
            seconds = max(args.noise_seconds, args.idle_seconds + 5)
            load_tool(GYM_NOISE).cmd_make(
                argparse.Namespace(out=str(noise), seconds=seconds, seed=args.seed, clinc=str(CLINC))
            )
        print(f"gym noise: {noise.name} made in {time.monotonic() - t:.1f} s", flush=True)

    t = time.monotonic()
    wake_jobs: list[Job] = []
    if "wake" in parts and noise is not None:
        gated = gate_noise(noise, workdir)
        # Continuous babble never lets the endpointer close: one utterance that grows for as long as the noise
        # lasts (decoding slows down and memory climbs), so a shorter stretch shows it well enough.
        continuous = noise_excerpt(noise, min(args.noise_seconds, CONTINUOUS_SECONDS))
        always_gated = noise_excerpt(gated, min(args.noise_seconds, ALWAYS_GATED_SECONDS))
        for engine in usable:
            for mode, source, group in (
                ("wake", gated, "wake/wake-gated"),
                ("always", always_gated, "wake/always-gated"),
                ("wake", continuous, "wake/wake"),
                ("always", continuous, "wake/always"),
            ):
                wake_jobs.append(Job(engine.name, engine.model, mode, str(source), group, tail="noise"))
    results: list[Result] = []
    context = multiprocessing.get_context("spawn")  # espeak-ng threads live in this process: never fork it
    with context.Pool(max(1, args.jobs)) as pool:
        # The long false-wake decodes start at once and run while this process synthesises the questions.
        waking = pool.map_async(run_job, wake_jobs, chunksize=1)
        jobs: list[Job] = []
        if "accuracy" in parts:
            jobs += accuracy_jobs(usable, speaker, questions, voices, noise=None, group="accuracy", seed=args.seed)
        if "noise" in parts:
            jobs += accuracy_jobs(usable, speaker, questions, voices, noise=noise, group="noise", seed=args.seed)
        if "ood" in parts:
            jobs += ood_jobs(usable, speaker, ood_texts(args.ood_count, args.seed))
        if jobs or wake_jobs:
            print(
                f"{speaker.count} utterances synthesised, {len(jobs) + len(wake_jobs)} decodes "
                f"(prepared in {time.monotonic() - t:.1f} s)",
                flush=True,
            )
        results = pool.map(run_job, jobs, chunksize=2) + waking.get()
    if results:
        audio = sum(r.seconds for r in results)
        cpu = sum(r.decode_seconds for r in results)
        print(
            f"decoded {audio / 60:.1f} min of audio in {time.monotonic() - t:.0f} s wall (synthesis included), "
            f"{cpu:.0f} s CPU (RTF {cpu / max(audio, 1e-9):.3f} incl. dialogue) on {args.jobs} workers",
            flush=True,
        )
    if "accuracy" in parts:
        report_accuracy(
            "1. spoken held-out knee questions: right topic", "accuracy", results, engines, summary, args.verbose
        )
    if "noise" in parts:
        report_accuracy(
            f"2. the same with gym noise at {SNR_DB:g} dB SNR: right topic",
            "noise",
            results,
            engines,
            summary,
            args.verbose,
        )
    if "ood" in parts:
        report_ood(results, engines, summary, args.verbose)
    if "wake" in parts:
        report_wake(results, engines, summary)
    default_engine = "vosk" if usable[-1].name == "vosk" else "pocketsphinx"
    if "latency" in parts:
        rng = random.Random(args.seed)
        picks = [rng.choice([q for q in questions if q[1] == topic]) for topic in sorted(topics)]
        run_latency(speaker, picks[: args.latency_count], workdir, summary, default_engine)
    if "idle" in parts and noise is not None:
        run_idle(noise, args.idle_seconds, workdir, summary, default_engine)
    header("summary")
    summary.print([e.name for e in engines])
    for engine in engines:
        if engine.unavailable:
            print(f"{engine.name}: {engine.unavailable}")


if __name__ == "__main__":
    main()
