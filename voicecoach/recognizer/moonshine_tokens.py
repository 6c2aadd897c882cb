"""Moonshine's tokens: its token table read from `tokenizer.bin`, text spelled as the model spells it, and the
trie of the domain's words that biases the decoder towards them (`ContextBias`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from voicecoach.errors import ModelError

FIRST_PIECE = 3
"""Tokens 0-2 are <unk>, <s> and </s>."""
WORD_START = "\u2581"
"""The tokenizer's mark for "a space before this token" (SentencePiece)."""


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


class Tokenizer:
    """Text to the model's own tokens: SentencePiece BPE, worked out from the token table alone.

    The table is Llama's (byte-fallback tokens at 3-258, then pieces in merge order), so a word's tokens are
    found by merging, again and again, the adjacent pair whose joined piece comes first in the table. That is
    the spelling the model writes: the decoded output of held-out questions re-encodes to the same tokens
    (tests). A longest-match spelling is not: "pause" is "▁P ause" to the model, "▁Pa use" by longest match,
    and a bias along the wrong spelling pushed the model to "pa" + "wn".
    """

    def __init__(self, tokens: list[bytes]) -> None:
        self._rank: dict[bytes, int] = {}
        self._byte: dict[int, int] = {}
        for number, token in enumerate(tokens[FIRST_PIECE:], FIRST_PIECE):
            if len(token) == 1 and number - FIRST_PIECE == token[0]:
                self._byte[token[0]] = number  # byte fallback: only for what no piece spells
            else:
                self._rank.setdefault(token, number)

    def encode(self, text: str) -> list[int] | None:
        """`text` as the model spells it (a leading space is the caller's `WORD_START`); None if it cannot."""
        parts = [char.encode() for char in text]
        while len(parts) > 1:
            merges = [(rank, k) for k, (a, b) in enumerate(pairwise(parts)) if (rank := self._rank.get(a + b))]
            if not merges:
                break
            _, k = min(merges)
            parts[k : k + 2] = [parts[k] + parts[k + 1]]
        out: list[int] = []
        for part in parts:
            number = self._rank.get(part)
            if number is not None:
                out.append(number)
            elif all(byte in self._byte for byte in part):
                out.extend(self._byte[byte] for byte in part)
            else:
                return None
        return out


@dataclass
class ContextBias:
    """A trie of the token spellings of the domain's words, and the bonus a step gets for following it."""

    bonus: float
    children: dict[int, dict[int, Any]] = field(default_factory=dict)
    """token -> subtrie; a subtrie's key -1 marks the end of a word."""
    first: dict[int, float] = field(default_factory=dict)
    """token -> a further bonus when it starts a word: the first piece of a word that matters most."""

    @classmethod
    def build(
        cls, words: Iterable[str], tokenizer: Tokenizer, bonus: float, first: dict[str, float] | None = None
    ) -> ContextBias:
        """`first`: words whose first piece gets a further bonus (a word and its plural may share it)."""
        bias = cls(bonus)
        for word, more in (first or {}).items():
            pieces = tokenizer.encode(WORD_START + word)
            if pieces:
                bias.first[pieces[0]] = more
        for word in words:
            for spelling in (word, word.capitalize()):
                pieces = tokenizer.encode(WORD_START + spelling)
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
