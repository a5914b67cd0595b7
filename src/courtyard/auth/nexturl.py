"""``next=`` targets: only ever a path on this site.

Anything that a browser (or a lenient server) could read as another host is refused and
replaced by the default: scheme-relative ``//host``, backslashes (browsers treat ``\\`` as
``/``), absolute URLs and ``javascript:``, control characters and whitespace anywhere, and
the same tricks hidden behind percent-encoding (checked after decoding, repeatedly).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

MAX_NEXT_CHARS = 2048
DECODE_ROUNDS = 3


def safe_next(value: str | None, default: str) -> str:
    """``value`` if it is a local absolute path (with query/fragment), else ``default``."""
    if not value or len(value) > MAX_NEXT_CHARS:
        return default
    candidate = value
    for _ in range(DECODE_ROUNDS):
        if not is_local_path(candidate):
            return default
        decoded = unquote(candidate)
        if decoded == candidate:
            return value
        candidate = decoded
    return default  # still changing after several rounds of decoding: refuse


def is_local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    if "\\" in value or any(unsafe_char(c) for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc


def unsafe_char(char: str) -> bool:
    """Control, format, separator (space-like) or unassigned characters."""
    return unicodedata.category(char)[0] in ("C", "Z")
