"""Reading files a user controls, from the hub (often root), without trusting them.

A user's server directory is theirs: they may replace a file the hub reads with a FIFO (an
``open()`` that blocks), a symlink to ``/dev/zero`` (a read that never ends) or a symlink to
``/etc/shadow`` (a secret copied into the hub's log). :func:`read_user_file` refuses all three:
it does not follow a final symlink, never blocks on open, reads only a regular file owned by the
expected account (or root), and reads at most ``max_bytes``. It does blocking I/O, so async code
calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def read_user_file(
    path: Path | str, owner_uid: int, max_bytes: int, tail: bool = False, start: int = 0
) -> str | None:
    """At most ``max_bytes`` of ``path`` from byte ``start`` on (its last ones when ``tail``;
    from its beginning when the file is now shorter than ``start``).

    None when the file is missing, unreadable, a symlink, not a regular file, or owned by
    neither ``owner_uid`` nor root. Bytes that are not UTF-8 are replaced."""
    data = _read_bytes(path, owner_uid, max_bytes, tail, start)
    return None if data is None else data.decode("utf-8", "replace")


def _read_bytes(
    path: Path | str, owner_uid: int, max_bytes: int, tail: bool, start: int
) -> bytes | None:
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError:
        return None  # missing, a symlink (ELOOP), or not ours to read
    try:
        facts = os.fstat(fd)
        if not stat.S_ISREG(facts.st_mode) or facts.st_uid not in (owner_uid, 0):
            return None
        if start > facts.st_size:
            start = 0  # the file was cut since (the log keeper): all of it is newer
        if tail:
            start = max(start, facts.st_size - max_bytes)
        if start > 0:
            os.lseek(fd, start, os.SEEK_SET)
        return _read_at_most(fd, max_bytes)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_at_most(fd: int, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    left = max_bytes
    while left > 0:
        chunk = os.read(fd, min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
