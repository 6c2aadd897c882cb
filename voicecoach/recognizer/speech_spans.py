"""Where the speech is within one utterance, read off its 10 ms levels: the pause after the wake word (a second
hearing decodes what follows it) and the loud part a lifter calls close to the microphone (the interrupt search
decodes only that). Engine-agnostic: float audio in, sample positions out."""

from __future__ import annotations

import numpy as np

from voicecoach.audio.format import SAMPLE_RATE

WAKE_PAUSE_SECONDS = 0.12
"""A lifter's pause after the wake word ("hey coach, my knee ..."): at least this long, 0.25-1.6 s into the
utterance. Decoded with the wake word before it, the question came out worse: "hey coach my right leader is after
squatting" for "my right knee hurts after squatting" (quiet held-out questions, 4 voices, benchmarks/bench_ear.py:
the listen path 8 points under the file), so `Transcript.rehear` decodes the audio after that pause alone."""
PAUSE_BELOW_DB = 20.0
"""A 10 ms frame is part of a pause when it is this far under the utterance's loud frames (95th percentile): in
gym noise 20 dB under the voice the pause still shows; at 10 dB it does not, and there is no second hearing."""
LOUD_SPAN_DB = 15.0
"""In the interrupt search the model hears only the loud part of what it decodes: from the first to the last 10 ms
frame within this many dB of the loudest (see LOUD_SPAN_SMOOTH_FRAMES; plus LOUD_SPAN_LEAD_SECONDS before and
LOUD_SPAN_PAD_SECONDS after). The lifter calls a command close to the microphone; gym chatter 20 dB under it, left
in, decoded as words around the command ("you can see that it's a ...") and the command was lost or late."""
LOUD_SPAN_LEAD_SECONDS = 0.3
"""A word's soft onset sits further from its loud part than its tail does: Festival's "skip" in the echo room, its
"s" 12 dB under the vowel and a 60 ms "k" closure before it, lost the "s" with 0.15 s and was read "Yeah." (0 of 4;
with 0.3 s, "Skip."). Replayed from the echo room's recordings (the cleaned microphone around each of the lifter's
words, 4 voices, through the interrupt search; benchmarks/bargein_room.py --record): quiet 49 -> 54 of 61, gym
noise 20 dB under the lifter 48 -> 53 of 64; 0.2 s 51, 0.4 and 0.5 s 51 of 64 (more of the noise before the word)."""
LOUD_SPAN_PAD_SECONDS = 0.15
LOUD_SPAN_SMOOTH_FRAMES = 8
""""The loudest" is the loudest run of this many frames (80 ms), a syllable, not a plosive's burst. Festival's
"skip" peaks 21 dB over its vowel in the "p"; measured from that 10 ms burst, the span began after the "s" and the
model read "kip" as "Yeah." (0 of 3 in the echo room; whole: "Skip."). The 36 command words of
benchmarks/bench_bargein.py read greedily from their span: 7 wrong from the loudest frame, 6 from the loudest
80 ms (Festival's "skip" mended, nothing lost)."""


def frame_levels_db(samples: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The level of each whole 10 ms frame of float audio, in dB (full scale 0)."""
    step = rate // 100
    frames = len(samples) // step
    rms = np.sqrt(np.mean(samples[: frames * step].reshape(frames, step) ** 2, axis=1))
    levels: np.ndarray = 20 * np.log10(rms + 1e-7)
    return levels


def pause_after_lead(samples: np.ndarray, rate: int = SAMPLE_RATE) -> int | None:
    """The sample where speech resumes after the first pause of `WAKE_PAUSE_SECONDS` that starts 0.25-1.6 s into
    the utterance (less 50 ms, so the next word keeps its onset), or None if there is none."""
    step = rate // 100
    level = frame_levels_db(samples, rate)
    frames = len(level)
    if frames < 30:
        return None
    quiet = level < np.percentile(level, 95) - PAUSE_BELOW_DB
    speaking = np.flatnonzero(~quiet)
    if not len(speaking):
        return None
    first = int(speaking[0])
    index, limit = first + 25, min(frames, first + 160)
    while index < limit:
        if quiet[index]:
            end = index
            while end < frames and quiet[end]:
                end += 1
            if end - index >= WAKE_PAUSE_SECONDS * 100 and end < frames:
                return max(0, end * step - rate // 20)
            index = end
        else:
            index += 1
    return None


def loud_span(samples: np.ndarray, rate: int = SAMPLE_RATE) -> slice:
    """Where in `samples` the loud part is: from the first to the last frame within LOUD_SPAN_DB of the loudest,
    from LOUD_SPAN_LEAD_SECONDS before it to LOUD_SPAN_PAD_SECONDS after, within the samples."""
    step = rate // 100
    level = frame_levels_db(samples, rate)
    if len(level) < 2:
        return slice(0, len(samples))
    window = min(LOUD_SPAN_SMOOTH_FRAMES, len(level))
    loudest = 10 * np.log10(np.convolve(10 ** (level / 10), np.ones(window) / window, mode="valid").max() + 1e-14)
    loud = np.flatnonzero(level >= loudest - LOUD_SPAN_DB)
    lead, pad = int(LOUD_SPAN_LEAD_SECONDS * rate), int(LOUD_SPAN_PAD_SECONDS * rate)
    return slice(max(0, int(loud[0]) * step - lead), min(len(samples), (int(loud[-1]) + 1) * step + pad))
