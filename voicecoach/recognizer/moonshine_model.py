"""Moonshine tiny (English): a small neural speech-to-text model run with ONNX Runtime, biased to the domain.

The weights are the `tiny-en` assets of the PyPI wheel `moonshine-voice==0.1.0` (MIT): an encoder over raw
16 kHz audio and a merged decoder with a key/value cache. Only those three files are read, never imported:
the wheel's own native library is not used (its sibling wheel moonshine-cpp's library was built for AVX-512
and died with SIGILL here), so the engine stands on onnxruntime's wheels alone.

Free-form, the model hears "my knees hurt" as "my niece hurt" or "these hurt" (measured on the held-out
questions): everyday words win where the audio is unclear. `ContextBias` adds a bonus to the tokens that
spell the domain's words, the shallow-fusion biasing of keyword-boosted decoders (k2's context graph,
whisper's hotwords): a step may start a domain word, or continue one it has started.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.errors import ModelError
from voicecoach.heap import apply_malloc_policy
from voicecoach.recognizer.moonshine_tokens import WORD_START, ContextBias, Tokenizer, read_tokens

MODEL_PACKAGE = "moonshine_voice"
MODEL_FILES = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
TINY = {"layers": 6, "heads": 8, "head_dim": 36}
"""Moonshine tiny's decoder shape (its past key/value tensors)."""
START, END = 1, 2
TOKENS_PER_SECOND = 6.5
"""Upper bound on tokens per second of speech, with a few spare: a runaway decode stops there."""


def bundled_model_dir() -> Path | None:
    """The `tiny-en` folder of an installed `moonshine-voice` wheel, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "assets" / "tiny-en"
        if all((folder / name).is_file() for name in MODEL_FILES):
            return folder
    return None


THREADS = 1
"""ONNX Runtime threads per decode. Measured on 2 cores (x86-64), one question of 3 s / 6 s, 20 runs each:
2 threads spinning (ORT's default) 110 / 250 ms, CPU 259 / 519 ms per run; 2 threads without spinning 116 / 241 ms,
CPU 139 / 288 ms; 1 thread 108-113 / 235-245 ms, CPU 107-110 / 229-242 ms. The tiny model's operations are too
small to split: a second thread bought no speed, and its spinning took the core the sound server needed while the
coach spoke (underruns step the echo delay, see audio.echo_delay)."""

PREPACKING = False
"""ONNX Runtime re-lays the decoder's int8 weights for its matrix kernels at load ("prepacking"), and holds both
layouts until the whole model is packed: the load peaked 21 MB above the process's steady size, and that load was the
engine's memory peak (156 MB, target 150). Measured on 2 cores (x86-64), 20 held-out questions (4.4 s) twice, beam 6:
decode 100 ms prepacked, 130 ms not (the encoder: 41 ms either way); load peak 156 -> 134 MB. Unpacked, decoding is
still faster than before the cross-attention cache stayed one row (150 ms, `nbest`), and the peak meets the target."""


MAX_COPIES = 2
"""In the open search, no run of tokens repeats more than twice in a row: unsure of the audio, Moonshine loops on
what it heard first ("hey coach hey coach hey coach ..." for "hey coach, help me"; "my knee knee knee knee").
Barred from a third copy, the beam takes the words it had put behind the loop ("hey coach help me"). A lifter's
"stop stop stop" still reads "stop stop". Measured with benchmarks/bench_ear.py, four voices, against no bar: listen
loop +7 right of 1,832 (help me x3, yeah sure, thank you coach, two knee questions: "knee pain from quad
extensions" had read "hey coach hey hey hey ..."), one out-of-domain question taken for goodbye; files +8 right of
2,748, 2 answers turned into questions back and 1 wrong advice (all three at 10 dB), compute p50 190 -> 182 ms
quiet (loops end sooner). Only the open search: the interrupt search takes the first command word anyway."""


def repeating(tokens: tuple[int, ...], copies: int) -> list[int]:
    """The tokens that would start one more copy of a run `tokens` ends with `copies` times in a row (runs of 1-8
    tokens: a word or two)."""
    banned = []
    for period in range(1, 9):
        if len(tokens) < period * copies:
            break
        run = tokens[-period:]
        if all(tokens[len(tokens) - period * (k + 1) : len(tokens) - period * k] == run for k in range(1, copies)):
            banned.append(run[0])
    return banned


SCORED_TOGETHER = 16
"""Token sequences scored in one batch (`MoonshineModel.likelihoods`): each row's logits over the 32k-token
vocabulary and its decoder cache grow with the batch; 45 command readings at once raised the benchmark's peak
memory 147 -> 156 MB."""


class MoonshineModel:
    """Encoder + greedy decoder; `transcribe(samples)` for one utterance of float32 audio in [-1, 1]."""

    def __init__(self, folder: Path, *, threads: int = THREADS) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise ModelError("the moonshine engine needs onnxruntime: pip install onnxruntime") from err
        missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
        if missing:
            raise ModelError(f"{folder}: not a Moonshine model (missing {', '.join(missing)})")
        apply_malloc_policy()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see THREADS
        options.enable_cpu_mem_arena = False  # the arena kept ~100 MB of peak buffers for good (measured)
        options.add_session_config_entry("session.disable_prepacking", "0" if PREPACKING else "1")
        options.log_severity_level = 3
        try:
            # The larger decoder first: loading a model holds its file's bytes beside the session for a moment,
            # so the 30 MB decoder loaded while the encoder already sat in memory set the peak (174 -> 154 MB).
            self._decoder = onnxruntime.InferenceSession(str(folder / MODEL_FILES[1]), options)
            self._encoder = onnxruntime.InferenceSession(str(folder / MODEL_FILES[0]), options)
        except Exception as err:  # onnxruntime raises its own untyped errors for unreadable models
            raise ModelError(f"{folder}: Moonshine model does not load: {err}") from None
        self.tokens = read_tokens(folder / MODEL_FILES[2])
        self.tokenizer = Tokenizer(self.tokens)
        self._cache_names = [
            f"past_key_values.{layer}.{part}.{kind}"
            for layer in range(TINY["layers"])
            for part in ("decoder", "encoder")
            for kind in ("key", "value")
        ]

    def transcribe(self, samples: np.ndarray, bias: ContextBias | None = None, *, width: int = 1) -> str:
        return self.text(self.decode(self.encode(samples), bias, width=width))

    def closest(
        self, heard: Encoded, readings: list[list[int]], choices: dict[str, list[int]], *, margin: float, lead: float
    ) -> str | None:
        """Which of `choices` (name -> token spelling) the utterance is, scored whole against the model's own
        `readings` of it: the best choice, if at most `margin` nats less likely than the likeliest reading and `lead`
        nats more likely than the next choice; else None."""
        scores = self.likelihoods(heard, [*readings, *choices.values()])
        free, scores = max(scores[: len(readings)]), scores[len(readings) :]
        best, second = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:2]
        clear = scores[best] - scores[second] >= lead
        return list(choices)[best] if clear and scores[best] >= free - margin else None

    def encode(self, samples: np.ndarray) -> Encoded:
        """Run the encoder once over an utterance (float32 audio in [-1, 1]); `decode` reads the result."""
        audio = np.ascontiguousarray(samples, dtype=np.float32)[None, :]
        mask = np.ones_like(audio, dtype=np.int64)
        hidden = self._encoder.run(None, {"input_values": audio, "attention_mask": mask})[0]
        return Encoded(hidden, mask)

    def text(self, ids: list[int]) -> str:
        return b"".join(self.tokens[t] for t in ids).decode("utf-8", "replace").replace(WORD_START, " ").strip()

    def decode(self, heard: Encoded, bias: ContextBias | None = None, *, width: int = 1) -> list[int]:
        """The best decode of one utterance, as token ids (without <s> and </s>)."""
        return list(self.nbest(heard, bias, width=width)[0].tokens)

    def nbest(
        self, heard: Encoded, bias: ContextBias | None = None, *, width: int = 1, max_copies: int = 0
    ) -> list[Hypothesis]:
        """The decodes of one utterance, best first (token ids without <s> and </s>): a beam search `width` wide
        (1 is greedy), scored by the model's log-probabilities plus the bias bonuses along the way. The finished
        hypotheses come first; when none finished (a runaway decode), the live beams. With `max_copies`, no run
        of tokens repeats more often than that in a row (`MAX_COPIES`).

        The encoder's cross-attention cache is the same for every beam, so it stays one row: the decoder's
        attention broadcasts it over the beams (logits identical to a cache repeated per beam, tested). Repeated,
        it was the decode's whole memory peak, about 1.3 MB per beam per second of audio."""
        hidden, mask = heard.hidden, heard.mask
        empty = np.zeros((1, TINY["heads"], 0, TINY["head_dim"]), np.float32)
        cache = dict.fromkeys(self._cache_names, empty)
        beams = [_Beam((), 0.0, None)]
        bonus = bias.bonus if bias is not None else 0.0
        first: dict[int, float] = bias.first if bias is not None else {}
        finished: list[_Beam] = []
        for step in range(int(mask.shape[1] / 16_000 * TOKENS_PER_SECOND) + 4):
            logits, *present = self._decoder.run(
                None,
                {
                    "encoder_attention_mask": mask,
                    "input_ids": np.array([[b.tokens[-1] if b.tokens else START] for b in beams], np.int64),
                    "encoder_hidden_states": hidden,
                    "use_cache_branch": np.array([step > 0]),
                    **cache,
                },
            )
            scores = _log_softmax(logits[:, -1])
            follows = [bias.boosts(b.state) if bias is not None else {} for b in beams]
            for row, follow in enumerate(follows):
                if follow:
                    scores[row, np.fromiter(follow, np.int64)] += bonus
                    for token, more in first.items():
                        if token in follow:
                            scores[row, token] += more
            if max_copies:
                for row, beam in enumerate(beams):
                    scores[row, repeating(beam.tokens, max_copies)] = -np.inf
            candidates: list[tuple[float, int, int]] = []
            for row, beam in enumerate(beams):
                top = np.argpartition(-scores[row], width)[:width] if width > 1 else [int(scores[row].argmax())]
                candidates += [(beam.score + float(scores[row, t]), row, int(t)) for t in top]
            candidates.sort(reverse=True)
            kept: list[tuple[int, _Beam]] = []
            for score, row, token in candidates:
                if token == END:
                    finished.append(_Beam(beams[row].tokens, score, None))
                else:
                    kept.append((row, _Beam((*beams[row].tokens, token), score, follows[row].get(token))))
                if len(kept) == width:
                    break
            best_finished = max((b.score for b in finished), default=-np.inf)
            if not kept or (len(finished) >= width and best_finished >= kept[0][1].score):
                break
            order = np.array([row for row, _ in kept])
            for name, value in zip(self._cache_names, present, strict=True):
                if ".decoder." in name:
                    cache[name] = value[order]
                elif step == 0:
                    cache[name] = value
            beams = [beam for _, beam in kept]
        return sorted((Hypothesis(b.tokens, b.score) for b in finished or beams), key=lambda h: -h.score)

    def likelihoods(self, heard: Encoded, spellings: list[list[int]]) -> list[float]:
        """The model's log-probability of each token sequence (then </s>) as the whole utterance, no bias: the
        closed-set scoring of speech-to-intent systems. Up to `SCORED_TOGETHER` rows decode together, one step per
        token."""
        return [
            score
            for at in range(0, len(spellings), SCORED_TOGETHER)
            for score in self._likelihoods(heard, spellings[at : at + SCORED_TOGETHER])
        ]

    def _likelihoods(self, heard: Encoded, spellings: list[list[int]]) -> list[float]:
        if not spellings:
            return []
        rows, steps = len(spellings), max(len(s) for s in spellings) + 1
        targets = np.full((rows, steps), END, np.int64)
        for row, spelling in enumerate(spellings):
            targets[row, : len(spelling)] = spelling
        inputs = np.concatenate([np.full((rows, 1), START, np.int64), targets[:, :-1]], axis=1)
        empty = np.zeros((1, TINY["heads"], 0, TINY["head_dim"]), np.float32)
        cache = dict.fromkeys(self._cache_names, empty)
        total = np.zeros(rows)
        for step in range(steps):
            # Every row starts with <s>, so the first step runs once and its one row stands for all (and the
            # cross-attention cache stays one row, as in `nbest`).
            logits, *present = self._decoder.run(
                None,
                {
                    "encoder_attention_mask": heard.mask,
                    "input_ids": inputs[:1, :1] if step == 0 else inputs[:, step : step + 1],
                    "encoder_hidden_states": heard.hidden,
                    "use_cache_branch": np.array([step > 0]),
                    **cache,
                },
            )
            last = logits[:, -1]
            which = np.arange(rows) if len(last) == rows else np.zeros(rows, int)  # step 0: one row for all
            picked = _token_log_probs(last, which, targets[:, step])
            live = np.array([step <= len(s) for s in spellings])
            total += np.where(live, picked, 0.0)
            for name, value in zip(self._cache_names, present, strict=True):
                if ".decoder." in name:
                    cache[name] = np.repeat(value, rows, 0) if step == 0 else value
                elif step == 0:
                    cache[name] = value
        return [float(t) for t in total]


@dataclass(frozen=True)
class Hypothesis:
    """One reading of an utterance."""

    tokens: tuple[int, ...]
    score: float
    """Log-probability plus the bias bonuses."""


@dataclass(frozen=True)
class Encoded:
    """One utterance through the encoder."""

    hidden: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class _Beam:
    tokens: tuple[int, ...]
    score: float
    """Log-probability plus the bias bonuses, so far."""
    state: dict[int, Any] | None
    """Where the hypothesis is in the bias trie."""


def _normaliser(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's max and the log of its sum of exp(logit - max): log-softmax is (logits - max) - that log. One
    copy of the logits (13 readings x 32768 tokens: 1.7 MB at every step), freed before the caller makes its own."""
    top = logits.max(axis=-1, keepdims=True)
    shifted = logits - top
    np.exp(shifted, out=shifted)
    return top, np.log(shifted.sum(axis=-1, keepdims=True))


def _token_log_probs(logits: np.ndarray, rows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """`_log_softmax(logits)[rows, tokens]`, the same float32 values, without a log-softmax of every token."""
    top, norm = _normaliser(logits)
    return np.asarray((logits[rows, tokens] - top[rows, 0]) - norm[rows, 0], np.float32)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    top, norm = _normaliser(logits)
    scores = logits - top
    scores -= norm
    return np.asarray(scores, np.float32)
