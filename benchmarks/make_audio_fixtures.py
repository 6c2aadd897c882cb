"""Render the spoken test fixtures in audio/ again (16 kHz mono 16-bit WAVs named by what they say).

Run from the repository root: .venv/bin/python benchmarks/make_audio_fixtures.py [--only NAME ...]
Needs espeak-ng and sox (apt-get install espeak-ng sox). Each file is `espeak-ng -v VOICE -s RATE -w`,
then `sox -R in.wav -r 16000 -c 1 -b 16 out.wav` (-R: the same dither every
time, so the same bytes). The committed files are what the tests hear: render them
again only on purpose (a new phrase, or to move to another espeak-ng), then run the tests and say which
espeak-ng version made them in audio/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout's package and test lists

import test_end_to_end  # noqa: E402
import test_recognizer_moonshine  # noqa: E402
import test_recognizer_pocketsphinx  # noqa: E402
from conftest import AUDIO, fixture_name  # noqa: E402

VOICES: dict[str, tuple[str, int]] = {
    "": ("en-us", 175),
    "en_165wpm": ("en", 165),
    "en_us_140wpm": ("en-us", 140),
    "en_200wpm": ("en", 200),
    "en_us_150wpm": ("en-us", 150),
}
"""Folder under audio/ -> (espeak-ng voice, words per minute). "": audio/ itself, espeak-ng's en-us at its
default rate; en_165wpm, en_us_140wpm, en_200wpm: the three voices of tests/test_end_to_end.py (pyttsx3's
default voice is "en"); en_us_150wpm: the commands and the coach's words of tests/test_recognizer_moonshine.py,
in bench_bargein.py's espeak-ng voice."""

FIXTURES: dict[str, list[str]] = {
    "": [
        *[speech for speech, _ in test_recognizer_pocketsphinx.WAKE_PHRASES],
        "what is the weather tomorrow",
        *[speech for speech, _ in test_recognizer_pocketsphinx.HELD_OUT],
        *test_recognizer_pocketsphinx.OFF_TOPIC,
    ],
    **{
        folder: [text for text, _ in test_end_to_end.QUESTIONS] + test_end_to_end.NOT_KNEE
        for folder in ("en_165wpm", "en_us_140wpm", "en_200wpm")
    },
    "en_us_150wpm": [*test_recognizer_moonshine.INTERRUPTING, *test_recognizer_moonshine.COACH_SAYS],
}
"""Folder -> what is said there: what the tests that recognise speech hear."""
OTHER_VOICE = {"slow_down": "en-us+f2", "coach_start_the_warm_up": "en-us+klatt"}
"""PocketSphinx hears these wrong in plain en-us once sox has resampled them ("slow down" -> "hotel", "start the
warm up" -> "bottom are up"); these en-us variants decode right, so the tests keep their assertions."""
SILENCE = {"silence_2s": 2.0}


def render(text: str, voice: str, rate: int, out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(raw), text], check=True)
        subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="file names (e.g. coach_stop, en_200wpm/coach_stop) to render")
    args = parser.parse_args()
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"make_audio_fixtures: needs {' and '.join(missing)} (apt-get install espeak-ng sox)")
    wanted = set(args.only or [])
    for folder, texts in FIXTURES.items():
        rate = VOICES[folder][1]
        (AUDIO / folder).mkdir(parents=True, exist_ok=True)
        for text in texts:
            name = fixture_name(f"{folder}/{text}" if folder else text)
            if wanted and name not in wanted:
                continue
            out = AUDIO / f"{name}.wav"
            voice = OTHER_VOICE.get(name, VOICES[folder][0])
            render(text, voice, rate, out)
            print(f"{out.relative_to(REPO)}: {voice} {rate} wpm, {out.stat().st_size // 1024} kB, {text!r}")
    for name, seconds in SILENCE.items():
        if not wanted or name in wanted:
            out = AUDIO / f"{name}.wav"
            subprocess.run(
                ["sox", "-D", "-n", "-r", "16000", "-c", "1", "-b", "16", str(out), "trim", "0", str(seconds)],
                check=True,
            )
            print(f"{out.relative_to(REPO)}: {seconds:g} s of digital silence")


if __name__ == "__main__":
    main()
