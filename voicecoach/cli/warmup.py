"""`voicecoach warmup`: the knee warm-up, counted aloud, steered from the keyboard (or later by voice)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from voicecoach.audio.devices import DeviceSpec
from voicecoach.cli.options import add_config_option, add_voice_options, load_settings, number, voice_of, whole_number
from voicecoach.commands import KEY_HELP, Command, command_from_key
from voicecoach.errors import AudioFileError, KnowledgeBaseError, UsageError
from voicecoach.voice.base import SpeechClip, Synthesizer, VoiceSettings
from voicecoach.warmup.plan import EXERCISES, WarmupPlan
from voicecoach.warmup.timeline import WarmupEvent, build_timeline, format_event

HELP = (
    """Runs the knee warm-up aloud: announces each set, counts every rep with a tempo, drops in form cues,
counts down the rest and closes with a summary. Squats: 4 sets of slow bodyweight squats; leg extensions:
3 light sets. In a terminal, keys steer it: """
    + KEY_HELP
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("warmup", help="run the knee warm-up aloud", description=HELP)
    # Numbers are taken as text and checked in `run` (see cli.options): one clear line and exit 2.
    parser.add_argument("--exercise", default="squats", help=f"{' or '.join(EXERCISES)} (default squats)")
    parser.add_argument("--sets", help="sets (default: squats 4, leg-extensions 3)")
    parser.add_argument("--reps", help="reps per set (default: squats 10, leg-extensions 12)")
    parser.add_argument(
        "--tempo", help='seconds down-hold-up, e.g. "3-1-1" (default: squats 3-1-1, leg-extensions 2-1-2)'
    )
    parser.add_argument("--rest", help="seconds of rest between sets (default 60)")
    parser.add_argument("--dry-run", action="store_true", help="print the timeline; no sound, no waiting")
    parser.add_argument("--json", action="store_true", help="with --dry-run: one JSON object per event")
    parser.add_argument("--out", metavar="WAV", help="render the whole routine, timing kept, into one WAV file")
    add_voice_options(parser)
    add_config_option(parser)
    parser.set_defaults(func=run)
    return parser


def plan_from_args(args: argparse.Namespace, rate: int) -> WarmupPlan:
    return WarmupPlan.make(
        args.exercise,
        sets=whole_number("sets", args.sets),
        reps=whole_number("reps", args.reps),
        tempo=args.tempo,
        rest=number("rest", args.rest),
        rate=rate,
    )


def load_cues(plan: WarmupPlan) -> tuple[str, ...]:
    """The exercise's form cues from the knowledge base; the article's built-in cues if it cannot be read."""
    from voicecoach.text import knowledge

    try:
        return knowledge.load().topic(plan.exercise.topic).cues
    except (KnowledgeBaseError, KeyError) as err:
        # A coach's typo in a topics file must not stop a lifter's warm-up.
        print(f"voicecoach: using built-in warm-up cues ({err})", file=sys.stderr)
        return plan.exercise.cues


def _check_writable(path: str) -> None:
    """Fail before minutes of rendering, not after."""
    target = Path(path)
    if target.is_dir():
        raise AudioFileError(f"{path}: is a folder, not a WAV file")
    folder = target.parent
    if not folder.is_dir():
        raise AudioFileError(f"{path}: cannot write (no folder {str(folder)!r})")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise AudioFileError(f"{path}: cannot write (permission denied)")


def run(args: argparse.Namespace) -> int:
    config = load_settings(args)
    settings = voice_of(config)
    plan = plan_from_args(args, settings.rate)
    if args.json and not args.dry_run:
        raise UsageError("--json only goes with --dry-run")
    if args.out:
        _check_writable(args.out)
    cues = load_cues(plan)
    timeline = build_timeline(plan, cues)
    if args.dry_run:
        print_timeline(timeline, as_json=args.json)
        return 0
    from voicecoach.voice.espeak import Pyttsx3Synthesizer

    synth = Pyttsx3Synthesizer(cache_size=256)
    if args.out:
        from voicecoach.warmup.runner import render_warmup_wav

        for issue in render_warmup_wav(timeline, synth, settings, args.out):
            print(f"voicecoach: overlap at {issue}", file=sys.stderr)
        print(f"wrote {args.out} ({timeline[-1].t:.0f} s, {len(timeline)} events)")
        return 0
    return _run_aloud(plan, cues, synth, settings, config.audio.output)


def print_timeline(timeline: list[WarmupEvent], *, as_json: bool, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    for event in timeline:
        print(json.dumps(event.as_dict()) if as_json else format_event(event), file=stream)


def _run_aloud(
    plan: WarmupPlan, cues: tuple[str, ...], synth: Synthesizer, settings: VoiceSettings, device: DeviceSpec
) -> int:
    from voicecoach.voice import open_voice
    from voicecoach.warmup.runner import runner_for_voice

    # The runner prints each event itself; a voice without sound must not print it twice.
    voice = open_voice(device, settings, out=None, synthesizer=synth)

    def show(event: WarmupEvent) -> None:
        print(format_event(event), flush=True)

    runner = runner_for_voice(plan, voice, synth, cues=cues, on_event=show)
    runner.prepare()
    # The first stream PortAudio opens starts ~0.2 s slower than later ones: open one before the plan's clock.
    voice.play(SpeechClip("", bytes(3200), 16000), wait=True)
    interactive = sys.stdin.isatty()
    if interactive:
        print(KEY_HELP, file=sys.stderr)
    try:
        with read_keys(runner.handle, paused=lambda: runner.paused) if interactive else contextlib.nullcontext():
            runner.run()
    except KeyboardInterrupt:
        runner.handle(Command.STOP)
        return 130
    finally:
        voice.stop()
    return 0


@contextlib.contextmanager
def read_keys(
    handle: Callable[[Command], bool], stream: TextIO | None = None, paused: Callable[[], bool] = lambda: False
) -> Iterator[None]:
    """Single key presses on a terminal become commands, from a background thread.

    cbreak (not raw) keeps Ctrl-C a signal and output newlines intact; the terminal is restored on
    every way out, including exceptions.
    """
    import select
    import termios
    import tty

    fd = (stream or sys.stdin).fileno()
    saved = termios.tcgetattr(fd)
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            key = os.read(fd, 1).decode("utf-8", "replace")
            if not key:
                return  # end of input
            command = command_from_key(key, paused())
            if command is not None:
                handle(command)

    thread = threading.Thread(target=loop, name="warmup-keys", daemon=True)
    try:
        tty.setcbreak(fd)
        thread.start()
        yield
    finally:
        done.set()
        if thread.is_alive():
            thread.join(timeout=1.0)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
