"""Which user's server a raw request path names, after refusing path tricks.

The rule is deliberately blunt: a path with a dot segment (raw or percent-encoded), an encoded
slash or backslash, a raw backslash, or a leading ``//`` is refused outright (400). Nothing is
normalised, so what we route on is exactly what the upstream receives. The one exception is
the hub's own API: an encoded slash or backslash there is a name's character (a group called
``a\\b``), so ``/hub/api/`` paths with no other trick go to the hub, which answers in JSON.
"""

from __future__ import annotations

USER_PREFIX = b"/user/"
SERVICE_PREFIX = b"/services/"


def split_target(url: bytes) -> bytes:
    """The path part of an origin-form request target (query dropped)."""
    query = url.find(b"?")
    return url if query < 0 else url[:query]


def is_safe_path(path: bytes) -> bool:
    if not path.startswith(b"/") or path.startswith(b"//"):
        return False
    if b"\\" in path or b"#" in path:
        return False
    if b"%" in path:
        low = path.lower()
        if b"%2f" in low or b"%5c" in low:
            return False
        path = low.replace(b"%2e", b".")
    if b"." not in path:
        return True
    return all(segment not in (b".", b"..") for segment in path.split(b"/"))


def is_hub_api_path(path: bytes) -> bool:
    """A ``/hub/api/`` path whose only oddity is an encoded slash or backslash."""
    if not path.startswith(b"/hub/api/"):
        return False
    low = path.lower()
    return is_safe_path(low.replace(b"%2f", b"%20").replace(b"%5c", b"%20"))


def user_from_path(path: bytes) -> str | None:
    """``/user/<name>`` or ``/user/<name>/...`` -> name (case-sensitive); else None."""
    if not path.startswith(USER_PREFIX):
        return None
    end = path.find(b"/", len(USER_PREFIX))
    name = path[len(USER_PREFIX) :] if end < 0 else path[len(USER_PREFIX) : end]
    if not name:
        return None
    try:
        return name.decode("ascii")
    except UnicodeDecodeError:
        return None


def user_and_segment(path: bytes) -> tuple[str, str | None] | None:
    """``/user/<name>/<segment>/...`` -> (name, segment); the segment (None when absent) may
    name one of the user's named servers (routes.RouteTable.lookup decides)."""
    name = user_from_path(path)
    if name is None:
        return None
    start = len(USER_PREFIX) + len(name) + 1
    end = path.find(b"/", start)
    segment = path[start:] if end < 0 else path[start:end]
    if not segment:
        return name, None
    try:
        return name, segment.decode("ascii")
    except UnicodeDecodeError:
        return name, None


def service_from_path(path: bytes) -> str | None:
    """``/services/<name>`` or ``/services/<name>/...`` -> name; else None."""
    if not path.startswith(SERVICE_PREFIX):
        return None
    end = path.find(b"/", len(SERVICE_PREFIX))
    name = path[len(SERVICE_PREFIX) :] if end < 0 else path[len(SERVICE_PREFIX) : end]
    try:
        return name.decode("ascii") or None
    except UnicodeDecodeError:
        return None
