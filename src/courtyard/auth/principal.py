"""Who is asking: the identity the proxy and the control plane act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Principal:
    """An authenticated person (by session cookie) or token holder.

    ``admin_access`` mirrors the setting of the same name: whether an admin may open other
    users' servers. A token holder has ``scopes`` (expanded, see auth/scopes.py): then
    ``access:servers`` (unfiltered, or filtered to the owner) decides instead. ``shared`` are
    the servers other users shared with a session's user (api/shares.py: ``access:servers``
    filtered ``!server=``), kept with the cached principal and dropped when shares change.
    ``kind`` is "user" or "service" (a service is never a user: its name is the service's).
    """

    name: str
    admin: bool = False
    admin_access: bool = False
    session_id: str | None = None
    scopes: frozenset[str] | None = None
    kind: str = "user"
    token_id: int | None = None
    shared: frozenset[str] = frozenset()  # "<owner>/<server>" shared with a session's user

    def may_access_server(self, owner: str, server: str = "") -> bool:
        """Whether this caller may open ``owner``'s server ``server`` ("" the default)."""
        if self.scopes is not None:
            return (
                "access:servers" in self.scopes
                or f"access:servers!user={owner}" in self.scopes
                or f"access:servers!server={owner}/{server}" in self.scopes
            )
        return (
            owner == self.name
            or (self.admin and self.admin_access)
            or f"{owner}/{server}" in self.shared
        )


class Gate(Protocol):
    """Resolves request credentials to a Principal. Called on every proxied request: no I/O
    on the hot path beyond an in-memory cache hit."""

    def identify(self, cookie: str | None, authorization: str | None) -> Principal | None: ...
