"""The one clock interface: the listening loop's windows and the warm-up's schedule read the same time.

Tests and benchmarks pass their own (a fake that jumps, a scaled one) wherever a `Clock` is taken.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds, never going backwards."""
        ...

    def wait(self, deadline: float, interrupt: threading.Event) -> bool:
        """Sleep until `deadline` (may be math.inf) or until `interrupt` is set; True if interrupted."""
        ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, deadline: float, interrupt: threading.Event) -> bool:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return interrupt.is_set()
            # Event.wait caps its timeout; a loop also covers spurious early wake-ups.
            if interrupt.wait(min(left, 3600.0)):
                return True
