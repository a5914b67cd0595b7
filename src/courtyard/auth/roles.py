"""Roles: named sets of scopes given to users, groups and services (JupyterHub's RBAC).

The default roles are ``user`` (every user: ``self``), ``admin`` (admin users; with
``access:servers`` only when ``admin_access`` is on), ``server``
(what a user's server may do) and ``token``; ``load_roles`` in the config adds more (or
redefines a default). ``RoleBook`` answers "which roles and scopes does X have".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from courtyard.auth import scopes as sc
from courtyard.errors import ConfigError
from courtyard.store.sharestore import ShareStore
from courtyard.store.store import Store
from courtyard.store.tokenstore import GroupStore

ADMIN_SCOPES = (
    "admin-ui",
    "admin:users",
    "admin:servers",
    "admin:services",
    "tokens",
    "admin:groups",
    "list:services",
    "read:services",
    "read:hub",
    "proxy",
    "shutdown",
    "access:services",
    "access:servers",
    "read:roles",
    "read:metrics",
    "shares",
)
SHARES_WITHOUT_ACCESS = ("read:shares", "users:shares", "groups:shares")


@dataclass(frozen=True)
class Role:
    name: str
    scopes: tuple[str, ...]
    description: str = ""
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


DEFAULT_ROLES = (
    Role("user", ("self",), "Standard user privileges"),
    Role("admin", ADMIN_SCOPES, "Elevated privileges (can do anything)"),
    Role("server", ("users:activity!user", "access:servers!server"), "Post activity only"),
    Role("token", ("inherit",), "Token with same permissions as its owner"),
)


@dataclass
class RoleBook:
    """Every role by name; who holds which."""

    roles: dict[str, Role] = field(default_factory=dict)

    @classmethod
    def build(cls, loaded: Iterable[Role], *, admin_access: bool = False) -> RoleBook:
        """The default roles, then ``loaded`` (which may redefine one). Without
        ``admin_access`` the default ``admin`` role has no ``access:servers``, so an admin's
        token cannot open other users' servers either; a loaded role keeps what it grants."""
        book = cls({role.name: role for role in DEFAULT_ROLES})
        if not admin_access:
            admin = book.roles["admin"]
            kept = tuple(s for s in admin.scopes if s not in ("access:servers", "shares"))
            kept += SHARES_WITHOUT_ACCESS  # ``shares`` implies access:servers
            book.roles["admin"] = Role(admin.name, kept, admin.description)
        for role in loaded:
            bad = sc.unknown_scopes(role.scopes)
            if bad:
                raise ConfigError(
                    f"load_roles: role {role.name!r} has unknown scopes {bad}; "
                    "see docs/api.md for the scope names."
                )
            book.roles[role.name] = role
        return book

    def roles_of_user(self, name: str, admin: bool, groups: Iterable[str]) -> list[str]:
        group_set = set(groups)
        found = ["user"] + (["admin"] if admin else [])
        for role in self.roles.values():
            if name in role.users or group_set.intersection(role.groups):
                found.append(role.name)
        return sorted(set(found))

    def roles_of_service(self, name: str) -> list[str]:
        return sorted(r.name for r in self.roles.values() if name in r.services)

    def roles_of_group(self, name: str) -> list[str]:
        return sorted(r.name for r in self.roles.values() if name in r.groups)

    def raw_scopes(self, role_names: Iterable[str]) -> set[str]:
        raw: set[str] = set()
        for name in role_names:
            role = self.roles.get(name)
            if role is not None:
                raw.update(role.scopes)
        return raw


class Permissions:
    """The expanded scopes of users and services, read fresh from the store each time."""

    def __init__(self, book: RoleBook, store: Store, groups: GroupStore) -> None:
        self.book = book
        self.store = store
        self.groups = groups
        self.shares = ShareStore(store)

    def members(self, group: str) -> list[str]:
        return self.groups.members(group) or []

    def user_roles(self, name: str) -> list[str] | None:
        user = self.store.get_user(name)
        if user is None:
            return None
        return self.book.roles_of_user(name, user.admin, self.groups.of_user(name))

    def of_user(self, name: str) -> frozenset[str]:
        """Everything user ``name`` may do (empty if there is no such user)."""
        roles = self.user_roles(name)
        if roles is None:
            return frozenset()
        raw = self.book.raw_scopes(roles)
        raw.update(scope for share in self.shares.with_user(name) for scope in share.scopes)
        return self.expand(raw, name, "user")

    def of_service(self, name: str) -> frozenset[str]:
        return self.expand(self.book.raw_scopes(self.book.roles_of_service(name)), name, "service")

    def expand(self, raw: Iterable[str], owner: str, kind: str) -> frozenset[str]:
        return sc.expand(raw, owner=owner, owner_kind=kind, members=self.members)
