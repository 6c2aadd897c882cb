"""The first answer of a session: how soon a "stop" over it is heard, and whether the echo is taken for one.

    PYTHONPATH=. python benchmarks/bench_convergence.py [--cancellers speex-residual,webrtc] [--engine moonshine]
        [--at 1.5,2.5,3.5] [--answers 20] [--ser -6]

Each answer of the knowledge base is played as the first of a session: a fresh canceller, near-end gate and
convergence (audio.echo_trust), through bench_bargein.py's echo path (40 ms, then a 150 ms room response; the echo
`--ser` dB against the lifter's -26 dBFS). Two rules for when the canceller is trusted:
  * fixed: CONVERGE_SECONDS of the coach's voice;
  * measured: that, or sooner once CONVERGED_ERLE_DB shows over CONVERGED_WINDOW_SECONDS (the stage's rule).
Reported per canceller and rule: seconds of the coach's voice until trusted (median, max), interruptions with no
lifter at all (the echo taken for a command), and "stop" said `--at` seconds into the answer (answers take the
offsets in turn) heard within 1.5 s of the word's end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_bargein import (  # noqa: E402
    LIFTER_DBFS,
    RATE,
    Playback,
    cancel,
    echo_path,
    fft_convolve,
    listen,
    render_coach,
    render_words,
    rms,
)

from voicecoach.audio.echo_trust import CONVERGE_SECONDS, Convergence  # noqa: E402

RULES = ("fixed", "measured")


def convergence_for(rule: str) -> Convergence:
    return Convergence(erle_db=None) if rule == "fixed" else Convergence()


def trusted_after(playback: np.ndarray, mic: np.ndarray, cleaned: np.ndarray, rule: str) -> float:
    """Seconds of the coach's voice the rule needs before it trusts the canceller (CONVERGE_SECONDS at most)."""
    convergence = convergence_for(rule)
    chunk = 480
    for at in range(0, len(cleaned) - chunk + 1, chunk):
        if convergence.update(playback[at : at + chunk], mic[at : at + chunk], cleaned[at : at + chunk]):
            return convergence.heard / RATE
    return float("inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cancellers", default="speex-residual,webrtc")
    parser.add_argument("--engine", default="moonshine")
    parser.add_argument("--at", default="1.5,2.5,3.5", help="seconds into the answer the lifter says stop")
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--ser", type=float, default=-6.0, help="lifter RMS minus echo RMS, dB")
    args = parser.parse_args()
    offsets = [float(x) for x in args.at.split(",")]
    from voicecoach.recognizer import open_recognizer
    from voicecoach.text.domain import build_domain
    from voicecoach.text.knowledge import load

    cache = Path(tempfile.gettempdir()) / "voicecoach-bargein"
    print(f"rendering (cache {cache}) ...", flush=True)
    words = render_words(cache)
    stops = [table["stop"] for table in words.values()]
    _, answers = render_coach(0.1)
    recognizer = open_recognizer(build_domain(load()), engine=args.engine)
    h = echo_path()
    lifter_rms = 10 ** (LIFTER_DBFS / 20) * 32768
    rows = []
    for name in args.cancellers.split(","):
        figures: dict[str, dict[str, list[float]]] = {rule: {"trusted": [], "false": [], "heard": []} for rule in RULES}
        for index, (start, end, text) in enumerate(answers.spans[: args.answers]):
            clip = np.concatenate([answers.audio[start:end], np.zeros(RATE, np.int16)])
            playback = Playback(clip, [(0, end - start, text)])
            echo = fft_convolve(clip.astype(np.float64), h)
            echo *= lifter_rms / 10 ** (args.ser / 20) / rms(echo[: end - start])
            said = int(offsets[index % len(offsets)] * RATE)
            stop = stops[index % len(stops)]
            lifter = np.zeros(len(echo))
            lifter[said : said + len(stop)] = stop[: len(lifter) - said]
            for with_lifter in (False, True):
                mic = np.clip(echo + (lifter if with_lifter else 0), -32768, 32767).astype(np.int16)
                cleaned, _, _ = cancel(name, mic, clip)
                for rule in RULES:
                    trust = convergence_for(rule)
                    found = listen(cleaned, playback, mic, args.engine, True, convergence=trust, recognizer=recognizer)
                    if with_lifter:
                        word_end = said + len(stop)
                        hit = any(d.word == "stop" and said <= d.sample <= word_end + int(1.5 * RATE) for d in found)
                        figures[rule]["heard"].append(float(hit))
                    else:
                        figures[rule]["false"].append(float(len(found)))
                        figures[rule]["trusted"].append(trusted_after(clip, mic, cleaned, rule))
            print(f"  {name} answer {index + 1}: " + ", ".join(
                f"{rule} trusted {figures[rule]['trusted'][-1]:.1f} s, false {figures[rule]['false'][-1]:.0f}, "
                f"stop at {said / RATE:g} s {'heard' if figures[rule]['heard'][-1] else 'missed'}"
                for rule in RULES
            ), flush=True)  # fmt: skip
        for rule, f in figures.items():
            rows.append((name, rule, f))
    print(f"\nfirst answer of a session; echo {-args.ser:+.0f} dB over the lifter; engine {args.engine}; "
          f"CONVERGE_SECONDS {CONVERGE_SECONDS:g}")  # fmt: skip
    print(f"{'canceller':15} {'rule':9} {'trusted after (median/max s)':>29} {'false':>6}  stop heard at " + args.at)
    for name, rule, f in rows:
        per_offset = [f["heard"][i :: len(offsets)] for i in range(len(offsets))]
        heard = [f"{sum(hits):.0f}/{len(hits)}" for hits in per_offset]
        trusted = np.array(f["trusted"])
        print(
            f"{name:15} {rule:9} {np.median(trusted):>20.1f} / {trusted.max():<6.1f} {sum(f['false']):>6.0f}  "
            + "  ".join(heard)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
