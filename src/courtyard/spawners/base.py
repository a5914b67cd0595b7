"""The spawner contract: how the hub starts, watches and stops one user's server.

A spawner is built for one user by the hub, from settings and (after a hub restart) from the
``state()`` it persisted earlier. It does I/O; the hub owns all bookkeeping around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Endpoint:
    """Where a user's server listens: a unix socket path, or host and port over TCP."""

    unix_path: str | None = None
    host: str | None = None
    port: int | None = None

    def __post_init__(self) -> None:
        if (self.unix_path is None) == (self.host is None or self.port is None):
            raise ValueError("an Endpoint is either a unix_path or a host and port")

    def describe(self) -> str:
        return f"unix:{self.unix_path}" if self.unix_path else f"{self.host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {"unix_path": self.unix_path, "host": self.host, "port": self.port}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Endpoint:
        return cls(unix_path=data.get("unix_path"), host=data.get("host"), port=data.get("port"))


@dataclass(frozen=True)
class Progress:
    """One step of a start, shown on the spawn progress page (0..100)."""

    percent: int
    message: str


ProgressSink = Callable[[Progress], None]


@dataclass(frozen=True)
class Started:
    """What a successful start yields: where to route, and the secret the proxy injects."""

    endpoint: Endpoint
    secret: str


class Spawner(Protocol):
    """One user's server. ``state()`` must be enough for ``from_state`` to re-attach."""

    async def start(self, progress: ProgressSink) -> Started:
        """Start the server and return once it answers; raise SpawnError otherwise."""
        ...

    async def poll(self) -> int | None:
        """None while the server runs; its exit status (or -1 if unknown) once it is gone."""
        ...

    async def stop(self) -> None:
        """Stop the server and everything it started (kernels); idempotent."""
        ...

    def state(self) -> dict[str, Any]:
        """JSON-serialisable facts that identify the running server (pid, start time, socket)."""
        ...
