"""The process's malloc policy (voicecoach.heap), run in a fresh interpreter: it changes the whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc (Linux) only")

HOLES = textwrap.dedent(
    """
    import ctypes
    from voicecoach.heap import give_back, apply_malloc_policy

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    apply_malloc_policy()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(1 << 20) for _ in range(49)]  # 1 MB each: under the mmap threshold, so in the heap
    for block in blocks:
        ctypes.memset(block, 1, 1 << 20)
    for block in blocks[:-1]:  # the last one stays: the heap cannot shrink from its top
        libc.free(block)
    held = rss_mb()
    give_back()
    print(held - rss_mb())
    """
)


def test_give_back_returns_the_free_holes_in_the_heap() -> None:
    """48 MB freed below a live block stay resident until `give_back`, then leave the process."""
    done = subprocess.run([sys.executable, "-c", HOLES], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) > 40
