"""`voicecoach model download|path` and `voicecoach transcribe FILE.wav`.

Errors are raised as `voicecoach.errors` exceptions; `cli.main` prints them as one line with their exit status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voicecoach.recognizer import models


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    model = subparsers.add_parser("model", help="install or show the speech model")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    download = model_sub.add_parser("download", help=f"fetch and install {models.DEFAULT_MODEL.name} (~40 MB)")
    download.add_argument("--from-file", metavar="ZIP", help="install a model zip already on disk (no network)")
    download.add_argument("--url", default=models.DEFAULT_MODEL.url, help="where to download the zip from")
    download.add_argument("--name", default=models.DEFAULT_MODEL.name, help="folder name under the models folder")
    download.add_argument("--sha256", help="expected SHA-256 of the zip")
    download.set_defaults(func=run_download)
    path = model_sub.add_parser("path", help="show which model and engine are used")
    _add_model_option(path)
    path.set_defaults(func=run_path)

    transcribe = subparsers.add_parser("transcribe", help="print what the recogniser hears in a WAV file")
    transcribe.add_argument("wav", metavar="FILE.wav")
    transcribe.add_argument("--words", action="store_true", help="also print each word's time and confidence")
    transcribe.add_argument("--kb", metavar="PATH", help="use this knowledge-base file or folder")
    _add_model_option(transcribe)
    transcribe.set_defaults(func=run_transcribe)


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: never overwrite a --model the top-level parser may already have parsed.
    parser.add_argument(
        "--model", metavar="PATH", default=argparse.SUPPRESS, help=f"Vosk model folder (or ${models.ENV_MODEL})"
    )


def run_download(args: argparse.Namespace) -> int:
    if args.from_file:
        target = models.install_zip(Path(args.from_file), args.name)
    else:
        source = models.ModelSource(args.name, args.url, sha256=args.sha256)
        print(f"downloading {source.url}", file=sys.stderr)
        target = models.download(source)
    print(f"installed {target}")
    return 0


def run_path(args: argparse.Namespace) -> int:
    from voicecoach.recognizer import describe_choice

    print(describe_choice(getattr(args, "model", None)))
    print(f"models folder: {models.data_dir()}")
    return 0


def run_transcribe(args: argparse.Namespace) -> int:
    from voicecoach.audio.chunks import wav_to_chunks
    from voicecoach.cli.options import open_engine
    from voicecoach.recognizer import transcribe_chunks
    from voicecoach.text import knowledge
    from voicecoach.text.domain import build_domain

    chunks = list(wav_to_chunks(args.wav, trailing_silence=0.6))  # read first: a bad WAV fails before model load
    recognizer = open_engine(build_domain(knowledge.load(args.kb)), getattr(args, "model", None))
    print(recognizer.description, file=sys.stderr)
    if recognizer.missing_words:
        print(
            f"model lacks {len(recognizer.missing_words)} domain words: "
            f"{', '.join(sorted(recognizer.missing_words)[:10])}",
            file=sys.stderr,
        )
    for transcript in transcribe_chunks(recognizer, chunks):
        conf = f" ({transcript.confidence:.2f})" if transcript.confidence is not None else ""
        print(f"{transcript.text or '[nothing in the domain]'}{conf}")
        if args.words:
            for word in transcript.words:
                c = f"{word.confidence:.2f}" if word.confidence is not None else "-"
                print(f"  {word.start:6.2f} {word.end:6.2f} {c:>5} {word.text}")
    return 0
