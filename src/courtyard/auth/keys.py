"""The hub's secret key: 32 random bytes in a 0600 file, made on first start.

It signs session cookies and derives CSRF tokens; replacing the file logs everyone out.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from courtyard.errors import AuthError

KEY_BYTES = 32


def load_or_create_secret(path: str | Path) -> bytes:
    """Read the key at ``path``, creating it (and its 0700 directory) if missing.

    Creation is atomic (write a temp file, then link it in place), so two processes starting
    together end up with the same key.
    """
    target = Path(path)
    if not target.exists():
        create_secret(target)
    return read_secret(target)


def create_secret(target: Path) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES).hex().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, target)
    except FileExistsError:
        pass  # another process made it first; theirs wins
    finally:
        temp.unlink()


def read_secret(target: Path) -> bytes:
    info = target.stat()
    if info.st_mode & 0o077:
        if info.st_uid != os.geteuid():
            raise AuthError(
                f"the secret file {str(target)!r} is readable by others and not ours to fix. "
                "Make it mode 0600 (chmod 600), or delete it to make a new one."
            )
        target.chmod(0o600)
    text = target.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise AuthError(
            f"the secret file {str(target)!r} is damaged (expected {KEY_BYTES * 2} hex digits). "
            "Delete it and restart: a new key is made, and everyone has to log in again."
        )
    return key
