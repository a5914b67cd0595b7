"""The session Gate: Cookie header -> Principal, on every proxied request.

On a cache hit this is a header split and two dict lookups: the SessionManager caches the
session record per cookie value, and the gate caches the Principal built from that record
object (rebuilt only when the manager refetched the record).
"""

from __future__ import annotations

from courtyard.auth.principal import Principal
from courtyard.auth.sessions import SessionManager
from courtyard.config.settings import Settings
from courtyard.store import SessionRecord

COOKIE_NAME = "courtyard-session"
SECURE_COOKIE_NAME = "__Host-courtyard-session"
MAX_PRINCIPALS = 10_000


def cookie_value(header: str, name: str) -> str | None:
    """The first value of cookie ``name`` in a Cookie header, or None."""
    for part in header.split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key == name:
            return value.strip('"')
    return None


class SessionGate:
    """Implements ``Gate`` with session cookies (API tokens: a later issue)."""

    def __init__(
        self, sessions: SessionManager, settings: Settings, cookie_name: str = COOKIE_NAME
    ) -> None:
        self.sessions = sessions
        self.admin_access = settings.admin_access
        self.cookie_name = cookie_name
        self.principals: dict[str, tuple[SessionRecord, Principal]] = {}

    def identify(self, cookie: str | None, authorization: str | None) -> Principal | None:
        if not cookie:
            return None
        value = cookie_value(cookie, self.cookie_name)
        if value is None:
            return None
        record = self.sessions.lookup(value)
        if record is None:
            self.principals.pop(value, None)
            return None
        cached = self.principals.get(value)
        if cached is not None and cached[0] is record:
            return cached[1]
        return self.remember(value, record)

    def remember(self, value: str, record: SessionRecord) -> Principal:
        principal = Principal(
            name=record.user,
            admin=record.admin,
            admin_access=self.admin_access,
            session_id=record.id_hash,
        )
        if len(self.principals) >= MAX_PRINCIPALS:
            self.principals.clear()
        self.principals[value] = (record, principal)
        return principal
