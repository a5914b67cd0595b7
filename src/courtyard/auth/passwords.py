"""Password hashing (argon2id) and generation.

Hashing and verifying take tens of milliseconds on purpose; async callers run them in a
thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher(type=Type.ID)
# No 0/O/o, 1/l/I: generated passwords are read aloud and typed from paper.
ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 20  # ~116 bits


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against for unknown users (same cost); made on first use, not at
    import, so commands that never check a password don't pay for it."""
    return HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches; False on mismatch or an unreadable hash."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash was made with weaker parameters than today's (rehash on login)."""
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def dummy_verify(password: str) -> None:
    """Spend the time of one verification without any account (flat timing)."""
    verify_password(dummy_hash(), password)


def generate_password(length: int = GENERATED_LENGTH) -> str:
    """A random password from an unambiguous alphabet (secrets module)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
