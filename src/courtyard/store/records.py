"""What the store hands out: plain frozen records, never ORM objects.

Callers never hold a database session; a record is a snapshot taken inside one transaction.
All timestamps are timezone-aware UTC datetimes. Secrets and hashes are left out of ``repr``
so a record can be logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ServerState = Literal["stopped", "starting", "running", "stopping"]
SERVER_STATES: tuple[ServerState, ...] = ("stopped", "starting", "running", "stopping")


def as_server_state(value: str) -> ServerState:
    """``value`` as a ServerState; ValueError if the database holds something else."""
    for state in SERVER_STATES:
        if value == state:
            return state
    raise ValueError(f"unknown server state {value!r} in the database")


@dataclass(frozen=True)
class UserRecord:
    """One person. ``kind`` is "user" (the JupyterHub model's kind); ``password_hash`` is set
    only for local (built-in) accounts."""

    id: int
    name: str
    admin: bool
    kind: str
    created: datetime
    last_activity: datetime | None
    password_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ServerRecord:
    """One of a user's servers as last persisted by the hub (``user`` is the owner's name,
    ``server`` the server's name: "" for the default server)."""

    user: str
    state: ServerState
    started: datetime | None
    last_activity: datetime | None
    spawner_state: dict[str, Any]
    endpoint: dict[str, Any] | None
    stop_reason: str | None
    secret: str = field(default="", repr=False)
    server: str = ""
    user_options: dict[str, Any] = field(default_factory=dict)
    display_name: str = ""  # "" shows the server's name

    @property
    def key(self) -> str:
        """``alice`` for the default server, ``alice/torch`` for a named one."""
        return server_key(self.user, self.server)


def server_key(user: str, server: str = "") -> str:
    """The one string that names a server: the owner, plus ``/<server>`` when named."""
    return f"{user}/{server}" if server else user


def split_server_key(key: str) -> tuple[str, str]:
    """``"alice/torch"`` -> ``("alice", "torch")``; ``"alice"`` -> ``("alice", "")``."""
    user, _, server = key.partition("/")
    return user, server


@dataclass(frozen=True)
class SessionRecord:
    """A login. ``id_hash`` is sha256 hex of the session token; the token itself is never
    stored. ``admin`` is the owner's admin flag at the time of the read."""

    id_hash: str = field(repr=False)
    user: str
    admin: bool
    created: datetime
    expires: datetime
    last_seen: datetime
    user_agent: str
    ip: str
