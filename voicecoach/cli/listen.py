"""`voicecoach listen`, `answer FILE.wav` and `devices`: the speech-in pipeline from the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from voicecoach.cli.options import (
    add_config_option,
    add_engine_options,
    add_voice_options,
    load_settings,
    open_engine,
    voice_of,
)

if TYPE_CHECKING:
    from voicecoach.app.listener import Turn
    from voicecoach.app.session import Session
    from voicecoach.app.turnlog import LoggedTurn


def register(sub: Any) -> None:
    listen = sub.add_parser("listen", help="listen on the microphone and answer aloud (the main job)")
    listen.add_argument(
        "--activation",
        choices=["wake", "always", "push"],
        help="wake word (default), always on, or push-to-talk with Enter",
    )
    listen.add_argument("--wake-word", help='the word that wakes the coach (default "coach")')
    listen.add_argument("--input", metavar="DEVICE", help="microphone: index or part of its name")
    listen.add_argument("--verbose", action="store_true", help="log every utterance heard and why it was ignored")
    listen.add_argument(
        "--barge-in",
        action=argparse.BooleanOptionalAction,
        default=None,
        help='let "stop", "pause", "skip" ... cut in while the coach speaks (default: on with the moonshine engine '
        "when microphone and speaker run as one stream with an echo canceller)",
    )
    listen.add_argument(
        "--clear-questions",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="answer a clear knee question without the wake word (default on)",
    )
    _common(listen)
    listen.set_defaults(func=run_listen)

    answer = sub.add_parser("answer", help="answer the question spoken in a WAV file")
    answer.add_argument("wav")
    _common(answer)
    answer.set_defaults(func=run_answer)

    devices = sub.add_parser("devices", help="list microphones and speakers")
    devices.set_defaults(func=run_devices)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per turn")
    parser.add_argument(
        "--noise-suppression", metavar="LEVEL", help="0 off (default), 1-4: WebRTC noise suppression before the ear"
    )
    parser.add_argument("--out", metavar="WAV", help="render the spoken reply into this WAV instead of playing it")
    add_engine_options(parser)
    add_voice_options(parser)
    add_config_option(parser)


def run_answer(args: argparse.Namespace) -> int:
    from voicecoach.audio.chunks import wav_to_chunks
    from voicecoach.audio.front_end import cleaned, load_front_end
    from voicecoach.recognizer.base import all_clear, heard_and_sure, other_readings, transcribe_chunks
    from voicecoach.text import knowledge
    from voicecoach.text.dialogue import Dialogue
    from voicecoach.text.domain import build_domain

    config = load_settings(args)
    chunks = list(wav_to_chunks(args.wav, trailing_silence=1.0))  # read first: a bad file fails fast
    kb = knowledge.load(config.knowledge.kb)
    recognizer = open_engine(build_domain(kb), config.engine.model, config.engine.engine)
    print(f"voicecoach: {recognizer.description}", file=sys.stderr)
    front_end = load_front_end(config.audio.noise_suppression, _status)
    transcripts = transcribe_chunks(recognizer, cleaned(chunks, front_end))
    heard, sure = heard_and_sure(transcripts)
    dialogue = Dialogue(kb, confirm_unnamed=not recognizer.open_vocabulary)
    others, restored = other_readings(transcripts), other_readings(transcripts, restored=True)
    reply = dialogue.turn(heard, sure=sure, others=others, restored=restored, clear=all_clear(transcripts))
    if args.out:
        from voicecoach.voice import render_to_wav

        render_to_wav(reply.say or "Okay.", args.out, voice_of(config))
    if args.json:
        print(json.dumps({**reply.as_json(), "engine": recognizer.name}))
    else:
        print(reply.say)
    return 0


def _status(line: str) -> None:
    print(f"voicecoach: {line}", file=sys.stderr, flush=True)


def run_listen(args: argparse.Namespace) -> int:
    """The live session until Ctrl-C (SIGINT) or SIGTERM (systemd's stop). Either ends it within 2 s with the
    summary line and exit status 0: stopping the coach is its normal end, not a failure."""
    from voicecoach.app.ear import listening_ear
    from voicecoach.app.listener import Activation, ListenSettings
    from voicecoach.app.session import Session, SessionState
    from voicecoach.app.turnlog import TurnRecorder
    from voicecoach.audio.front_end import load_front_end
    from voicecoach.audio.microphone import Microphone
    from voicecoach.heap import apply_malloc_policy
    from voicecoach.text import knowledge
    from voicecoach.text.domain import build_domain
    from voicecoach.voice import Pyttsx3Synthesizer, SpokenVoice, open_voice

    apply_malloc_policy()  # before any thread starts: the arenas are fixed then
    config = load_settings(args)
    kb = knowledge.load(config.knowledge.kb)
    recognizer = open_engine(build_domain(kb), config.engine.model, config.engine.engine)
    print(f"voicecoach: {recognizer.description}", file=sys.stderr)

    on_status = _status

    turn_log = TurnRecorder(
        config.log.folder_or_default() / "turns" if config.log.turns else None,
        warn=on_status,
        max_bytes=config.log.max_kb * 1024,
        keep=config.log.keep,
    )

    def on_turn(turn: Any) -> None:
        turn_log.record(logged(turn))
        if args.json:
            print(json.dumps(turn.as_json()), flush=True)
        else:
            print(f"> {turn.heard}\n{turn.reply.say}", flush=True)

    def on_ignored(heard: str, why: str) -> None:
        if args.verbose:
            print(f"voicecoach: ignored {heard!r} ({why})", file=sys.stderr, flush=True)

    def on_state(state: SessionState) -> None:
        if args.verbose:
            print(f"voicecoach: {state.value.replace('_', ' ')}", file=sys.stderr, flush=True)

    front_end = load_front_end(config.audio.noise_suppression, on_status)
    ear, why_off = listening_ear(
        config.listen.barge_in, recognizer.name, config.audio.input, config.audio.output, on_status
    )
    settings = ListenSettings(
        activation=Activation(config.listen.activation),
        wake_word=config.listen.wake_word,
        barge_in=ear is not None,
        clear_questions=config.listen.clear_questions,
    )
    how = {
        "wake": f'say "{settings.wake_word}", then your question',
        "always": "just ask",
        "push": "press Enter, then ask",
    }[settings.activation]
    with ear.microphone if ear is not None else Microphone(config.audio.input) as mic:
        if why_off:  # once the microphone opened: without one, its own error is the one line to read
            on_status(why_off)
        duplex = ear.duplex if ear is not None else None
        voice = open_voice(config.audio.output, voice_of(config), out=None if args.json else sys.stdout, duplex=duplex)
        # The warm-up renders with the voice's own synthesiser (and its cache); without sound, with a new one.
        synthesizer = voice.synthesizer if isinstance(voice, SpokenVoice) else Pyttsx3Synthesizer()
        echo = ear.stage(voice) if ear is not None else None
        session = Session(
            kb,
            recognizer,
            voice,
            synthesizer,
            settings,
            on_turn=on_turn,
            on_ignored=on_ignored,
            on_state=on_state,
            on_status=on_status,
            echo=echo,
            front_end=front_end,
        )
        with _stop_on_signals(session):
            # Printed once the handlers are in place: from this line on, a signal ends the session cleanly.
            print(f"voicecoach: listening on {mic.device.name!r}: {how}", file=sys.stderr, flush=True)
            if settings.activation is Activation.PUSH:
                threading.Thread(target=_enter_presses, args=(session,), name="enter", daemon=True).start()
            session.run(mic)  # closes the microphone and the voice on its way out
        print(f"voicecoach: stopped ({mic.overflows} overflows, {session.ignored} utterances ignored)", file=sys.stderr)
    return 0


def logged(turn: Turn) -> LoggedTurn:
    """A turn as the turn log keeps it: answered means advice or a command acted on, not "Did you mean ...?"."""
    from voicecoach.app.turnlog import LoggedTurn
    from voicecoach.text.reply import UNMATCHED

    reply = turn.reply
    answered = reply.intent not in (None, "clarify")
    return LoggedTurn.now(
        turn.heard,
        reply.intent or UNMATCHED,
        answered=answered,
        engine=turn.engine,
        confidence=reply.confidence,
        topic=reply.topic,
    )


@contextlib.contextmanager
def _stop_on_signals(session: Session) -> Iterator[None]:
    """SIGINT and SIGTERM call `session.stop()`; a second one while it stops interrupts at once (exit 130).
    The previous handlers are restored afterwards."""

    def handler(signum: int, frame: object) -> None:
        if session.stopping:
            raise KeyboardInterrupt
        session.stop()

    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


def _enter_presses(session: Session) -> None:
    from voicecoach.app.session import PUSH_TO_TALK

    for _ in sys.stdin:
        session.post(PUSH_TO_TALK)


def run_devices(args: argparse.Namespace) -> int:
    from voicecoach.audio.devices import list_devices

    devices = list_devices()
    if not devices:
        print("no sound devices found")
    for device in devices:
        kinds = []
        if device.inputs:
            kinds.append("in" + ("*" if device.default_input else ""))
        if device.outputs:
            kinds.append("out" + ("*" if device.default_output else ""))
        print(f"{device.index:3}  {'/'.join(kinds):8} {device.name} ({device.default_rate:.0f} Hz)")
    return 0
