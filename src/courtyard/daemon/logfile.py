"""``courtyard logs``: the last lines of the hub's log, optionally following it."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

FOLLOW_POLL = 0.2


def tail(path: Path, lines: int) -> list[str]:
    if lines <= 0:
        return []
    with path.open(errors="replace") as f:
        return list(deque(f, maxlen=lines))


def follow(
    path: Path, out: TextIO = sys.stdout, keep_going: Callable[[], bool] = lambda: True
) -> None:
    """Print what is appended to ``path``, reopening it after a rotation, until interrupted."""
    f = path.open(errors="replace")
    f.seek(0, os.SEEK_END)
    inode = os.fstat(f.fileno()).st_ino
    try:
        while keep_going():
            line = f.readline()
            if line:
                out.write(line)
                out.flush()
                continue
            if rotated(path, inode):
                copy_rest(f, out)  # lines written between our last read and the rotation
                f.close()
                f = path.open(errors="replace")
                inode = os.fstat(f.fileno()).st_ino
                continue
            time.sleep(FOLLOW_POLL)
    finally:
        f.close()


def copy_rest(f: TextIO, out: TextIO) -> None:
    rest = f.read()
    if rest:
        out.write(rest)
        out.flush()


def rotated(path: Path, inode: int) -> bool:
    try:
        return path.stat().st_ino != inode
    except FileNotFoundError:
        return False
