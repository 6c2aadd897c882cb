"""The level of the room under speech, by minimum statistics: the endpointer and the echo stage's near-end gate
both ask how loud the room is when nobody near the microphone speaks."""

from __future__ import annotations

from collections import deque


class NoiseFloor:
    """The quietest tenth of the last `window` levels fed (speech has gaps between words where the floor shows
    through, so speech itself does not lift it). `level` is 0 until something was fed."""

    def __init__(self, window: int) -> None:
        self._levels: deque[float] = deque(maxlen=window)
        self.level = 0.0

    @property
    def heard(self) -> int:
        """How many levels it holds (at most `window`)."""
        return len(self._levels)

    def update(self, level: float) -> None:
        self._levels.append(level)
        self.level = sorted(self._levels)[len(self._levels) // 10]
