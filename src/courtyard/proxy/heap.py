"""Keep freed heap memory for reuse instead of handing it back to the kernel on every free.

Large bodies pass through the proxy as one bytes object per socket read (up to 256 KiB). With
glibc's default, self-adjusting malloc thresholds, each such object moved the top of the heap
with ``brk()`` on allocation and again on free, and the kernel faulted every page in afresh:
measured on a 1 MiB response, two ``brk`` calls per read and about 1.7 ms of kernel time per
response, against 0.37 ms with fixed thresholds (``docs/performance.md``).

``keep_heap_warm`` fixes the thresholds once per process: allocations below ``MMAP_THRESHOLD``
come from the heap, and up to ``TRIM_THRESHOLD`` of free memory at its top is kept. The cost
is that a process which once held many large buffers keeps up to that much resident. It does
nothing where malloc is not glibc's, and leaves any ``MALLOC_*_`` setting from the
environment alone (glibc reads those itself).
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 16 << 20
TOP_PAD = 1 << 20
MMAP_THRESHOLD = 4 << 20
_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")


def keep_heap_warm() -> bool:
    """Set glibc's malloc thresholds for this process; True if they were set."""
    if not sys.platform.startswith("linux") or any(name in os.environ for name in _ENV):
        return False
    try:
        libc = ctypes.CDLL(None)
        gnu_get_libc_version = libc.gnu_get_libc_version  # only glibc has it
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    settings = (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD),
    )
    return all(mallopt(param, value) == 1 for param, value in settings)
