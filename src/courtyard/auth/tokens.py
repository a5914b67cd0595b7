"""API tokens: made random, stored as sha256, shown once, found again from a header.

``Authorization: token <t>`` or ``Bearer <t>``. A user's token holds the scopes it was made
with, cut down (at every use) to what its owner holds now; a hub-managed service's token
lives in memory only and holds the service's roles. Lookups are cached for ``cache_ttl``
seconds, since the proxy asks on every request to a user's server.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from courtyard.auth import scopes as sc
from courtyard.auth.principal import Principal
from courtyard.auth.roles import Permissions, Role, RoleBook
from courtyard.config.settings import Settings
from courtyard.config.tables import RoleConfig
from courtyard.store.store import UNREACHABLE, Store
from courtyard.store.timestamps import from_epoch
from courtyard.store.tokenstore import GroupStore, TokenRecord, TokenStore

CACHE_TTL = 5.0
STALE_IF_UNREACHABLE = 120.0  # seconds a known answer is honoured while the database is down
CACHE_ENTRIES = 10_000
TOUCH_EVERY = 60.0
MAX_TOKEN_CHARS = 256
PREFIX_CHARS = 4


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_from_header(authorization: str | None) -> str | None:
    """The token in ``token <t>`` or ``Bearer <t>`` (any case), else None."""
    if not authorization or len(authorization) > MAX_TOKEN_CHARS:
        return None
    kind, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if kind.lower() not in ("token", "bearer") or not value:
        return None
    return value


@dataclass(frozen=True)
class Cached:
    principal: Principal | None
    fetched: float
    expires_at: float  # epoch seconds; inf when the token never expires


class TokenManager:
    def __init__(
        self,
        tokens: TokenStore,
        permissions: Permissions,
        *,
        admin_access: bool = False,
        now: Callable[[], float] = time.time,
        cache_ttl: float = CACHE_TTL,
    ) -> None:
        self.tokens = tokens
        self.permissions = permissions
        self.admin_access = admin_access
        self.now = now
        self.cache_ttl = cache_ttl
        self.cache: OrderedDict[str, Cached] = OrderedDict()
        self.services: dict[str, str] = {}  # hash -> service name
        self.on_change: list[Callable[[], None]] = []  # other processes' caches (proxy workers)

    def changed(self) -> None:
        for callback in self.on_change:
            callback()

    def create(
        self, user: str, *, note: str, scopes: list[str], expires_in: float | None
    ) -> tuple[str, TokenRecord]:
        """A new token for ``user`` (the caller checked the scopes); returns (token, record)."""
        token = secrets.token_hex(20)
        expires = from_epoch(self.now() + expires_in) if expires_in else None
        record = self.tokens.create(
            user, hash_token(token), token[:PREFIX_CHARS], note=note, scopes=scopes, expires=expires
        )
        return token, record

    def add_service_token(self, token: str, service: str) -> None:
        self.services[hash_token(token)] = service
        self.changed()

    def new_service_token(self, service: str) -> str:
        token = secrets.token_hex(20)
        self.add_service_token(token, service)
        return token

    def revoke(self, user: str, token_id: int) -> bool:
        found = self.tokens.delete(user, token_id)
        self.cache.clear()
        self.changed()
        return found is not None

    def forget(self) -> None:
        """Drop every cached lookup (after a change of roles, admin flags or groups)."""
        self.cache.clear()
        self.changed()

    def identify(self, authorization: str | None) -> Principal | None:
        token = token_from_header(authorization)
        if token is None:
            return None
        now = self.now()
        entry = self.cache.get(token)
        if entry is None or now - entry.fetched >= self.cache_ttl:
            try:
                entry = self.remember(token, *self.resolve(token, now))
            except UNREACHABLE:  # as for sessions: the last answer, for a bounded while
                if entry is None or now - entry.fetched >= STALE_IF_UNREACHABLE:
                    raise
        if entry.principal is None or now >= entry.expires_at:
            return None
        return entry.principal

    def resolve(self, token: str, now: float) -> tuple[Principal | None, float]:
        token_hash = hash_token(token)
        service = self.services.get(token_hash)
        if service is not None:
            scopes = self.permissions.of_service(service)
            return Principal(name=service, kind="service", scopes=scopes), float("inf")
        record = self.tokens.by_hash(token_hash)
        if record is None:
            return None, 0.0
        expires_at = record.expires.timestamp() if record.expires else float("inf")
        if now >= expires_at:
            return None, 0.0
        self.touch(record, now)
        return self.user_principal(record), expires_at

    def user_principal(self, record: TokenRecord) -> Principal | None:
        owner = self.permissions.store.get_user(record.user)
        if owner is None:
            return None
        held = self.permissions.of_user(record.user)
        if "inherit" in record.scopes:
            granted = held
        else:
            wanted = self.permissions.expand(record.scopes, record.user, "user")
            granted = sc.intersect(wanted, held)
        return Principal(
            name=record.user,
            admin=owner.admin,
            admin_access=self.admin_access,
            scopes=granted,
            token_id=record.id,
        )

    def touch(self, record: TokenRecord, now: float) -> None:
        last = record.last_activity
        if last is None or now - last.timestamp() >= TOUCH_EVERY:
            self.tokens.touch(record.id, from_epoch(now))

    def remember(self, token: str, principal: Principal | None, expires_at: float) -> Cached:
        entry = Cached(principal, self.now(), expires_at)
        self.cache[token] = entry
        self.cache.move_to_end(token)
        while len(self.cache) > CACHE_ENTRIES:
            self.cache.popitem(last=False)
        return entry


def role_of(config: RoleConfig) -> Role:
    return Role(
        config.name,
        tuple(config.scopes),
        config.description,
        tuple(config.users),
        tuple(config.groups),
        tuple(config.services),
    )


def token_manager(settings: Settings, store: Store, groups: GroupStore) -> TokenManager:
    """Tokens as the settings define them: roles from ``load_roles``, the services' fixed
    ``api_token``s (the hub and each proxy worker build one)."""
    book = RoleBook.build(map(role_of, settings.load_roles), admin_access=settings.admin_access)
    permissions = Permissions(book, store, groups)
    tokens = TokenManager(TokenStore(store), permissions, admin_access=settings.admin_access)
    for service in settings.services:
        if service.api_token:
            tokens.add_service_token(service.api_token, service.name)
    return tokens
