"""Who is asking: the identity the proxy and the control plane act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Principal:
    """An authenticated person (by session cookie) or token holder.

    ``admin_access`` mirrors the setting of the same name: whether an admin may open other
    users' servers. Token scopes (REST API) refine this later without changing callers.
    """

    name: str
    admin: bool = False
    admin_access: bool = False
    session_id: str | None = None

    def may_access_server(self, owner: str) -> bool:
        return owner == self.name or (self.admin and self.admin_access)


class Gate(Protocol):
    """Resolves request credentials to a Principal. Called on every proxied request: no I/O
    on the hot path beyond an in-memory cache hit."""

    def identify(self, cookie: str | None, authorization: str | None) -> Principal | None: ...
