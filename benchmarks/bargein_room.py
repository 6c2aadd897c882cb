"""Barge-in live, in an echo room: a private PulseAudio where the microphone hears the coach AND the lifter.

    PYTHONPATH=. python benchmarks/bargein_room.py [--echo-gain 1.0] [--trials 3] [--canceller auto]
        [--engine pocketsphinx|moonshine] [--answers 5] [--echo-path loopback|direct] [--streams duplex|separate]
        [--noise-snr 20] [--verbose] [--record DIR]

Room: null sink "coach" (the player's output), null sink "mic" fed by a module-loopback from coach.monitor (at
`--echo-gain`) and by the room itself: one stream that plays room tone or gym noise for the whole run, with the
lifter's words mixed into it (see `_into_microphone`); the microphone is mic.monitor (`--echo-path direct`: the
player writes into "mic" itself, one clock; see `build_room`). So the echo path is real: PulseAudio's buffers and
the loopbacks' latency sit between what the player writes and what the microphone hears, as a speaker beside the
microphone would. A session (real Player,
Microphone, the chosen engine, echo stage) starts the warm-up; the lifter says a command while it counts;
reported: whether the warm-up acted, seconds from the end of the word, and interruptions with no lifter at all.
The coach's microphone and speaker run as `voicecoach listen` runs them for barge-in: one full-duplex stream
(`--streams duplex`, audio.duplex) or two (`--streams separate`); `--canceller auto` picks by that and switches
when the measured echo delay drifts (audio.echo_delay.MOVING_PATH_SECONDS). `--noise-snr DB` loops gym noise
(shared tools/gym_noise.py) into the microphone's sink (see `_gym_noise`) DB under the lifter's words, from before
the first word on. Every word is said at one level, the lifter's (`LifterLevel`): the synthesisers' own levels
spread 16 dB (Festival's "stop" 1,322 speech RMS, Piper's "pause" 8,816), which had put the noise 9 dB under one
word and 26 dB under another.
With `--answers N`, the coach also reads N long answers and the lifter says "stop" 4 s into each: reported,
whether the answer went silent within 0.5 s of the word's end (read off the player, which stops within a block).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, check=True).stdout.strip()


def build_room(echo_gain: float, echo_path: str) -> None:
    """`echo_path` "loopback": the coach's sink reaches the microphone through a module-loopback, which resamples
    adaptively to hold its latency (the two sides drift by up to ~300 ppm and jitter by a few samples, like a
    USB microphone beside the Pi's own headphone output, only worse). "direct": the coach plays straight into the
    microphone's sink, one clock for both, as a USB speakerphone or a sound HAT with both on one codec."""
    pactl("load-module", "module-null-sink", "sink_name=coach")
    pactl("load-module", "module-null-sink", "sink_name=mic")
    if echo_path == "loopback":
        pactl("load-module", "module-loopback", "source=coach.monitor", "sink=mic", "latency_msec=20")
        pactl("set-default-sink", "coach")
        pactl("set-sink-volume", "coach", f"{round(echo_gain * 65536)}")  # the echo's level at the microphone
    else:
        pactl("set-default-sink", "mic")
        if echo_gain != 1.0:
            raise SystemExit("--echo-path direct plays the coach at its own volume: --echo-gain must be 1")
    pactl("set-default-source", "mic.monitor")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--echo-gain", type=float, default=1.0)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--canceller", default="auto")
    parser.add_argument("--engine", default="pocketsphinx", help="the recogniser (pocketsphinx, moonshine)")
    parser.add_argument("--answers", type=int, default=0, help='long answers to cut with "stop" (per voice)')
    parser.add_argument("--quiet-seconds", type=float, default=30.0, help="warm-up with no lifter: false stops")
    parser.add_argument("--lifter-gain", type=float, default=1.0, help="gain of the lifter's words in the room")
    parser.add_argument("--voices", default="", help="only the lifter voices whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="print what was heard and ignored")
    parser.add_argument("--record", help="save the canceller's input and output here (mic, reference, cleaned.wav)")
    parser.add_argument("--json", action="store_true", help="also one JSON line with the figures (for tests)")
    parser.add_argument(
        "--streams",
        choices=("duplex", "separate"),
        default="duplex",
        help="microphone and speaker in one full-duplex stream (as listen runs barge-in) or two streams",
    )
    parser.add_argument(
        "--noise-snr",
        type=float,
        help="gym noise (shared tools/gym_noise.py) looped into the room this many dB under the lifter's words",
    )
    parser.add_argument("--echo-path", choices=("loopback", "direct"), default="loopback", help="see build_room")
    args = parser.parse_args()
    from conftest import AUDIO, pulse_room_running

    with pulse_room_running():
        build_room(args.echo_gain, args.echo_path)
        from conftest import reinit_portaudio

        reinit_portaudio()
        return run(args, AUDIO)


def lifter_words(cache: Path) -> dict[str, dict[str, Path]]:
    """The lifter's command words per voice, as bench_bargein.py renders them (espeak-ng, Festival, Piper)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_bargein

    bench_bargein.render_words(cache)
    out: dict[str, dict[str, Path]] = {}
    for voice in bench_bargein.voices():
        out[voice] = {w: cache / f"{voice.replace(' ', '_')}-{w}.wav" for w in ("pause", "resume", "skip", "stop")}
    return out


class LifterLevel:
    """One speaking level for every word of every voice: the mean speech RMS of them all (as gym_noise.py mix
    measures a question's level), times `--lifter-gain`."""

    def __init__(self, words: dict[str, dict[str, Path]], gain: float) -> None:
        sys.path.insert(0, str(REPO / "benchmarks"))
        import bench_soak

        self._speech_rms, self._read = bench_soak.speech_rms, bench_soak.read_wav
        levels = [self._speech_rms(self._read(path)) for files in words.values() for path in files.values()]
        self.level = gain * float(np.mean(levels))

    def word(self, path: Path) -> np.ndarray:
        samples = self._read(path)
        return np.asarray(samples * (self.level / self._speech_rms(samples)))


def say(room: Any, path: Path, level: LifterLevel) -> float:
    """The lifter says a word into the room (mixed into its one stream); returns the monotonic time its last block
    went to the sound server. It is heard up to ~0.15 s later (pacat's pipe and latency), so the delays measured from
    here are that much on the long side."""
    room.play(level.word(path))
    ended = wait_for(lambda: room.question_ended is not None, 10.0)
    if ended is None:
        raise SystemExit(f"the room's stream stopped: {room.error or 'no word played within 10 s'}")
    return float(room.question_ended)


def wait_for(check: Any, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic()
        time.sleep(0.02)
    return None


def run(args: argparse.Namespace, audio: Path) -> int:
    import tempfile

    from voicecoach.app.ear import barge_in_ear
    from voicecoach.app.listener import ListenSettings
    from voicecoach.app.session import Session
    from voicecoach.commands import Command
    from voicecoach.recognizer import open_recognizer
    from voicecoach.text import knowledge
    from voicecoach.text.domain import build_domain
    from voicecoach.voice import SpokenVoice, open_voice

    kb = knowledge.load()
    words = {
        name: files
        for name, files in lifter_words(Path(tempfile.gettempdir()) / "voicecoach-bargein").items()
        if args.voices in name
    }
    ear = barge_in_ear(None, None, lambda line: print(line), streams=args.streams, canceller=args.canceller)
    canceller = ear.canceller
    if canceller is None:
        print("no echo canceller loads here")
        return 1
    voice = open_voice(None, out=None, duplex=ear.duplex)
    assert isinstance(voice, SpokenVoice)
    mic = ear.microphone
    stage = ear.stage(voice)
    assert stage is not None
    mark = _record(stage, Path(args.record)) if args.record else (lambda voice, word, path: None)
    turns: list[Any] = []
    """Every turn the session took (`Turn`): what was heard, and the command (a word acted on twice is one miss)."""
    session = Session(
        kb, open_recognizer(build_domain(kb), engine=args.engine), voice, voice.synthesizer,
        ListenSettings(barge_in=True),
        echo=stage, on_turn=turns.append,
        on_ignored=(lambda heard, why: print(f"  ignored {heard!r} ({why})")) if args.verbose else (lambda h, w: None),
    )  # fmt: skip
    if args.verbose:  # every final and changed partial result, as the listener sees them
        recognizer, seen = session.recognizer, [""]
        accept, partial = recognizer.accept, recognizer.partial

        def logged_accept(chunk: Any) -> Any:
            final = accept(chunk)
            if final is not None and final.text:
                print(f"    final {final.text!r}", flush=True)
            return final

        def logged_partial() -> str:
            text = partial()
            if text != seen[0]:
                print(f"    partial {text!r}", flush=True)
                seen[0] = text
            return text

        recognizer.accept, recognizer.partial = logged_accept, logged_partial  # type: ignore[method-assign]
        _trace_listener(session.listener)
    lifter = LifterLevel(words, args.lifter_gain)
    room = _gym_noise(lifter.level, args.noise_snr) if args.noise_snr is not None else _room_tone()
    thread = threading.Thread(target=session.run, args=(mic,), daemon=True)
    thread.start()
    time.sleep(3.0)  # capture starts late through PulseAudio
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    session.post(Command.START_WARMUP)
    time.sleep(args.quiet_seconds)
    false = [t.heard for t in turns]
    print(f"no lifter, {args.quiet_seconds:g} s of the warm-up: {len(false)} interruptions {false}")
    print(f"process CPU while the coach counts (recogniser + canceller + player): "
          f"{100 * (time.process_time() - cpu0) / (time.monotonic() - wall0):.1f}% of one core; "
          f"measured delay {stage.delay.offset * 1000:.0f} ms")  # fmt: skip
    session.post(Command.STOP)
    wait_for(lambda: session.warmup is None, 3)
    table: dict[str, dict[str, list[float | None]]] = {}
    for voice_name, files in words.items():
        for _ in range(args.trials):
            session.post(Command.START_WARMUP)
            if wait_for(lambda: session.warmup is not None, 3) is None:
                continue
            time.sleep(4.0)
            runner = session.warmup
            if runner is None:  # something stopped it before the lifter spoke: every command of this trial missed
                print("  the warm-up ended before the lifter spoke (a false stop)")
                for word in ("pause", "resume", "skip", "stop"):
                    table.setdefault(voice_name, {}).setdefault(word, []).append(None)
                continue
            first_set = runner.started[-1].event.set if runner.started else 1
            checks = [
                ("pause", lambda r=runner: r.paused),
                ("resume", lambda r=runner: not r.paused),
                ("skip", lambda r=runner, s0=first_set: r._skipped_to is not None or r.started[-1].event.set > s0),
                ("stop", lambda: session.warmup is None),
            ]
            for word, check in checks:
                if word == "skip":
                    time.sleep(1.5)
                before = len(turns)
                ended = say(room, files[word], lifter)
                mark(voice_name, word, files[word])
                if args.verbose:
                    lately = [t.heard for t in turns][-3:]
                    print(
                        f"  said {word} ({voice_name}), ended at monotonic {ended:.2f}; turns so far {lately}",
                        flush=True,
                    )
                acted = wait_for(check, 1.5)
                time.sleep(1.0)
                twice = [t.reply.intent for t in turns[before:]].count(word) > 1
                undone = word == "pause" and not runner.paused
                if acted is not None and (twice or undone):
                    print(f"  {word} ({voice_name}) acted on twice or undone: a miss", flush=True)
                    acted = None
                table.setdefault(voice_name, {}).setdefault(word, []).append(None if acted is None else acted - ended)
                if word == "pause" and not runner.paused:
                    runner.handle(Command.PAUSE)  # so the next check (resume) still means something
            if session.warmup is not None:
                session.post(Command.STOP)
                wait_for(lambda: session.warmup is None, 3)
    answers, false_over_answers = (
        _stop_answers(args, session, voice, kb, words, room, lifter, turns, mark) if args.answers else ({}, [])
    )
    session.stop()
    thread.join(5)
    room.close()
    print(f"echo room: coach sink volume {args.echo_gain:g}, lifter gain {args.lifter_gain:g}; "
          f"canceller {canceller.name}{'' if stage.name == canceller.name else f', then {stage.name}'}; "
          f"{args.streams} streams, echo path {args.echo_path}; "
          f"gym noise {'none' if args.noise_snr is None else f'{args.noise_snr:g} dB under the lifter'}")  # fmt: skip
    print("acted on within 1 s of the word's end (pause/skip/stop while the coach counts; resume while paused)")
    for voice_name, per_word in table.items():
        cells = []
        for word, delays in per_word.items():
            ok = [d for d in delays if d is not None and d <= 1.0]
            cells.append(f"{word} {len(ok)}/{len(delays)}")
        got = [d for ds in per_word.values() for d in ds if d is not None]
        med = f"{np.median(got):+.2f}s" if got else "-"
        print(f"  {voice_name:18} {'  '.join(cells)}  median {med}")
    for voice_name, delays in answers.items():
        ok = [d for d in delays if d is not None and d <= 0.5]
        got = [d for d in delays if d is not None]
        med = f"{np.median(got):+.2f}s" if got else "-"
        print(f"  {voice_name:18} stop over an answer {len(ok)}/{len(delays)} silent within 0.5 s, median {med}")
    if args.answers:
        print(f"acted on over the answers before the lifter spoke: {len(false_over_answers)} {false_over_answers}")
    if args.json:
        heard = {v: {w: [d for d in ds] for w, ds in per.items()} for v, per in table.items()}
        figures = {
            "false": false, "acted": heard, "answers": answers, "canceller": stage.name,
            "false_over_answers": false_over_answers,
            "streams": args.streams, "noise_snr": args.noise_snr,
        }  # fmt: skip
        print(json.dumps(figures))
    return 0


def _gym_noise(lifter_level: float, snr: float) -> Any:
    """The room: gym noise, `snr` dB under the lifter's words (their speech RMS, as gym_noise.py mix measures it),
    from before the first word to the end, with the lifter's words mixed in (`say`)."""
    import tempfile

    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_soak

    level = lifter_level / 10 ** (snr / 20)
    out = Path(tempfile.gettempdir()) / "voicecoach-bargein" / "gym-noise-120s.wav"
    print(f"gym noise at RMS {level:.0f} ({snr:g} dB under the lifter's words), played into the room", flush=True)
    return _into_microphone(bench_soak.make_noise(out, 120.0, 1, level))


def _room_tone() -> Any:
    """The quiet room: silence for the whole run, with the lifter's words mixed in (`say`)."""
    return _into_microphone(np.zeros(16_000))


def _into_microphone(samples: np.ndarray) -> Any:
    """`samples` looped into the microphone's sink as one low-latency stream (bench_soak's `RoomPlayer`), which
    carries the lifter's words too, as the air does: one stream for the whole run, none joining or leaving the sink.
    The rig measured itself before: the lifter's words came through a module-loopback, whose adaptive resampler,
    and every paplay that started and stopped on its sink, moved the microphone sink's timing, and the coach's
    echo delay stepped as the lifter spoke (60 -> 33 -> 3 -> -18 -> -50 -> -152 -> -188 ms in two minutes, measured;
    13 -> 5 -> 3 -> -24 ms with the noise through it), which a speaker and a microphone on one card never do."""
    import os

    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_soak

    return bench_soak.RoomPlayer(samples, dict(os.environ), device="mic", latency_ms=20)


def _record(stage: Any, folder: Path) -> Any:
    """--record: what the canceller was given and gave back (mic.wav, reference.wav: the playback lined up as
    the canceller saw it, cleaned.wav), written at exit, so a miss can be replayed offline with another
    canceller or engine setting (benchmarks/replay_bargein.py). Returns `mark(voice, word, path)`, called as each of
    the lifter's warm-up words has gone to the room: said.json lists them with the recorded sample count at that
    moment (where the word ends in the files, give or take the room's latency). It also prints the monotonic time of
    the first sample and each new measured echo delay."""
    import atexit
    import wave

    process, streams = stage.canceller.process, {"mic": bytearray(), "reference": bytearray(), "cleaned": bytearray()}

    last_offset = [0.0]

    def recorded(near: Any, far: Any) -> Any:
        cleaned = process(near, far)
        if stage.delay.offset != last_offset[0]:
            last_offset[0] = stage.delay.offset
            measured = [round(1000 * m, 1) for m in stage.delay.measured]
            print(f"    echo delay {1000 * stage.delay.offset:.1f} ms (measured {measured})", flush=True)
        if not streams["mic"]:
            print(f"    recording from monotonic {time.monotonic():.2f}", flush=True)
        for name, samples in (("mic", near), ("reference", far), ("cleaned", cleaned)):
            streams[name].extend(np.asarray(samples, "<i2").tobytes())
        return cleaned

    said: list[dict[str, Any]] = []

    def mark(voice: str, word: str, path: Path) -> None:
        said.append({"voice": voice, "word": word, "file": str(path), "end": len(streams["mic"]) // 2})

    def write() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "said.json").write_text(json.dumps(said, indent=1))
        for name, data in streams.items():
            with wave.open(str(folder / f"{name}.wav"), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(16_000)
                out.writeframes(bytes(data))

    stage.canceller.process = recorded
    atexit.register(write)
    return mark


def _trace_listener(listener: Any) -> None:
    """--verbose: when the near-end gate opens and closes, and every command the listener acts on."""
    process, act, was = listener.process, listener._act, [True]

    def traced_process(chunk: Any, near: bool = True) -> Any:
        if near != was[0]:
            print(f"    near-end {'open' if near else 'closed'}", flush=True)
            was[0] = near
        return process(chunk, near)

    def traced_act(command: Any) -> bool:
        acted = act(command)
        print(f"    act {command.value}: {'acted' if acted else 'nothing to act on'}", flush=True)
        return bool(acted)

    listener.process, listener._act = traced_process, traced_act


def _stop_answers(
    args: argparse.Namespace,
    session: Any,
    voice: Any,
    kb: Any,
    words: dict[str, dict[str, Path]],
    room: Any,
    lifter: LifterLevel,
    turns: list[Any],
    mark: Any,
) -> tuple[dict[str, list[float | None]], list[str]]:
    """ "stop" said 4 s into long answers: seconds from the word's end until the player went silent (None: never).
    A command acted on in those 4 s, before the lifter spoke ("faster" from gym babble), is a false interruption
    too, though the answer goes on: printed, and kept in `false_over_answers`."""
    texts = [f"{t.cause} {t.fix} {t.more}" for t in kb.topics]
    out: dict[str, list[float | None]] = {}
    false_over_answers: list[str] = []
    for number, (voice_name, files) in enumerate(words.items()):
        for k in range(args.answers):
            voice.prepare([texts[(number + k) % len(texts)]])
            session.listener._say(texts[(number + k) % len(texts)])  # as an answer: the listener's own say
            before = len(turns)
            time.sleep(4.0)
            if acted := [t.heard for t in turns[before:]]:
                false_over_answers.extend(acted)
                print(f"  acted on {acted} over an answer before the lifter spoke ({voice_name})")
            if not voice.speaking:  # cut short before the lifter spoke: the coach interrupted itself
                print(f"  the answer stopped before the lifter spoke ({voice_name}): a false interruption")
                out.setdefault(voice_name, []).append(None)
                continue
            ended = say(room, files["stop"], lifter)
            mark(voice_name, "stop", files["stop"])
            if args.verbose:
                print(f"  said stop over an answer ({voice_name}), ended at monotonic {ended:.2f}", flush=True)
            silent = wait_for(lambda: not voice.speaking, 2.0)
            out.setdefault(voice_name, []).append(None if silent is None else silent - ended)
            voice.stop()
            time.sleep(1.0)
    return out, false_over_answers


if __name__ == "__main__":
    raise SystemExit(main())
