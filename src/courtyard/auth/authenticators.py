"""Who may log in: the Authenticator contract and its two kinds.

``SystemAuthenticator`` checks Unix accounts with PAM; ``LocalAuthenticator`` keeps
Courtyard's own accounts (argon2id hashes in the store) and can also create them, set their
passwords and remove their credentials. Both refuse oversized input before any work, and
both answer a plain name or None: why a login failed is logged, never shown.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from courtyard.auth import passwords, unixaccounts
from courtyard.auth.credentials import (
    MAX_PASSWORD,
    normalize_name,
    shown,
    within_bounds,
)
from courtyard.auth.pam import PamPool
from courtyard.config.settings import Settings
from courtyard.errors import N_, AuthError, UserExistsError
from courtyard.store import Store

log = logging.getLogger(__name__)

MIN_PASSWORD = 8


class Authenticator(Protocol):
    kind: str

    async def authenticate(self, name: str, password: str) -> str | None:
        """The normalised user name if the password is right and policy allows; else None."""
        ...

    def is_allowed(self, name: str) -> bool:
        """Whether policy lets ``name`` (normalised) log in at all."""
        ...

    def describe_policy(self) -> str:
        """One line for the start banner: who can log in."""
        ...


def lowered(names: list[str]) -> frozenset[str]:
    return frozenset(name.strip().lower() for name in names)


def allow_list_text(settings: Settings) -> str:
    parts = []
    if settings.admin_users:
        parts.append(f"admins {sorted(settings.admin_users)}")
    if settings.allowed_users:
        parts.append(f"users {sorted(settings.allowed_users)}")
    if settings.allowed_groups:
        parts.append(f"members of groups {sorted(settings.allowed_groups)}")
    return ", ".join(parts)


def checked_name(name: str, password: str) -> str | None:
    """The normalised name if the input is within bounds and well formed, else None."""
    if not within_bounds(name, password):
        log.info("login refused: name %s or password out of bounds", shown(name))
        return None
    normal = normalize_name(name)
    if normal is None:
        log.info("login refused: %s is not a valid user name", shown(name))
    return normal


class SystemAuthenticator:
    """Unix accounts via PAM (service ``pam_service``).

    Admins may always log in. With ``allowed_users`` or ``allowed_groups`` set, only those
    may, plus the users an admin added to the hub (they are in the store: adding someone in
    the admin page is how an admin lets them in, as in JupyterHub); otherwise any account
    whose uid is within ``min_uid``..``max_uid`` and whose password is usable (checked in
    /etc/shadow when readable; PAM decides otherwise).
    """

    kind = "system"

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store
        self.admins = lowered(settings.admin_users)
        self.allowed = lowered(settings.allowed_users)
        self.groups = tuple(settings.allowed_groups)
        self.pam = PamPool(settings.pam_threads)

    async def authenticate(self, name: str, password: str) -> str | None:
        normal = checked_name(name, password)
        if normal is None:
            return None
        if not self.is_allowed(normal):
            log.info("login refused: %r is not allowed by policy", normal)
            return None
        if not await self.pam.authenticate(normal, password, self.settings.pam_service):
            log.info("login refused: PAM rejected %r", normal)
            return None
        return normal

    def is_allowed(self, name: str) -> bool:
        if name in self.admins:
            return True
        if self.allowed or self.groups:
            return (
                name in self.allowed
                or unixaccounts.in_any_group(name, self.groups)
                or (self.store is not None and self.store.get_user(name) is not None)
            )
        uid = unixaccounts.uid_of(name)
        if uid is None or not self.settings.min_uid <= uid <= self.settings.max_uid:
            return False
        return unixaccounts.has_usable_password(name) is not False

    def describe_policy(self) -> str:
        service = f"system accounts (PAM service {self.settings.pam_service!r})"
        if self.allowed or self.groups:
            return f"{service}: only {allow_list_text(self.settings)} and users added by admins"
        uids = f"uid {self.settings.min_uid}-{self.settings.max_uid} with a password"
        admins = f", plus admins {sorted(self.admins)}" if self.admins else ""
        return f"{service}: any account with {uids}{admins}"


class LocalAuthenticator:
    """Courtyard's own accounts: argon2id hashes in ``users.password_hash``.

    The hub owns user rows; this class owns their credentials. ``delete_user`` therefore
    only removes the password (the hub deletes the row and the server).
    """

    kind = "local"

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.admins = lowered(settings.admin_users)
        self.allowed = lowered(settings.allowed_users)

    async def authenticate(self, name: str, password: str) -> str | None:
        normal = checked_name(name, password)
        if normal is None:
            return None
        user = self.store.get_user(normal)
        if user is None or user.password_hash is None or not self.is_allowed(normal):
            await asyncio.to_thread(passwords.dummy_verify, password)
            log.info("login refused: %r has no local account or is not allowed", normal)
            return None
        stored = user.password_hash
        if not await asyncio.to_thread(passwords.verify_password, stored, password):
            log.info("login refused: wrong password for %r", normal)
            return None
        if passwords.needs_rehash(stored):
            await self._store_password(normal, password)
        return normal

    def is_allowed(self, name: str) -> bool:
        return not self.allowed or name in self.allowed or name in self.admins

    def describe_policy(self) -> str:
        if self.allowed:
            return f"Courtyard accounts (local): only {allow_list_text(self.settings)}"
        return "Courtyard accounts (local): anyone an admin has given a password"

    async def create_user(
        self, name: str, password: str | None = None, *, admin: bool = False
    ) -> str:
        """Add account ``name`` and return its password (generated if not given).

        A user row without a password (added by the hub earlier) gets one; an account that
        already has a password raises UserExistsError.
        """
        normal = valid_new_name(name)
        chosen = password if password is not None else passwords.generate_password()
        check_new_password(chosen)
        existing = self.store.get_user(normal)
        if existing is not None and existing.password_hash is not None:
            raise UserExistsError(
                N_("user {name!r} already has an account"), params={"name": normal}
            )
        if existing is None:
            self.store.add_user(normal, admin=admin)
        await self._store_password(normal, chosen)
        return chosen

    async def set_password(self, name: str, password: str) -> None:
        """Replace the password of ``name`` (UnknownUserError if there is no such user)."""
        check_new_password(password)
        self.store.require_user(name)
        await self._store_password(name, password)

    async def delete_user(self, name: str) -> None:
        """Remove the credentials of ``name`` so it can no longer log in."""
        self.store.set_password_hash(name, None)

    async def _store_password(self, name: str, password: str) -> None:
        hashed = await asyncio.to_thread(passwords.hash_password, password)
        self.store.set_password_hash(name, hashed)


def valid_new_name(name: str) -> str:
    normal = normalize_name(name)
    if normal is None:
        raise AuthError(
            N_(
                "{name} is not a valid user name: use lower-case letters, digits, '_', '.'"
                " and '-', starting with a letter or '_', at most 64 characters."
            ),
            params={"name": shown(name)},
        )
    return normal


def check_new_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AuthError(
            N_("a password needs {min} to {max} characters; this one has {length}."),
            params={"min": MIN_PASSWORD, "max": MAX_PASSWORD, "length": len(password)},
        )


def make_authenticator(
    settings: Settings, store: Store
) -> SystemAuthenticator | LocalAuthenticator:
    """The authenticator the setting ``auth`` asks for."""
    if settings.resolved_auth() == "system":
        return SystemAuthenticator(settings, store)
    return LocalAuthenticator(settings, store)
