"""What a login form may hand us: bounded names and passwords, and the user name rule.

Oversized input is refused before any PAM call or hash, and is never logged in full:
``shown()`` gives at most a 32-character prefix, quoted.
"""

from __future__ import annotations

import re

MAX_NAME = 64
MAX_PASSWORD = 1024
SHOWN_CHARS = 32
# Names become URL parts (/user/<name>/) and, with system auth, Unix account names.
NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_.-]*")


def within_bounds(name: str, password: str) -> bool:
    return 0 < len(name) <= MAX_NAME and 0 < len(password) <= MAX_PASSWORD


def normalize_name(raw: str) -> str | None:
    """The canonical user name (trimmed, lower case), or None if it breaks the name rule."""
    name = raw.strip().lower()
    if len(name) > MAX_NAME or not NAME_PATTERN.fullmatch(name):
        return None
    return name


def shown(value: str) -> str:
    """A log-safe rendering of untrusted input: repr of at most 32 characters."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}... ({len(value)} chars)"
