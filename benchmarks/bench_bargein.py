"""Barge-in over the coach's own voice: echo cancellation measured on a mixed echo room, offline.

    PYTHONPATH=. python benchmarks/bench_bargein.py [--minutes 10] [--ser -6] [--cancellers none,speex,webrtc]

The microphone signal is built sample-exactly: the coach's playback (the whole warm-up routine, looped to
`--minutes`, or 20 long answers) goes through an echo path (a 40 ms delay plus a 150 ms decaying room
response, so low-passed and smeared) at a stated level, and the lifter's commands are added on top (espeak-ng
voices, Festival's slt, Piper's joe). Levels: lifter speech RMS -26 dBFS; echo RMS while the coach speaks is
`--ser` dB relative to it (signal-to-echo ratio; -6 means the echo is 6 dB LOUDER than the lifter, a speaker
beside the microphone). With `--noise`, gym noise (shared/tools/gym_noise.py) 20 dB below the lifter.

Each canceller gets the microphone and the exact playback (the reference the player knows) in 10 ms frames;
the cleaned signal goes to PocketSphinx's commands-only search in 30 ms chunks, and an interrupting word in a
partial or final result that the coach is not saying at that moment is a barge-in (the listener's rule).
Reported: ERLE (echo only, after the first 5 s), CPU per second of audio, RSS added, commands heard x/10 per
voice and the time from the end of the word to the detection, "stop" over answers, false interruptions with no
lifter at all over the whole routine and 20 answers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from voicecoach.app.interrupt import (  # noqa: E402
    OVER_ANSWERS,
    HeldCommand,
    SameWord,
    interrupt_command,
    is_coach_word,
)
from voicecoach.audio.echo import FRAME, make_canceller  # noqa: E402
from voicecoach.audio.echo_trust import Convergence, NearEndGate  # noqa: E402
from voicecoach.audio.format import SAMPLE_RATE, AudioChunk  # noqa: E402
from voicecoach.audio.resample import resample  # noqa: E402
from voicecoach.commands import Command  # noqa: E402
from voicecoach.recognizer.base import Recognizer, Transcript  # noqa: E402
from voicecoach.voice.base import words_around  # noqa: E402

RATE = SAMPLE_RATE

WORDS = ["stop", "pause", "resume", "skip", "repeat", "slower", "faster", "louder", "quieter", "stop"]
LIFTER_DBFS = -26.0
SHARED = REPO.parent / "shared"


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        rate, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels())[:, 0].copy()
    return resample(data, rate, RATE) if rate != RATE else data


def trim(x: np.ndarray, threshold: int = 300) -> np.ndarray:
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > threshold)
    return x[loud[0] : loud[-1] + 1] if len(loud) else x


# -- the lifter's voices: benchmarks/speech/voices.py ---------------------------------------------------
def voices() -> dict[str, object]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from speech.voices import voices as every_voice

    return dict(every_voice())


def render_words(cache: Path) -> dict[str, dict[str, np.ndarray]]:
    cache.mkdir(parents=True, exist_ok=True)  # the room benchmark calls this first on a fresh machine
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, say in voices().items():
        out[name] = {}
        for word in dict.fromkeys(WORDS):
            path = cache / f"{name.replace(' ', '_')}-{word}.wav"
            if not path.exists():
                say(word, path)  # type: ignore[operator]
            x = trim(read_wav(path)).astype(np.float64)
            out[name][word] = x * (10 ** (LIFTER_DBFS / 20) * 32768 / rms(x))
    return out


# -- the coach's playback ------------------------------------------------------------------------------
@dataclass
class Playback:
    audio: np.ndarray  # int16, what the player writes (16 kHz)
    spans: list[tuple[int, int, str]]  # (start, end, text) of each clip


def render_coach(minutes: float) -> tuple[Playback, Playback]:
    from voicecoach.text.knowledge import load
    from voicecoach.voice import Pyttsx3Synthesizer, VoiceSettings
    from voicecoach.warmup.plan import WarmupPlan
    from voicecoach.warmup.runner import render_clips
    from voicecoach.warmup.timeline import build_timeline

    synth = Pyttsx3Synthesizer()
    settings = VoiceSettings()
    kb = load()
    plan = WarmupPlan.make("squats")
    topic = plan.exercise.topic
    cues = kb.topic(topic).cues if topic in {t.id for t in kb.topics} else ()
    timeline = build_timeline(plan, cues)
    clips = render_clips((e.say for e in timeline), synth, settings)
    audio = {t: resample(np.frombuffer(c.audio, "<i2"), c.rate, RATE) for t, c in clips.items()}
    routine_len = max(round(e.t * RATE) + len(audio[e.say]) for e in timeline) + RATE
    total = int(minutes * 60 * RATE)
    warm = np.zeros(total + routine_len, np.int32)
    spans: list[tuple[int, int, str]] = []
    origin = 0
    while origin < total:
        for e in timeline:
            start = origin + round(e.t * RATE)
            clip = audio[e.say]
            warm[start : start + len(clip)] += clip
            spans.append((start, start + len(clip), e.say))
        origin += routine_len
    warmup = Playback(np.clip(warm[:total], -32768, 32767).astype(np.int16), [s for s in spans if s[0] < total])

    texts = [f"{t.cause} {t.fix} {t.more}" for t in kb.topics][:20]
    while len(texts) < 20:
        texts += texts[: 20 - len(texts)]
    parts, spans, at = [], [], 0
    for text in texts:
        clip = synth.render(text, settings)
        x = resample(np.frombuffer(clip.audio, "<i2"), clip.rate, RATE)
        parts += [x, np.zeros(RATE * 2, np.int16)]
        spans.append((at, at + len(x), text))
        at += len(x) + RATE * 2
    return warmup, Playback(np.concatenate(parts), spans)


def echo_path(seed: int = 7) -> np.ndarray:
    """40 ms delay (speaker-to-mic plus device buffers) and a 150 ms exponentially decaying room response."""
    rng = np.random.default_rng(seed)
    n = int(0.15 * RATE)
    tail = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.03 * RATE)) * 0.25
    tail[0] = 1.0
    kernel = np.convolve(tail, np.ones(4) / 4)  # a gentle low-pass (small speaker, cheap mic)
    return np.concatenate([np.zeros(int(0.04 * RATE)), kernel])


def fft_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]
    return y


def speaking(spans: list[tuple[int, int, str]], n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for s, e, _ in spans:
        mask[s:e] = True
    return mask


# -- one run ---------------------------------------------------------------------------------------------
@dataclass
class Placed:
    start: int
    end: int
    word: str
    voice: str


def place_commands(
    playback: Playback, words: dict[str, dict[str, np.ndarray]], only: list[str] | None, every: float
) -> tuple[np.ndarray, list[Placed]]:
    """Lifter commands said while the coach speaks, one every `every` seconds, 10 per voice."""
    lifter = np.zeros(len(playback.audio))
    placed: list[Placed] = []
    mask = speaking(playback.spans, len(playback.audio))
    at = int(10 * RATE)  # after the canceller's first 5 s of the coach (echo_trust.CONVERGE_SECONDS)
    for voice, table in words.items():
        for word in [only[k % len(only)] for k in range(10)] if only else WORDS:
            x = table[word]
            while at + len(x) < len(lifter) and not mask[at : at + len(x)].mean() > 0.5:
                at += RATE // 10  # said over the coach's voice
            if at + len(x) >= len(lifter):
                break
            lifter[at : at + len(x)] += x
            placed.append(Placed(at, at + len(x), word, voice))
            at += int(every * RATE)
    return lifter, placed


@dataclass
class Detection:
    sample: int
    word: str
    heard: str = ""
    """The result it was read from (a partial or final text)."""


class InterruptRule:
    """The listener's barge-in rule on the interrupt search's results, chunk by chunk: a final result's interrupting
    words, or a partial result's first one once it has held (`HeldCommand`, as the listener); never a word the
    coach is saying (`spoken`). Shared with benchmarks/replay_bargein.py."""

    def __init__(self) -> None:
        self.held = HeldCommand()

    def commands(
        self, recognizer: Recognizer, final: Transcript | None, *, near: bool = True, spoken: set[str] | None = None
    ) -> tuple[str, list[str]]:
        """(what was heard, the commands it means) after one chunk; `final`: what `accept` returned for it."""
        spoken = spoken or set()
        if final is not None:
            heard = final.text
            words = [w for w in heard.split() if interrupt_command(w) is not None and not is_coach_word(w, spoken)]
            self.reset()
        else:  # as the listener: a partial result only when the near-end gate is open
            heard = recognizer.partial() if near else ""
            candidate = self.held.update(heard.split())
            words = [candidate] if candidate and not is_coach_word(candidate, spoken) else []
        return heard, [str(command) for w in words if (command := interrupt_command(w)) is not None]

    def reset(self) -> None:
        self.held.reset()


def listen(
    cleaned: np.ndarray,
    playback: Playback,
    mic: np.ndarray | None = None,
    engine: str = "pocketsphinx",
    over_answers: bool = False,
    command_margin: float | None = None,
    trace: list[tuple[int, str, bool]] | None = None,
    *,
    convergence: Convergence | None = None,
    recognizer: Recognizer | None = None,
) -> list[Detection]:
    """The engine's interrupt search on the cleaned microphone; the listener's barge-in rule on its results.
    `trace` gets (sample, what was heard, near-end gate open) each time the search's reading changes. `convergence`
    (default: the stage's own rule) and `recognizer` (reset first) may be given."""
    from voicecoach.recognizer import open_recognizer
    from voicecoach.text.domain import build_domain
    from voicecoach.text.knowledge import load

    if recognizer is not None:
        recognizer.reset()
    elif engine == "moonshine" and command_margin is not None:
        from voicecoach.recognizer.moonshine_engine import MoonshineRecognizer

        recognizer = MoonshineRecognizer(build_domain(load()), command_margin=command_margin)
    else:
        recognizer = open_recognizer(build_domain(load()), engine=engine)
    recognizer.interrupt_only(True)
    saying = np.full(len(cleaned), -1, np.int32)
    for i, (s, e, _) in enumerate(playback.spans):
        saying[s : min(e + RATE // 2, len(saying))] = i
    found: list[Detection] = []
    chunk = 480
    rule, same_word = InterruptRule(), SameWord()
    gate, convergence = NearEndGate(), convergence or Convergence()
    over = {command.value for command in OVER_ANSWERS}
    for at in range(0, len(cleaned) - chunk + 1, chunk):
        final = recognizer.accept(AudioChunk(cleaned[at : at + chunk].tobytes(), RATE, at / RATE))
        if mic is None:
            near = True
        else:  # as EchoStage.clean
            near_end = gate.update(mic[at : at + chunk], cleaned[at : at + chunk])
            span = slice(at, at + chunk)
            near = convergence.update(playback.audio[span], mic[span], cleaned[span]) and near_end
        index = saying[at]
        spoken: set[str] = set()
        if index >= 0:  # the listener's rule: the coach's words around the playback position (words_around)
            start, end, text = playback.spans[index]
            around = words_around(text, (at - start) / RATE, (end - start) / RATE)
            spoken = set(around.lower().replace(",", " ").replace(".", " ").split())
        heard, commands = rule.commands(recognizer, final, near=near, spoken=spoken)
        if trace is not None and heard and (not trace or trace[-1][1] != heard):
            trace.append((at + chunk, heard, near))
        if over_answers:  # the listener's rule: only these mean something over an answer
            commands = [c for c in commands if c in over]
        if commands and near:
            if not same_word.again(command := Command(commands[0]), (at + chunk) / RATE):
                same_word.acted(command, (at + chunk) / RATE)
                found.append(Detection(at + chunk, commands[0], heard))
            recognizer.reset()
            rule.reset()
    return found


def score(found: list[Detection], placed: list[Placed]) -> tuple[dict[str, list[float | None]], int]:
    """Per voice, the delay from each word's end to its detection (None: missed); and false detections."""
    used: set[int] = set()
    per_voice: dict[str, list[float | None]] = {}
    for p in placed:
        hit = None
        for k, d in enumerate(found):
            if k not in used and p.start - RATE // 5 <= d.sample <= p.end + int(1.5 * RATE) and d.word == p.word:
                hit = k
                break
        if hit is not None:
            used.add(hit)
        per_voice.setdefault(p.voice, []).append((found[hit].sample - p.end) / RATE if hit is not None else None)
    near = {
        k
        for k, d in enumerate(found)
        if any(p.start - RATE // 5 <= d.sample <= p.end + int(1.5 * RATE) for p in placed)
    }
    return per_voice, len([k for k in range(len(found)) if k not in near])


def print_misses(
    label: str, canceller: str, found: list[Detection], placed: list[Placed], per_voice: dict[str, list[float | None]]
) -> None:
    """Each placed command that `score` (`per_voice`) matched to no detection, with what was detected near it."""
    order = {voice: iter(delays) for voice, delays in per_voice.items()}
    for p in placed:
        if next(order[p.voice]) is not None:
            continue
        near = [f"{d.word} ({d.heard!r})" for d in found if p.start - RATE // 5 <= d.sample <= p.end + int(1.5 * RATE)]
        print(f"    {label} {canceller}: missed {p.word!r} ({p.voice}) at {p.start / RATE:.1f} s; near it: {near}")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def cancel(name: str, mic: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(cleaned, CPU seconds per audio second, MB RSS added)."""
    if name == "none":
        return mic, 0.0, 0.0
    n = len(mic) - len(mic) % FRAME
    out = np.zeros(n, np.int16)  # allocated (and touched) before the RSS is read: only the canceller is counted
    before = rss_mb()
    canceller = make_canceller(name)
    t = time.process_time()
    step = 480
    for at in range(0, n - step + 1, step):
        out[at : at + step] = canceller.process(mic[at : at + step], far[at : at + step])
    cpu = (time.process_time() - t) / (n / RATE)
    return out, cpu, rss_mb() - before


def erle(mic: np.ndarray, out: np.ndarray, mask: np.ndarray) -> float:
    m = mask[: len(out)].copy()
    m[: 5 * RATE] = False
    return 10 * np.log10((rms(mic[: len(out)][m]) ** 2 + 1e-9) / (rms(out[m]) ** 2 + 1e-9))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--ser", type=float, default=-6.0, help="lifter RMS minus echo RMS, dB")
    parser.add_argument("--noise", action="store_true", help="gym noise 20 dB below the lifter")
    parser.add_argument("--cancellers", default="none,speex,webrtc")
    parser.add_argument("--gate", action=argparse.BooleanOptionalAction, default=True, help="near-end gate")
    parser.add_argument("--engine", default="pocketsphinx", help="the recogniser whose interrupt search listens")
    parser.add_argument(
        "--command-margin", type=float, help="moonshine: score the commands whole within this many nats (0: off)"
    )
    parser.add_argument("--player-latency", type=float, default=0.08, help="stop() to silence, s (player)")
    parser.add_argument("--misses", action="store_true", help="list each command not heard, and what was instead")
    args = parser.parse_args()
    cache = Path(tempfile.gettempdir()) / "voicecoach-bargein"
    cache.mkdir(exist_ok=True)
    print(f"rendering (cache {cache}) ...", flush=True)
    words = render_words(cache)
    warmup, answers = render_coach(args.minutes)
    h = echo_path()
    lifter_rms = 10 ** (LIFTER_DBFS / 20) * 32768
    rng = np.random.default_rng(3)
    rows = []
    for label, playback, only in (("warm-up", warmup, None), ("answers", answers, ["stop"])):
        echo = fft_convolve(playback.audio.astype(np.float64), h)
        mask = speaking(playback.spans, len(echo))
        echo *= lifter_rms / 10 ** (args.ser / 20) / rms(echo[mask])
        lifter, placed = place_commands(playback, words, only, every=12.0 if only is None else 4.0)
        noise = np.zeros(len(echo))
        if args.noise:
            noise = gym_noise(len(echo), rng) * (lifter_rms / 10 ** (20 / 20))
        for name in args.cancellers.split(","):
            for with_lifter in (True, False):
                mic = np.clip(echo + noise + (lifter if with_lifter else 0), -32768, 32767).astype(np.int16)
                out, cpu, mem = cancel(name, mic, playback.audio)
                gated = mic if args.gate and name != "none" else None
                found = listen(out, playback, gated, args.engine, only is not None, args.command_margin)
                if with_lifter:
                    per_voice, _ = score(found, placed)
                    if args.misses:
                        print_misses(label, name, found, placed, per_voice)
                    e = (
                        erle(
                            np.clip(echo, -32768, 32767).astype(np.int16),
                            cancel(name, np.clip(echo, -32768, 32767).astype(np.int16), playback.audio)[0],
                            mask,
                        )
                        if name != "none"
                        else 0.0
                    )
                    rows.append((label, name, e, cpu, mem, per_voice))
                else:
                    rows[-1] = (*rows[-1], len(found))
                print(f"  {label} {name} lifter={with_lifter}: {len(found)} detections", flush=True)
    noise_note = "; gym noise 20 dB under the lifter" if args.noise else ""
    print(f"\necho path: 40 ms + 150 ms room response; lifter {LIFTER_DBFS:.0f} dBFS; echo {-args.ser:+.0f} dB")
    margin = "" if args.command_margin is None else f", command margin {args.command_margin:g}"
    print(f"over the lifter{noise_note}; {args.minutes:g} min routine, 20 answers; engine {args.engine}{margin}")
    head = "heard per voice (median s after word end)"
    print(f"{'coach says':9} {'AEC':7} {'ERLE dB':>7} {'CPU %':>6} {'+MB':>5}  {head}  false")
    for label, name, e, cpu, mem, per_voice, false in rows:
        cells = []
        for voice, delays in per_voice.items():
            got = [d for d in delays if d is not None]
            within = [
                d
                for d in got
                if d + (args.player_latency if label == "answers" else 0) <= (0.5 if label == "answers" else 1.0)
            ]
            med = f"{np.median(got):.2f}" if got else "-"
            cells.append(f"{voice}: {len(within)}/{len(delays)} ({med})")
        print(f"{label:9} {name:7} {e:7.1f} {100 * cpu:6.2f} {mem:5.1f}  {'; '.join(cells)}  {false}")
    print(
        "heard = right word detected within 1 s of the word's end (warm-up) / answer silent within 0.5 s "
        f"(detection + {args.player_latency * 1000:.0f} ms player stop); false = detections with no lifter at all"
    )
    return 0


def gym_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    path = Path(tempfile.gettempdir()) / "voicecoach-bargein" / "gym_noise_60s.wav"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(SHARED / "tools" / "gym_noise.py"), "make", str(path), "--seconds", "60"], check=True
        )
    x = read_wav(path).astype(np.float64)
    x = np.tile(x, n // len(x) + 1)[:n]
    return x / rms(x)


if __name__ == "__main__":
    raise SystemExit(main())
