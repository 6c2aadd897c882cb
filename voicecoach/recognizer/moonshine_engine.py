"""Moonshine tiny as a `Recognizer`: our endpointer cuts the utterance, the neural model decodes it at its end.

A neural acoustic model degrades far more gently in gym noise than PocketSphinx's GMMs (measured with
benchmarks/bench_ear.py); it is open-vocabulary, so off-topic speech decodes as itself and the matcher
rejects it, and it is nudged towards the knowledge base's words by `ContextBias`. It gives no word
confidences (the dialogue then relies on the matcher's own gates) and, in the open search, no partial results.
In the interrupt search (barge-in) a partial result decodes the utterance's last 1.5 s, a short silence ends the
utterance, and the decoder is nudged towards the interrupting commands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicecoach.audio.format import SAMPLE_RATE, AudioChunk
from voicecoach.commands import Command
from voicecoach.errors import ModelError
from voicecoach.recognizer.base import Reading, Transcript
from voicecoach.recognizer.command_readings import command_readings
from voicecoach.recognizer.endpoint import CLOSING_FRAMES, StreamEndpointer, frames_of
from voicecoach.recognizer.knee_readings import (
    AFTER_WAKE,
    CLEAR_DB,
    KNEE_PRIOR,
    WITHIN,
    after_wake,
    knee_variants,
)
from voicecoach.recognizer.language_model import BARGE_IN_WORDS
from voicecoach.recognizer.moonshine_model import MAX_COPIES, THREADS, Encoded, MoonshineModel, bundled_model_dir
from voicecoach.recognizer.moonshine_tokens import WORD_START, ContextBias, Tokenizer
from voicecoach.recognizer.speech_spans import frame_levels_db, loud_span, pause_after_lead
from voicecoach.text.domain import GARBAGE, PREFIXES, Domain
from voicecoach.text.words import WAKE_ALIKES

BIAS = 2.5
"""Logit bonus for a step that starts or continues one of `bias_words`. Quiet held-out questions, 4 voices, knee
questions right / wrong advice and commands right (benchmarks/bench_ear.py, the knee still had to be named):
greedy 3.5: 52.6% / 2.4%, 75.4%; beam 4 at 2.5: 64.5% / 1.6%, 79.8%; at 3.5: 64.5% / 2.1%, 74.2%; at 5.0:
62.1% / 2.4%, 55.6%; beam 8 at 3.5: 70.0% / 1.6% but commands 67.7%. Chosen on that set, so bench_ear's moonshine
figures are a little flattering."""
INTERRUPT_BIAS = 2.5
"""The bonus in the interrupt search, towards the commands that may cut in (benchmarks/bench_bargein.py, speex,
10 min, 4 voices, with the tokenizer's own spellings): warm-up commands heard / "stop" over answers, of 39 / 40,
no false interruption in any: bias 1.5 31 / 38, 2.5 34 / 39, 3.5 33 / 39, 5.0 32 / 35. (Along longest-match
spellings, 5.0 had been best: 30 / 39.)"""
BEAM = 6
"""Beam width of the open search (the question). Greedy decoding commits at the first token, and an utterance's
first word is where the model is least sure: "knee pain after cardio" came out as "we paint ...". At bias 2.5 (as
`BIAS`): width 4 64.5%, 6 66.3%, 8 67.9% right; one decode of a question took 90 ms greedy, 113 ms at width 6 and
138 ms at 8 (two x86 cores, quiet machine)."""
KNEE_BIAS = 1.0
"""A further bonus for starting the word every knee question names ("knee", "knees": one first piece). Without it
the model heard another word there in every voice ("please feel bad after squatting", "my lead is locked", "what
is the best need exercise"). Quiet held-out questions, 4 voices, right / wrong advice / out-of-domain advice
(benchmarks/bench_ear.py, answer path): 0: 85.3 / 1.6 / 0.7%, 1.0: 87.6 / 1.6 / 1.0%, 2.0: 88.7 / 1.8 / 1.0%.
The gain is mostly espeak-ng's (70.5 -> 77.9% for en+m3), Festival's 94.7 -> 95.8%, Piper's none (96.8%), so
the smaller bonus: chosen on that set, as BIAS was."""
READINGS_WITHIN = 4.0
"""The beam's other readings of a question kept for the dialogue (`Transcript.alternatives`): those scored within
this many nats (log-probability plus bias) of the best. Chosen with benchmarks/bench_ear.py (see `--readings`)."""
COMMAND_MARGIN = 4.5
"""At the end of an utterance in the interrupt search, when the greedy reading holds no interrupting word, each
command is scored as the whole utterance ("Skip."); the best is taken if the model finds it at most this many
nats less likely than its own reading. The lifter's words rendered clean (4 voices, 9 commands): greedy missed
espeak-ng's "resume" ("missing", 3.6 nats over "Resume."), Festival's ("for assume", 2.1) and espeak-ng's
"quieter" ("quiet", 4.4); counts and cues ("Seven.", "Push your knee out.") score commands 6-14 nats under.
Checked for false interruptions with benchmarks/bench_bargein.py (0: off)."""
COMMAND_LEAD = 1.0
"""... and only if it beats the next command by this many nats: an unclear sound is no command."""
INTERRUPT_COMMAND_MARGIN = 8.0
INTERRUPT_COMMAND_LEAD = 2.0
"""The same in the interrupt search (the coach speaks; the lifter's word cut out by its loud part), with a wider
margin. Over gym babble 20 dB under the lifter, a command read as a short everyday word ("all" and "i'll" for
espeak-ng's "pause", "it's kept" for Piper's "skip") scored the right command first, 2.5-4.6 nats clear of the next,
but 5.4-7.8 nats under the model's own reading. Three echo-room recordings replayed as the room ran them
(`benchmarks/replay_bargein.py DIR --continuous`; gym noise, gym noise, quiet; 57 + 60 + 60 lifter words, espeak-ng
x2, Festival, Piper), with `interrupt.chunks_to_hold`, margin / lead: 4.5 / 1 (the quiet margin) 47 + 51 + 53;
6 / 2 50 + 51 + 55; 8 / 2 53 + 54 + 56; 8 / 1 54 + 56 + 56; 10 / 1 54 + 56 + 58; no false interruption in any (the
recordings' 30 s of warm-up without a lifter, 12 answers each), and no command taken for another that 8 / 2 did
not take too (Festival's "skip" read "stop" in both). Offline (benchmarks/bench_bargein.py --engine moonshine
--cancellers speex [--noise], 10 min routine and 20 answers, quiet / gym noise) 8 / 2 and 10 / 1 alike: warm-up
38 / 36 of 39, "stop" over answers 39 / 38 of 40, no false detection. But a fourth recording (quiet) held the
coach's own "Set one of four, bodyweight squats" as it started a warm-up, cancelled only partly, and scored whole it
was "Stop." with a lead of 1 (at 4.5 and at 10 nats) and not with 2: the warm-up stopped with no lifter. So 8 / 2."""
COMMAND_READING_WORDS = 2
"""... and only when the model's own reading has at most this many different words: a command misread ("missing",
"for assume"), or a decoder loop on one ("to get to get to get to" for Piper's "skip", "f f f f f f"). More is a
sentence: gym chatter over the coach's "Starting the warm-up", read "and start to start to start to start", scored
"Stop." whole and stopped the warm-up (echo room, gym noise, a false stop)."""
HEARD_QUIET_FRAMES = 5
"""The open search decodes an utterance through this many frames (150 ms) of its closing silence, not all of it
(`endpoint.CLOSING_FRAMES`, 300 ms), and decodes it as soon as they have passed: if the silence then holds, the
endpointer's close finds the words ready. The decode took 160-420 ms on two x86 cores, all of it after the close
before: in the PulseAudio room the reply came 550-990 ms after the question (median 640 ms; PocketSphinx 425 ms).
If the lifter speaks on, that decode is dropped. Only for an utterance long enough to close on CLOSING_FRAMES: a
short one (a command; it closes on `endpoint.SHORT_CLOSING_FRAMES`, 0.6 s) is decoded whole at its close, as before.
Cut short, a soft last syllable went ("go faster" read "go fast", "turn on the lights" "turn on the light"):
bench_ear listen path, 4 voices, quiet / 20 dB, cutting every utterance at 90 ms: knee right 90.8 -> 90.0 /
86.6 -> 86.6%, commands right 90.7 -> 90.3 / 82.3 -> 77.4%; at 150 ms 90.3 / 88.2%, commands 89.5 / 80.2%."""
MAX_UTTERANCE_SECONDS = 8.0
"""As PocketSphinx: in steady noise the endpointer may never hear the end; the model is trained on <= ~9 s."""
PARTIAL_WINDOW_SECONDS = 1.5
"""In the interrupt search a partial result decodes only the utterance's last 1.5 s: a command word is shorter,
and the coach's cancelled echo can hold an utterance open for many seconds (measured: "stop" heard 0.7-1.2 s
late when it waited for the utterance's end)."""
PARTIAL_STEP_SECONDS = 0.2
"""A new partial result at most every 0.2 s of speech (one decode of 1.5 s takes ~50 ms on two x86 cores)."""
WORD_OVER_SECONDS = 0.05
"""A partial result's word is over when its padded loud span ends this long before the window does (its last loud
frame 0.2 s back): the commands are then scored whole on it, as at the utterance's end. In gym noise the
endpointer hears the end of a word late, and a short "skip" read as "s s s" waited past the 1 s bound for it.
Scored once, in the first partial result after that: scoring every partial while the word was still in the window
tripled the interrupt search's CPU in the room, and the sound server's underruns moved the echo delay."""
WAKE_WORDS = frozenset({"coach"}) | WAKE_ALIKES["coach"]
"""The wake word as the model may write it: command readings are scored behind it (`command_readings`)."""
COMMAND_NAMES = tuple(c.value for c in Command if c is not Command.START_WARMUP)
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")
_BARGE_IN = frozenset(BARGE_IN_WORDS)


def normalise(text: str) -> str:
    """Moonshine's "Coach, warm-up!" as the domain spells it: "coach warm up"."""
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("-", " ")).split())


def command_spellings(tokenizer: Tokenizer) -> dict[str, list[int]]:
    """Each interrupting command by its own name, as the model writes a one-word utterance ("▁Sk ip ."). Only
    those: short everyday words are likely for any unclear sound (Piper's "skip", read greedily as "s s s", scored
    "Again." 2.7 nats over itself, "Skip." 2.5)."""
    spellings = {word: tokenizer.encode(f"{WORD_START}{word.capitalize()}.") for word in BARGE_IN_WORDS}
    return {word: spelling for word, spelling in spellings.items() if spelling}


def bias_words(domain: Domain) -> set[str]:
    """The words to nudge the model towards: the knee topics' own words, the command names and the wake-word
    lead-ins. Not all 342 domain words: the hundreds of command alternatives ("abort", "affirmative", "last")
    crowded out the knee (quiet held-out questions, 4 voices: 160 right of 380 with all, 183 with these)."""
    words = {w for phrase in domain.phrases for w in phrase.split()}
    words |= {w for command in Command for w in command.value.split("_")}
    words |= {w for prefix in PREFIXES for w in prefix.split()}
    return {w for w in words if len(w) > 2 and w not in GARBAGE}


@dataclass(frozen=True)
class Heard:
    """One decode of an utterance, before it is stamped with where it stood in the stream (`Transcript`)."""

    text: str
    others: tuple[Reading, ...]
    restored: tuple[Reading, ...]
    rehear: Callable[[], Transcript] | None
    clear: bool


class MoonshineRecognizer:
    name = "moonshine"

    def __init__(
        self,
        domain: Domain,
        folder: Path | None = None,
        *,
        bias: float = BIAS,
        beam: int = BEAM,
        readings_within: float = READINGS_WITHIN,
        command_margin: float = COMMAND_MARGIN,
        knee_bias: float = KNEE_BIAS,
        restore_knee: bool = True,
        score_commands: bool = True,
        threads: int = THREADS,
    ) -> None:
        found = folder or bundled_model_dir()
        if found is None:
            raise ModelError("no Moonshine model: pip install moonshine-voice==0.1.0 (it carries tiny-en)")
        self.model = MoonshineModel(found, threads=threads)
        self.missing_words: frozenset[str] = frozenset()
        self.open_vocabulary = True
        content = bias_words(domain)
        commands = {w for phrase in domain.commands for w in phrase.split() if len(w) > 2}
        knee = {"knee": knee_bias}  # "knees" starts with the same piece
        self._domain_bias = ContextBias.build(sorted(content), self.model.tokenizer, bias, knee) if bias else None
        self._command_bias = ContextBias.build(sorted(commands), self.model.tokenizer, bias) if bias else None
        self._interrupt_bias = ContextBias.build(BARGE_IN_WORDS, self.model.tokenizer, INTERRUPT_BIAS) if bias else None
        self._command_spellings = command_spellings(self.model.tokenizer)
        self._command_phrasings = tuple(domain.commands) if score_commands else ()
        self._command_margin = command_margin
        self._bias = self._domain_bias
        self._resume_bias = self._bias
        self._interrupting = False
        self._commands_only = False
        self._beam = beam
        self._readings_within = readings_within
        self._restore_knee = restore_knee
        self._partial = ("", 0)
        """(text, bytes of speech it was decoded from): the last partial result."""
        self._early: tuple[int, Heard] | None = None
        """(frames of `_speech` it heard, what it heard): the utterance decoded early (`HEARD_QUIET_FRAMES`)."""
        self._stream = StreamEndpointer()
        self._speech: list[bytes] = []
        self.description = f"moonshine tiny-en ({found}), biased to {len(content)} domain words"

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        result: Transcript | None = None
        for frame, timestamp in frames_of(chunk):
            result = self._process(frame, timestamp) or result
        return result

    def _process(self, frame: bytes, timestamp: float) -> Transcript | None:
        speech = self._stream.feed(frame, timestamp)
        if speech is None:
            return None
        if not self._stream.opened and not self._speech:
            self._stream.continue_at(timestamp)
        self._speech.append(speech)
        if not self._stream.in_speech or self._stream.stream_time - self._stream.start > MAX_UTTERANCE_SECONDS:
            return self._decode()
        if self._decodes_early and self._stream.quiet_frames == HEARD_QUIET_FRAMES:
            self._early = (len(self._speech), self._hear(self._speech))
        return None

    def _decode(self) -> Transcript:
        speech = self._speech
        if self._decodes_early:  # it hears HEARD_QUIET_FRAMES of the closing silence
            speech = speech[: len(speech) - max(0, self._stream.quiet_frames - HEARD_QUIET_FRAMES)] or speech
        early, self._early = self._early, None
        heard = early[1] if early is not None and early[0] == len(speech) else self._hear(speech)
        self._speech = []
        self._partial = ("", 0)
        return Transcript(
            text=heard.text,
            start=self._stream.start,
            end=self._stream.stream_time,
            engine=self.name,
            alternatives=heard.others,
            restored=heard.restored,
            rehear=heard.rehear,
            clear=heard.clear,
        )

    @property
    def _decodes_early(self) -> bool:
        """The open search, in an utterance long enough to close on CLOSING_FRAMES (see HEARD_QUIET_FRAMES)."""
        return not self._interrupting and self._stream.closing_frames == CLOSING_FRAMES

    def _hear(self, speech: list[bytes]) -> Heard:
        samples = np.frombuffer(b"".join(speech), "<i2").astype(np.float32) / 32768.0
        clear = self._clear(samples)
        if self._interrupting:
            return Heard(self._interrupt_text(samples[loud_span(samples)], ended=True), (), (), None, clear)
        restore_knee = self._restore_knee and not self._commands_only and clear
        text, others, restored = self._open_readings(samples, restore_knee=restore_knee)
        return Heard(text, others, restored, self._after_pause(samples, restore_knee=restore_knee), clear)

    def _clear(self, samples: np.ndarray) -> bool:
        """The utterance's loud frames stand `CLEAR_DB` over the room's noise floor."""
        levels = frame_levels_db(samples)
        return len(levels) > 0 and float(np.percentile(levels, 90)) - self._stream.room_db >= CLEAR_DB

    def _after_pause(self, samples: np.ndarray, *, restore_knee: bool) -> Callable[[], Transcript] | None:
        """A second hearing, decoded only if asked: the audio after the utterance's first pause (the one behind
        the wake word, `speech_spans.WAKE_PAUSE_SECONDS`) on its own, the knee restored as in the first
        (`restore_knee`). Behind "hey coach" the model puts the knee 8-12 nats under the word it chose ("hey coach
        lean sore after a heavy squat session"), out of `WITHIN`; the same words alone, 0-5. Finding the pause is
        cheap; the decode is not."""
        cut = pause_after_lead(samples)
        if cut is None:
            return None

        def rehear() -> Transcript:
            text, _, restored = self._open_readings(samples[cut:], restore_knee=restore_knee)
            return Transcript(text=text, engine=self.name, restored=restored)

        return rehear

    def partial(self) -> str:
        """Only in the interrupt search (the open search waits for the whole question): the last 1.5 s decoded."""
        if not self._interrupting or not self._speech:
            return ""
        size = sum(len(frame) for frame in self._speech)
        text, decoded = self._partial
        if size - decoded < PARTIAL_STEP_SECONDS * 2 * SAMPLE_RATE:
            return text
        window = b"".join(self._speech)[-int(PARTIAL_WINDOW_SECONDS * SAMPLE_RATE) * 2 :]
        samples = np.frombuffer(window, "<i2").astype(np.float32) / 32768.0
        span = loud_span(samples)
        over = (len(samples) - span.stop) / SAMPLE_RATE  # seconds since the loud part (and its padding) ended
        just_over = WORD_OVER_SECONDS <= over < WORD_OVER_SECONDS + PARTIAL_STEP_SECONDS  # once per word, not after
        text = self._interrupt_text(samples[span], ended=just_over)
        self._partial = (text, size)
        return text

    def _open_readings(
        self, samples: np.ndarray, *, restore_knee: bool = False
    ) -> tuple[str, tuple[Reading, ...], tuple[Reading, ...]]:
        """The best reading, the beam's others within `readings_within` (distinct once normalised) and, on
        `restore_knee`, the best one with the knee put back (`knee_readings`). During the warm-up (commands only),
        a reading without a command is checked against the commands scored whole."""
        heard = self.model.encode(samples)
        # Never empty, best first.
        hypotheses = self.model.nbest(heard, self._bias, width=self._beam, max_copies=MAX_COPIES)
        top = hypotheses[0]
        readings: dict[str, float] = {}
        for h in hypotheses:
            if h.score >= top.score - self._readings_within:
                readings.setdefault(normalise(self.model.text(list(h.tokens))), top.score - h.score)
        best, *others = readings
        restored: list[Reading] = []
        if restore_knee:
            restored = [Reading(text, behind) for text, behind in self._knee_readings(heard, list(top.tokens))]
        if self._commands_only:
            best = self._command_or(best, heard, list(top.tokens))
        elif self._command_phrasings:
            for text, behind in command_readings(
                best,
                self._command_phrasings,
                WAKE_WORDS,
                self._spell,
                lambda s: self.model.likelihoods(heard, s),
                COMMAND_NAMES,
                list(top.tokens),
            ):
                readings.setdefault(text, behind)
                others.append(text)
        alternatives = tuple(Reading(text, readings[text]) for text in others if text and text != best)
        return best, alternatives, tuple(restored)

    def _spell(self, text: str) -> list[int] | None:
        """`text` (normalised words) as a sentence, a capital first and a full stop: the beam's reading and the
        command phrasings alike. (Spelt behind the model's own tokens for the wake word, "Hey coach," with its
        comma, both lay further apart: bench_ear's listen loop heard 2 commands fewer at 20 dB.)"""
        return self.model.tokenizer.encode(WORD_START + (text[:1].upper() + text[1:]).replace(" ", WORD_START) + ".")

    def _knee_readings(self, heard: Encoded, tokens: list[int]) -> list[tuple[str, float]]:
        """The reading `tokens` spell with the knee put back (`knee_variants`), each with how far behind it counts:
        scored whole against `tokens` itself, unbiased, less `KNEE_PRIOR`; behind the wake word, out to `AFTER_WAKE`
        nats further."""
        variants = {}
        own_text = self.model.text(tokens)
        extra = AFTER_WAKE if after_wake(own_text) else 0.0
        for text in knee_variants(own_text):
            spelling = self.model.tokenizer.encode(WORD_START + text.replace(" ", WORD_START))
            if spelling:
                variants[text] = spelling
        if not variants:
            return []
        own, *scores = self.model.likelihoods(heard, [tokens, *variants.values()])
        return [
            (normalise(text), max(0.0, own - score - KNEE_PRIOR))
            for text, score in zip(variants, scores, strict=True)
            if own - score <= WITHIN + extra
        ]

    def _interrupt_text(self, samples: np.ndarray, *, ended: bool = False) -> str:
        """Greedy (a barge-in must be quick); once the word has `ended` (the utterance's end, or its loud part over
        in a partial result), a reading without an interrupting word is checked against the commands scored whole.
        Not while the word may go on: a word cut short scores as another ("re" -> "Repeat.")."""
        heard = self.model.encode(samples)
        tokens = self.model.decode(heard, self._bias)
        text = normalise(self.model.text(tokens))
        if not ended:
            return text
        return self._command_or(text, heard, tokens, margin=INTERRUPT_COMMAND_MARGIN, lead=INTERRUPT_COMMAND_LEAD)

    def _command_or(
        self, text: str, heard: Encoded, tokens: list[int], *, margin: float | None = None, lead: float = COMMAND_LEAD
    ) -> str:
        """`text`, or the command the utterance is when `text` holds none (`COMMAND_MARGIN`, `COMMAND_LEAD`), judged
        against the model's readings of it: the biased one `text` came from (`tokens`) and the unbiased greedy one,
        decoded only now (against the biased alone, the beam's "what's what's what's" for "good" lost to "Stop.")."""
        words = set(text.split())
        if not self._command_margin or _BARGE_IN & words or len(words) > COMMAND_READING_WORDS:
            return text
        readings = [tokens, self.model.decode(heard)]
        choices = self._command_spellings
        margin = self._command_margin if margin is None else margin
        command = self.model.closest(heard, readings, choices, margin=margin, lead=lead)
        return command or text

    def hearing(self) -> bool:
        return bool(self._speech)

    def finish(self) -> Transcript | None:
        self._stream.end_stream()
        result = self._decode() if self._speech else None
        self._stream.restart()
        return result

    def reset(self) -> None:
        self._speech = []
        self._early = None
        self._partial = ("", 0)
        self._stream.restart()

    def commands_only(self, enabled: bool) -> None:
        self.reset()
        self._commands_only = enabled
        self._bias = self._resume_bias = self._command_bias if enabled else self._domain_bias

    def interrupt_only(self, enabled: bool) -> None:
        """While the coach speaks: end on a short silence and lean to the interrupting words (the listener keeps
        only those); off again, back to what it listened for before."""
        self.reset()
        self._interrupting = enabled
        self._stream.set_quick(enabled)
        self._bias = self._interrupt_bias if enabled else self._resume_bias
