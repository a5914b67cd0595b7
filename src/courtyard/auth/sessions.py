"""Login sessions (signed cookies backed by server-side rows) and the Gate that reads them.

A cookie is ``<token>.<signature>``: 32 random bytes (url-safe base64) and a truncated
HMAC-SHA256 of the token under the hub's secret key, so forged or mangled cookies are refused
without touching the database. Only sha256(token) is stored (``sessions.id_hash``); logout
deletes the row, which logs out every tab. Lookups are cached for ``cache_ttl`` seconds (and
dropped at once on revoke, here and - through ``on_revoke`` - in the proxy workers), so the
proxy can ask on every request. While the database cannot be reached (PostgreSQL restarting),
a session looked up in the last ``STALE_IF_UNREACHABLE`` seconds is still honoured: no revoke
can happen meanwhile (it needs the database), and people's open tabs keep working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from courtyard.auth.principal import Principal
from courtyard.auth.tokens import STALE_IF_UNREACHABLE, TokenManager
from courtyard.config.settings import Settings
from courtyard.store import UNREACHABLE, SessionRecord, Store
from courtyard.store.sharestore import ShareStore
from courtyard.store.timestamps import from_epoch

TOKEN_BYTES = 32
SIGNATURE_BYTES = 16
MAX_COOKIE_CHARS = 128
CACHE_TTL = 5.0
CACHE_ENTRIES = 10_000
TOUCH_EVERY = 60.0  # seconds between last_seen writes for one session
COOKIE_NAME = "courtyard-session"
SECURE_COOKIE_NAME = "__Host-courtyard-session"  # over HTTPS
MAX_PRINCIPALS = 10_000


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class CacheEntry:
    record: SessionRecord | None
    fetched: float
    expires_at: float  # epoch seconds; 0 when record is None


class SessionManager:
    """Creates, finds and revokes login sessions for the cookie it signs."""

    def __init__(
        self,
        store: Store,
        secret_key: bytes,
        max_age: int,
        now: Callable[[], float] = time.time,
        *,
        cache_ttl: float = CACHE_TTL,
    ) -> None:
        self.store = store
        self.secret_key = secret_key
        self.max_age = max_age
        self.now = now
        self.cache_ttl = cache_ttl
        self.cache: OrderedDict[str, CacheEntry] = OrderedDict()
        self.on_revoke: list[Callable[[], None]] = []  # other processes' caches (proxy workers)

    def revoked(self) -> None:
        for callback in self.on_revoke:
            callback()

    def sign(self, token: str) -> str:
        mac = hmac.new(self.secret_key, b"courtyard-session:" + token.encode(), hashlib.sha256)
        return b64(mac.digest()[:SIGNATURE_BYTES])

    def token_of(self, cookie: str) -> str | None:
        """The token inside a correctly signed cookie value, else None."""
        if len(cookie) > MAX_COOKIE_CHARS:
            return None
        token, dot, signature = cookie.partition(".")
        if not dot or not token or not hmac.compare_digest(signature, self.sign(token)):
            return None
        return token

    def create(self, user: str, *, user_agent: str = "", ip: str = "") -> str:
        """Log ``user`` in; returns the cookie value (UnknownUserError if no such user)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires = from_epoch(self.now()) + timedelta(seconds=self.max_age)
        record = self.store.create_session(
            hash_token(token), user, expires=expires, user_agent=user_agent, ip=ip
        )
        cookie = f"{token}.{self.sign(token)}"
        self.remember(cookie, record)
        return cookie

    def lookup(self, cookie: str) -> SessionRecord | None:
        """The live session for a cookie value, or None (forged, revoked, expired)."""
        now = self.now()
        entry = self.cache.get(cookie)
        if entry is None or now - entry.fetched >= self.cache_ttl:
            token = self.token_of(cookie)
            if token is None:
                return None
            try:
                entry = self.refresh(cookie, token, now)
            except UNREACHABLE:
                if entry is None or now - entry.fetched >= STALE_IF_UNREACHABLE:
                    raise
        if entry.record is None or now >= entry.expires_at:
            return None
        return entry.record

    def refresh(self, cookie: str, token: str, now: float) -> CacheEntry:
        record = self.store.get_session(hash_token(token))
        if record is not None and now - record.last_seen.timestamp() >= TOUCH_EVERY:
            self.store.touch_session(record.id_hash, from_epoch(now))
        return self.remember(cookie, record)

    def remember(self, cookie: str, record: SessionRecord | None) -> CacheEntry:
        expires_at = record.expires.timestamp() if record else 0.0
        entry = CacheEntry(record, self.now(), expires_at)
        self.cache[cookie] = entry
        self.cache.move_to_end(cookie)
        while len(self.cache) > CACHE_ENTRIES:
            self.cache.popitem(last=False)
        return entry

    def session_hash(self, cookie: str) -> str | None:
        """sha256 of the token in a correctly signed cookie (the session's id), else None."""
        token = self.token_of(cookie)
        return hash_token(token) if token else None

    def revoke(self, cookie: str) -> bool:
        """Log out this session everywhere; False if it was not a live session."""
        token = self.token_of(cookie)
        self.cache.pop(cookie, None)
        found = token is not None and self.store.delete_session(hash_token(token))
        if found:  # a forged or dead cookie changes nothing another process may have cached
            self.revoked()
        return found

    def revoke_user(self, name: str) -> int:
        """Log ``name`` out of every session; returns how many there were."""
        removed = self.store.delete_sessions_for_user(name)
        self.forget_user(name)
        return len(removed)

    def forget_user(self, name: str) -> None:
        """Drop cached sessions of ``name`` (call after changing their admin flag)."""
        stale = [
            key for key, entry in self.cache.items() if entry.record and entry.record.user == name
        ]
        for key in stale:
            del self.cache[key]
        self.revoked()

    def purge_expired(self) -> int:
        return self.store.purge_expired_sessions(from_epoch(self.now()))


def cookie_value(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a Cookie header, or None when it is missing or there
    is more than one: a second one was planted (by a user's server's script, through
    ``document.cookie``, or for another path) to shadow or fix the session, and which one
    the browser meant cannot be told."""
    found = None
    for part in header.split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key == name:
            if found is not None:
                return None
            found = value.strip('"')
    return found


class SessionGate:
    """Implements ``Gate`` with session cookies and, given ``tokens``, API tokens in the
    ``Authorization`` header (a valid token wins over a cookie; see auth/tokens.py).

    On a cache hit this is a header split and two dict lookups: the manager caches the
    session record per cookie value, and the gate caches the Principal built from that
    record object (rebuilt only when the manager refetched the record).
    """

    def __init__(
        self,
        sessions: SessionManager,
        store: Store,
        settings: Settings,
        cookie_name: str = COOKIE_NAME,
        tokens: TokenManager | None = None,
    ) -> None:
        self.tokens = tokens
        self.sessions = sessions
        self.store = store
        self.admin_access = settings.admin_access
        self.cookie_name = cookie_name
        self.principals: dict[str, tuple[SessionRecord, Principal]] = {}
        self.shares = ShareStore(store)

    def shared_with(self, user: str) -> frozenset[str]:
        """The servers ``user`` may open because they were shared with them (or a group)."""
        return frozenset(
            f"{share.owner}/{share.server}"
            for share in self.shares.with_user(user)
            if any(scope.startswith("access:servers!") for scope in share.scopes)
        )

    def forget_all(self) -> None:
        """Drop every cached session and principal (shares changed): the next request of
        each is checked against the store."""
        self.sessions.cache.clear()
        self.principals.clear()

    def identify(self, cookie: str | None, authorization: str | None) -> Principal | None:
        if authorization and self.tokens is not None:
            by_token = self.tokens.identify(authorization)
            if by_token is not None:
                return by_token
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
            shared=self.shared_with(record.user),
        )
        if len(self.principals) >= MAX_PRINCIPALS:
            self.principals.clear()
        self.principals[value] = (record, principal)
        return principal
