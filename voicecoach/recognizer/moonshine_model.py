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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.errors import ModelError

MODEL_PACKAGE = "moonshine_voice"
MODEL_FILES = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
TINY = {"layers": 6, "heads": 8, "head_dim": 36}
"""Moonshine tiny's decoder shape (its past key/value tensors)."""
START, END = 1, 2
TOKENS_PER_SECOND = 6.5
"""Upper bound on tokens per second of speech, with a few spare: a runaway decode stops there."""
WORD_START = "\u2581"
"""The tokenizer's mark for "a space before this token" (SentencePiece)."""


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


def read_tokens(path: Path) -> list[bytes]:
    """`tokenizer.bin`: each token's bytes, preceded by its length (one byte, or two when >= 128)."""
    data = path.read_bytes()
    tokens: list[bytes] = []
    i = 0
    while i < len(data):
        length = data[i]
        i += 1
        if length >= 128:
            if i >= len(data):
                raise ModelError(f"{path}: truncated token table")
            length = (length & 127) | (data[i] << 7)
            i += 1
        tokens.append(data[i : i + length])
        i += length
    if len(tokens) < 1000:
        raise ModelError(f"{path}: not a Moonshine token table ({len(tokens)} tokens)")
    return tokens


@dataclass
class ContextBias:
    """A trie of the token spellings of the domain's words, and the bonus a step gets for following it."""

    bonus: float
    children: dict[int, dict[int, Any]] = field(default_factory=dict)
    """token -> subtrie; a subtrie's key -1 marks the end of a word."""

    @classmethod
    def build(cls, words: Iterable[str], tokens: list[bytes], bonus: float) -> ContextBias:
        bias = cls(bonus)
        index: dict[bytes, int] = {}
        for number, token in enumerate(tokens):
            index.setdefault(token, number)
        longest = max(len(t) for t in tokens)
        for word in words:
            for spelling in (word, word.capitalize()):
                pieces = _longest_match((WORD_START + spelling).encode(), index, longest)
                if pieces:
                    node = bias.children
                    for piece in pieces:
                        node = node.setdefault(piece, {})
                    node[-1] = {}
        return bias

    def boosts(self, state: dict[int, Any] | None) -> dict[int, dict[int, Any]]:
        """The tokens that follow the trie from `state` (a word in progress), or start a word from the root."""
        if state is None or not state:
            return self.children
        following = {t: n for t, n in state.items() if t != -1}
        return {**self.children, **following} if -1 in state else following or self.children


def _longest_match(text: bytes, index: dict[bytes, int], longest: int) -> list[int] | None:
    pieces: list[int] = []
    i = 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 0, -1):
            number = index.get(text[i : i + size])
            if number is not None:
                pieces.append(number)
                i += size
                break
        else:
            return None
    return pieces


class MoonshineModel:
    """Encoder + greedy decoder; `transcribe(samples)` for one utterance of float32 audio in [-1, 1]."""

    def __init__(self, folder: Path, *, threads: int = 2) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise ModelError("the moonshine engine needs onnxruntime: pip install onnxruntime") from err
        missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
        if missing:
            raise ModelError(f"{folder}: not a Moonshine model (missing {', '.join(missing)})")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena kept ~100 MB of peak buffers for good (measured)
        options.log_severity_level = 3
        try:
            self._encoder = onnxruntime.InferenceSession(str(folder / MODEL_FILES[0]), options)
            self._decoder = onnxruntime.InferenceSession(str(folder / MODEL_FILES[1]), options)
        except Exception as err:  # onnxruntime raises its own untyped errors for unreadable models
            raise ModelError(f"{folder}: Moonshine model does not load: {err}") from None
        self.tokens = read_tokens(folder / MODEL_FILES[2])
        self._cache_names = [
            f"past_key_values.{layer}.{part}.{kind}"
            for layer in range(TINY["layers"])
            for part in ("decoder", "encoder")
            for kind in ("key", "value")
        ]

    def transcribe(self, samples: np.ndarray, bias: ContextBias | None = None) -> str:
        audio = np.ascontiguousarray(samples, dtype=np.float32)[None, :]
        mask = np.ones_like(audio, dtype=np.int64)
        hidden = self._encoder.run(None, {"input_values": audio, "attention_mask": mask})[0]
        empty = np.zeros((1, TINY["heads"], 0, TINY["head_dim"]), np.float32)
        cache = dict.fromkeys(self._cache_names, empty)
        out: list[int] = []
        token, state = START, None
        for step in range(int(audio.shape[1] / 16_000 * TOKENS_PER_SECOND) + 4):
            logits, *present = self._decoder.run(
                None,
                {
                    "encoder_attention_mask": mask,
                    "input_ids": np.array([[token]], np.int64),
                    "encoder_hidden_states": hidden,
                    "use_cache_branch": np.array([step > 0]),
                    **cache,
                },
            )
            scores = logits[0, -1]
            follow = bias.boosts(state) if bias is not None else {}
            if follow:
                scores = scores.copy()
                ids = np.fromiter(follow, np.int64)
                scores[ids] += bias.bonus if bias is not None else 0.0
            token = int(scores.argmax())
            if token == END:
                break
            out.append(token)
            state = follow.get(token)
            for name, value in zip(self._cache_names, present, strict=True):
                if step == 0 or ".decoder." in name:  # the encoder's cross-attention cache is made once
                    cache[name] = value
        return b"".join(self.tokens[t] for t in out).decode("utf-8", "replace").replace(WORD_START, " ").strip()
