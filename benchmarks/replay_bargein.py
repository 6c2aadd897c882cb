"""Replay an echo-room recording's lifter words through the interrupt search, offline and repeatably.

    PYTHONPATH=. python benchmarks/bargein_room.py --engine moonshine --echo-path direct --trials 4 --record DIR
    PYTHONPATH=. python benchmarks/replay_bargein.py DIR [--engine moonshine] [--set NAME=VALUE ...]

The live room varies by 3-5 of 32 commands from run to run on this shared machine (the sound server's timing, the
interrupt search's partial results landing a chunk earlier or later), too much to tell two settings apart. This
replays the same audio instead: for each of the lifter's words in DIR/said.json (written by bargein_room.py
--record: the warm-up's commands and the "stop"s over answers), the cleaned microphone from `--before` seconds
ahead of the word to 0.8 s after it goes through the engine's interrupt search in 30 ms chunks (in the room every
word comes while the coach speaks: "resume" over the reply to "pause"), with the listener's rule for partial and
final results (`bench_bargein.InterruptRule`). A word counts as heard when its own command comes within 1 s of its
end. Commands found ahead of the word are dropped: live, the listener's rule for the coach's own words and the
near-end gate judge those, and neither is replayed here (so a word lost live to those rules is heard here).
`--set speech_spans.LOUD_SPAN_LEAD_SECONDS=0.15,0.3` replays once per value (any module-level number under
voicecoach.recognizer, or under voicecoach as `app.interrupt.STABLE_CHUNKS`), for an A/B on the same audio.

`--continuous` replays the whole recording as the room ran it instead: the cleaned microphone in one stream through
the interrupt search, the near-end gate on the microphone and the cleaned signal, the canceller's convergence on the
reference (`bench_bargein.listen`); a word counts when its command is acted on from 0.2 s before it to 1 s after
its end, and a command acted on away from every word is a false interruption. Word by word, a gym-noise recording
heard 52 of 57 where the room had acted on 43: a word decoded from a fresh stream 4 s ahead reads differently from
one in the running stream, and commands taken ahead of a word (gym babble read "it's a little bit faster" as the
lifter began "stop") are not counted. Continuously, the same recording: 44 of 57, with the room's misses.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "benchmarks"))

from bench_bargein import InterruptRule  # noqa: E402

from voicecoach.audio.chunks import read_wav  # noqa: E402
from voicecoach.audio.format import AudioChunk  # noqa: E402
from voicecoach.errors import AudioFileError  # noqa: E402
from voicecoach.recognizer.base import Recognizer  # noqa: E402

RATE = 16_000
CHUNK = 480
SEARCH_SECONDS = 1.5
"""said.json's sample count is taken when the word's last block went to the sound server; the word reaches the
recording a little later, and the recording's own clock lags behind the session's: each word is looked up by
cross-correlation within this many seconds of where said.json puts it."""


def read(path: Path) -> np.ndarray:
    """A WAV file as float samples at 16 kHz."""
    return read_wav(path).astype(np.float32) / 32768


def normalised_xcorr(signal: np.ndarray, word: np.ndarray) -> np.ndarray:
    """The correlation of `word` with each window of `signal`, normalised by both energies (1: the same shape)."""
    size = 1 << (len(signal) + len(word) - 2).bit_length()
    dot = np.fft.irfft(np.fft.rfft(signal, size) * np.fft.rfft(word[::-1], size), size)[len(word) - 1 : len(signal)]
    energy = np.sqrt(np.maximum(np.convolve(signal**2, np.ones(len(word)), "valid"), 1e-12)) * np.linalg.norm(word)
    result: np.ndarray = dot / energy
    return result


def placed_words(folder: Path, mic: np.ndarray) -> list[tuple[int, int, str, str]]:
    """(start sample, length, word, voice) of each of the lifter's words in the recording."""
    placed = []
    for said in json.loads((folder / "said.json").read_text()):
        word = read(Path(said["file"]))
        word = word[np.flatnonzero(np.abs(word) > 0.01)[0] :]  # from its first sound
        guess = said["end"] - len(word)
        low = max(0, guess - int(SEARCH_SECONDS * RATE))
        around = mic[low : guess + len(word) + int(SEARCH_SECONDS * RATE)]
        if len(around) < len(word):
            continue
        start = low + int(np.argmax(normalised_xcorr(around, word)))
        placed.append((start, len(word), said["word"], said["voice"]))
    return placed


def heard_in_time(
    recognizer: Recognizer, cleaned: np.ndarray, start: int, length: int, word: str, before: float
) -> str:
    """What the interrupt search acted on for one word ("" if nothing within 1 s of its end), listener's rule."""
    first = max(0, start - int(before * RATE))
    audio = (cleaned[first : start + length + int(0.8 * RATE)] * 32768).astype("<i2")
    end = (start + length - first) / RATE
    recognizer.reset()
    rule = InterruptRule()  # no gate, no coach's words: see the module's docstring
    for at in range(0, len(audio) - CHUNK + 1, CHUNK):
        final = recognizer.accept(AudioChunk(audio[at : at + CHUNK].tobytes(), RATE, at / RATE))
        _, commands = rule.commands(recognizer, final)
        now = (at + CHUNK) / RATE
        if not commands or (commands[0] != word and now < end) or now < end - length / RATE - 0.1:
            continue  # nothing, or something ahead of the word (live, the coach's-words rule judges that)
        return commands[0] if now - end <= 1.0 else ""
    return ""


def continuous(
    folder: Path, engine: str, placed: list[tuple[int, int, str, str]], misses: bool = False
) -> tuple[dict[str, list[bool]], list[str]]:
    """The recording replayed in one stream (see `--continuous`): per voice, each word heard or not; the false
    interruptions (command and what it was read from). `misses`: print each word missed, with the search's
    readings from 1 s before it to 1 s after (a "*" marks those read while the near-end gate was shut)."""
    from bench_bargein import Playback, listen

    mic, cleaned, reference = (
        (read(folder / f"{name}.wav") * 32768).astype(np.int16) for name in ("mic", "cleaned", "reference")
    )
    chunks = np.arange(0, len(reference) - CHUNK + 1, CHUNK)
    speaking = [float(np.sqrt(np.mean(reference[at : at + CHUNK].astype(np.float64) ** 2))) > 100 for at in chunks]
    spans, start = [], None
    for at, on, nxt in zip(chunks, speaking, [*speaking[1:], False], strict=True):
        start = at if on and start is None else start
        if start is not None and not on and not nxt:  # the coach's clips: speech with gaps under 2 chunks
            spans.append((int(start), int(at), ""))
            start = None
    trace: list[tuple[int, str, bool]] = []
    found = listen(cleaned, Playback(reference, spans), mic, engine=engine, trace=trace)
    per_voice: dict[str, list[bool]] = {}
    used = set()
    for start, length, word, voice in placed:
        hits = [k for k, d in enumerate(found) if start - RATE // 5 <= d.sample <= start + length + RATE]
        used.update(hits)
        per_voice.setdefault(voice, []).append(any(found[k].word == word for k in hits))
        if misses and not per_voice[voice][-1]:
            readings = [f"{h!r}{'' if n else '*'}" for s, h, n in trace if start - RATE <= s <= start + length + RATE]
            acted = [found[k].word for k in hits]
            print(f"    missed {word!r} ({voice}) at {start / RATE:.1f} s, acted {acted}: {' '.join(readings)}")
    false = [f"{d.word} ({d.heard!r}) at {d.sample / RATE:.1f} s" for k, d in enumerate(found) if k not in used]
    return per_voice, false


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a bargein_room.py --record folder")
    parser.add_argument("--engine", default="moonshine")
    parser.add_argument("--before", type=float, default=4.0, help="seconds of the recording ahead of each word")
    parser.add_argument("--set", action="append", default=[], help="MODULE.NAME=V1,V2: replay once per value")
    parser.add_argument("--misses", action="store_true", help="list each word not heard, and what was instead")
    parser.add_argument("--continuous", action="store_true", help="the whole recording in one stream, as the room ran")
    args = parser.parse_args()
    from voicecoach.recognizer import open_recognizer
    from voicecoach.text.domain import build_domain
    from voicecoach.text.knowledge import load

    try:
        mic, cleaned = read(args.folder / "mic.wav"), read(args.folder / "cleaned.wav")
        placed = placed_words(args.folder, mic)
    except (AudioFileError, OSError, ValueError, KeyError) as err:
        print(f"replay_bargein: {args.folder}: not a bargein_room.py --record folder ({err})", file=sys.stderr)
        return 2
    settings: list[list[tuple[types.ModuleType, str, float]]] = [[]]
    for item in args.set:
        name, _, values = item.partition("=")
        module_name, _, attribute = name.rpartition(".")
        try:
            target = importlib.import_module(f"voicecoach.recognizer.{module_name}")
        except ModuleNotFoundError:
            target = importlib.import_module(f"voicecoach.{module_name}")
        settings = [[*s, (target, attribute, float(v))] for s in settings for v in values.split(",")]
    recognizer = open_recognizer(build_domain(load()), engine=args.engine)
    recognizer.commands_only(True)
    recognizer.interrupt_only(True)
    print(f"{len(placed)} lifter words in {args.folder}; engine {recognizer.name}")
    for setting in settings:
        for module, attribute, value in setting:
            setattr(module, attribute, value)
        label = ", ".join(f"{attribute}={value:g}" for _, attribute, value in setting) or "as configured"
        if args.continuous:
            per_voice, false = continuous(args.folder, args.engine, placed, args.misses)
            total = sum(sum(v) for v in per_voice.values())
            cells = "  ".join(f"{voice} {sum(v)}/{len(v)}" for voice, v in per_voice.items())
            print(f"{label}: {total}/{len(placed)} acted on in the stream  ({cells}); false: {len(false)} {false}")
            continue
        per_voice = {}
        for start, length, word, voice in placed:
            acted = heard_in_time(recognizer, cleaned, start, length, word, args.before)
            per_voice.setdefault(voice, []).append(acted == word)
            if args.misses and acted != word:
                print(f"    missed {word!r} ({voice}) at {start / RATE:.1f} s: {acted or 'nothing'}")
        total = sum(sum(v) for v in per_voice.values())
        cells = "  ".join(f"{voice} {sum(v)}/{len(v)}" for voice, v in per_voice.items())
        print(f"{label}: {total}/{len(placed)} heard within 1 s  ({cells})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
