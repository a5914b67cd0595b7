"""Managing people: add, rename, set passwords, make admin, delete - for the admin page and
``courtyard user``, with either kind of authentication.

With ``local`` auth the accounts are Courtyard's own (argon2 hashes in the store). With
``system`` auth they are Unix accounts: the hub keeps a row per user, and, when running as
root, sets passwords with ``chpasswd``; with ``create_system_users`` it also creates missing
accounts (``useradd -m``). Deleting a user keeps their Unix account unless asked otherwise.
Stopping a user's server first is the caller's job (the ServerManager owns servers).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from courtyard.auth import passwords, unixaccounts
from courtyard.auth.authenticators import (
    Authenticator,
    LocalAuthenticator,
    check_new_password,
    valid_new_name,
)
from courtyard.auth.sessions import SessionManager
from courtyard.config.settings import Settings
from courtyard.errors import N_, AuthError, UnknownUserError, UserExistsError
from courtyard.store.records import UserRecord
from courtyard.store.store import USER_EXISTS, Store

log = logging.getLogger("courtyard.users")


@dataclass(frozen=True)
class NewAccount:
    """A user just added; ``password`` is set only when Courtyard generated it (show once)."""

    name: str
    password: str | None


class UserAdmin:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        authenticator: Authenticator,
        sessions: SessionManager | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.authenticator = authenticator
        self.sessions = sessions

    @property
    def local(self) -> LocalAuthenticator | None:
        auth = self.authenticator
        return auth if isinstance(auth, LocalAuthenticator) else None

    @property
    def can_rename(self) -> bool:
        """Only Courtyard's own accounts can be renamed (a Unix account keeps its name)."""
        return self.local is not None

    @property
    def can_set_passwords(self) -> bool:
        return self.local is not None or os.geteuid() == 0

    @property
    def creates_unix_accounts(self) -> bool:
        return self.local is None and self.settings.create_system_users

    @property
    def user_uids(self) -> range:
        """The uids whose Unix accounts Courtyard may change (min_uid..max_uid)."""
        return range(self.settings.min_uid, self.settings.max_uid + 1)

    @property
    def needs_existing_account(self) -> bool:
        return self.local is None and not self.settings.create_system_users

    def check_name(self, raw: str) -> str:
        """The normalised name, valid for this kind of account (AuthError otherwise)."""
        name = valid_new_name(raw)
        if self.local is None:
            unixaccounts.check_unix_name(name)
        return name

    async def add(
        self, names: list[str], *, admin: bool = False, password: str | None = None
    ) -> list[NewAccount]:
        """Add every name (all checked before any is added); without ``password`` each gets
        a generated one, returned to be shown once."""
        checked = [self.check_name(raw) for raw in names]
        if password is not None:
            check_new_password(password)
        for name in checked:
            if self.store.get_user(name) is not None:
                raise UserExistsError(USER_EXISTS, params={"name": name})
            if self.needs_existing_account and unixaccounts.uid_of(name) is None:
                raise UnknownUserError(
                    N_(
                        "there is no Unix account named {name!r}. Create it first, or set "
                        "create_system_users = true to let Courtyard create it."
                    ),
                    params={"name": name},
                )
            exists = unixaccounts.uid_of(name) is not None
            if self.local is None and self.can_set_passwords and exists:
                unixaccounts.check_managed_uid(name, self.user_uids)  # we would chpasswd it
        return [await self._add_one(name, admin, password) for name in checked]

    async def _add_one(self, name: str, admin: bool, password: str | None) -> NewAccount:
        chosen = password or passwords.generate_password()
        shown = None if password else chosen
        if self.local is not None:
            await self.local.create_user(name, chosen, admin=admin)
            log.info("added user %r (local account%s)", name, ", admin" if admin else "")
            return NewAccount(name, shown)
        if self.creates_unix_accounts and unixaccounts.uid_of(name) is None:
            unixaccounts.create_account(name, chosen, uids=self.user_uids)
        elif self.can_set_passwords:
            unixaccounts.set_password(name, chosen, uids=self.user_uids)
        else:
            shown = None  # a password we could not set must not be shown as if it were
        self.store.add_user(name, admin=admin)
        log.info("added user %r (system account%s)", name, ", admin" if admin else "")
        return NewAccount(name, shown)

    async def set_password(self, name: str, password: str | None = None) -> str:
        """Set (or, without ``password``, generate) the password of ``name``; returns it."""
        self.store.require_user(name)
        chosen = password or passwords.generate_password()
        check_new_password(chosen)
        if self.local is not None:
            await self.local.set_password(name, chosen)
        elif os.geteuid() == 0:
            unixaccounts.set_password(name, chosen, uids=self.user_uids)
        else:
            raise AuthError(
                N_(
                    "{name!r} is a Unix account and Courtyard is not running as root: "
                    "change it with 'passwd {name}'."
                ),
                params={"name": name},
            )
        log.info("password of %r changed", name)
        return chosen

    def set_admin(self, name: str, admin: bool) -> UserRecord:
        record = self.store.set_admin(name, admin)
        if self.sessions is not None:
            self.sessions.forget_user(name)
        log.info("%r is %s an admin", name, "now" if admin else "no longer")
        return record

    def rename(self, name: str, raw_new_name: str) -> UserRecord:
        """Rename a local account; its sessions end (they carry the old name)."""
        if not self.can_rename:
            raise AuthError(
                N_("{name!r} is a Unix account and keeps its name."), params={"name": name}
            )
        new_name = self.check_name(raw_new_name)
        record = self.store.rename_user(name, new_name)
        self._log_out(name)
        self.store.delete_sessions_for_user(new_name)
        log.info("renamed user %r to %r", name, new_name)
        return record

    def delete(self, name: str, *, remove_unix_account: bool = False) -> None:
        """Delete the user's row (server record, sessions); with ``remove_unix_account``
        (system auth only) also ``userdel -r`` the account and its home."""
        self.store.require_user(name)
        if remove_unix_account and self.local is None:
            unixaccounts.check_unix_name(name)
            if unixaccounts.uid_of(name) is not None:
                unixaccounts.check_managed_uid(name, self.user_uids)  # before any change
        self._log_out(name)
        self.store.delete_user(name)
        log.info("deleted user %r", name)
        if remove_unix_account and self.local is None:
            unixaccounts.delete_account(name, uids=self.user_uids)

    def _log_out(self, name: str) -> None:
        if self.sessions is not None:
            self.sessions.revoke_user(name)
        else:
            self.store.delete_sessions_for_user(name)
