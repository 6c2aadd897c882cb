"""voicecoach: an offline voice coach for knee pain on the gym floor.

Say (or type) what hurts; hear the likely cause, the fix and short form cues.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

from voicecoach import __version__
from voicecoach.cli import config, doctor, listen, log, model, service, warmup
from voicecoach.errors import VoicecoachError

if TYPE_CHECKING:
    from voicecoach.text.reply import Reply
    from voicecoach.voice.base import Voice

MAX_LINE_BYTES = 64 * 1024
"""Longer stdin lines are cut before decoding: a 100 kB line costs nothing and loses nothing after it."""


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """One line per message on whatever sys.stderr is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)
        super().emit(record)


@contextlib.contextmanager
def terminal_logging() -> Iterator[None]:
    """While a command runs, what the library logs (logger "voicecoach": microphone, sound output) reaches the
    terminal as "voicecoach: message" on stderr, like every other message of the CLI. Only the CLI does this,
    and it undoes it afterwards (tests call `main` in-process)."""
    logger = logging.getLogger("voicecoach")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("voicecoach: %(message)s"))
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # pyttsx3 calls logging.debug() at import, which gives the root logger a handler
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def main(argv: Sequence[str] | None = None) -> int:
    with terminal_logging():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if handler is None:
        return _usage(parser)
    try:
        return handler(args)
    except VoicecoachError as err:
        print(f"voicecoach: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `voicecoach ... | head`
        sys.stderr.close()
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicecoach", description=__doc__)
    parser.add_argument("--version", action="version", version=f"voicecoach {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    ask = sub.add_parser("ask", help="answer a typed question as the coach would say it")
    ask.add_argument("text", nargs="+", help='the question, or "-" to read one per line from stdin')
    ask.add_argument("--json", action="store_true", help="one JSON object per answer")
    ask.add_argument("--conversation", action="store_true", help="with -: carry context from line to line")
    ask.add_argument("--out", metavar="WAV", help="also render the spoken reply into this WAV file")
    ask.add_argument("--speak", action="store_true", help="also say the reply aloud")
    _add_kb(ask)
    ask.set_defaults(func=run_ask)

    topics = sub.add_parser("topics", help="list what the coach knows")
    topics.add_argument("--json", action="store_true")
    _add_kb(topics)
    topics.set_defaults(func=run_topics)

    kb = sub.add_parser("kb", help="knowledge-base tools")
    kb_sub = kb.add_subparsers(metavar="ACTION")
    check = kb_sub.add_parser("check", help="validate a knowledge-base file or folder")
    check.add_argument("path", nargs="?", help="file or folder (default: the shipped intents/)")
    check.set_defaults(func=run_kb_check)
    kb.set_defaults(func=lambda _args: _usage(kb))

    for module in (warmup, listen, model, config, service, log, doctor):
        module.register(sub)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _add_kb(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kb", metavar="PATH", help="use this knowledge-base file or folder")


def stdin_lines(stream: BinaryIO) -> Iterator[str]:
    """Lines of stdin as text whatever they contain: invalid UTF-8 and huge lines never stop the batch."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES)
        if not raw:
            return
        if not raw.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # drop the tail of an over-long line
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def run_ask(args: argparse.Namespace) -> int:
    from voicecoach.text import knowledge
    from voicecoach.text.dialogue import Dialogue

    dialogue = Dialogue(knowledge.load(args.kb))
    if args.text == ["-"]:
        voice = _speaker(args)
        for line in stdin_lines(sys.stdin.buffer):
            if not args.conversation:
                dialogue.reset()
            _emit(dialogue.turn(line), args.json, voice)
        return 0
    reply = dialogue.turn(" ".join(args.text))
    if args.out:
        from voicecoach.voice import render_to_wav

        render_to_wav(reply.say or "Okay.", args.out)
    _emit(reply, args.json, _speaker(args))
    return 0


def _speaker(args: argparse.Namespace) -> Voice | None:
    if not args.speak:
        return None
    from voicecoach.voice import open_voice

    return open_voice(out=None)  # the reply is printed already


def _emit(reply: Reply, as_json: bool, voice: Voice | None) -> None:
    if as_json:
        print(json.dumps(reply.as_json(), ensure_ascii=False), flush=True)
    else:
        print(reply.say, flush=True)
    if voice is not None and reply.say:
        voice.say(reply.say)


def run_topics(args: argparse.Namespace) -> int:
    from voicecoach.text import knowledge

    kb = knowledge.load(args.kb)
    for topic in kb.topics:
        if args.json:
            print(json.dumps({"id": topic.id, "title": topic.title, "cues": list(topic.cues)}))
        else:
            print(f"{topic.id:26} {topic.title}")
            print(f"{'':26} cues: {' / '.join(topic.cues)}")
    if not args.json:
        commands = ", ".join(c.id.replace("_", " ") for c in kb.commands)
        print(f"\ncommands: {commands}")
    return 0


def run_kb_check(args: argparse.Namespace) -> int:
    from voicecoach.text import knowledge
    from voicecoach.text.kbcheck import problems

    kb = knowledge.load(args.path)
    found = problems(kb)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        return 2
    count = sum(1 for _ in kb.phrasings())
    print(f"ok: {len(kb.topics)} topics, {len(kb.commands)} commands, {count} phrasings all route to their intent")
    return 0
