"""How the process uses glibc's malloc: a Pi by the rack runs for days, and its peak memory is a target (150 MB).

Elsewhere (musl, macOS) every function here does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

MMAP_THRESHOLD_BYTES = 4 << 20
TRIM_THRESHOLD_BYTES = 8 << 20
"""glibc's malloc raises its mmap threshold to the size of the largest block freed, so once ONNX Runtime freed a
model file's bytes (30 MB) after the load, blocks up to 32 MB came from the heap, and the holes they left stayed in
the process: fixing the threshold at MMAP_THRESHOLD_BYTES gives the load's big buffers back when freed. Measured on
2 cores (x86-64), `voicecoach listen --engine moonshine` started, nothing decoded: peak (VmHWM) 177.5 -> 161.6 MB
with this change alone. A fixed threshold also fixes the heap's trim threshold at 128 kB, and giving memory back
after every decode cost 12% more decode time, so it is fixed at TRIM_THRESHOLD_BYTES (decode time as before, the
same peak). Decoding's own buffers (the logits about 1 MB, the encoder's attention up to 3.5 MB for an 8 s
utterance) stay in the heap until `give_back`."""

ARENAS = 1
"""glibc gives each thread that contends for the heap an arena of its own (up to 8 per core), and memory freed in
one stays there. The coach's threads (microphone, voice, warm-up, the sound server's callbacks) allocate little
and never at the same moment as a decode. Measured on 2 cores (x86-64), `voicecoach listen --engine moonshine` in
gym noise, one question a minute (benchmarks/bench_soak.py --minutes 4): RSS after 1 / 2 / 3 answers 161.0 / 162.2
/ 164.1 -> 159.0 / 160.0 / 162.7 MB.

With `give_back` when the coach falls silent as well: RSS between answers 153-155 MB where it had stayed at its
peak (164-166 MB), over 18 questions in 10 minutes. The peak itself did not move (162-167 MB): the next question's
decode takes back what was given."""

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


@cache
def _libc_function(name: str) -> Callable[..., int] | None:
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    return function


def apply_malloc_policy() -> None:
    """Fix glibc's mmap and trim thresholds (see MMAP_THRESHOLD_BYTES) and its number of arenas (see ARENAS).
    Call it before the threads start and before a model loads."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    mallopt(_M_ARENA_MAX, ARENAS)


def give_back() -> None:
    """Return the heap's free pages to the system: at a quiet moment (the coach fell silent), not after every
    decode (see TRIM_THRESHOLD_BYTES)."""
    malloc_trim = _libc_function("malloc_trim")
    if malloc_trim is not None:
        malloc_trim(0)
