"""The contract every limits backend keeps, and the facts it reports about a server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from courtyard.config.limits import Allowance


@dataclass(frozen=True)
class Device:
    """A character device a server may (or may not) open: a GPU's node."""

    path: str
    major: int
    minor: int


@dataclass(frozen=True)
class Measured:
    """A server's use as its cgroup counts it (kernels and every child included)."""

    memory: int  # bytes in use now
    cpu_seconds: float  # total CPU time since the cgroup was made
    oom_kills: int  # processes the kernel killed for the memory limit


class LimitBackend(Protocol):
    """Enforces an Allowance on a server's processes. ``paths`` is what ``create`` returned,
    persisted in the spawner's state so a restarted hub finds the same cgroups again."""

    name: str

    def describe(self) -> str:
        """One line for ``courtyard status`` and the start banner."""
        ...

    def unenforced(self) -> list[str]:
        """What this backend cannot enforce (empty when it enforces everything)."""
        ...

    def create(self, key: str, allowance: Allowance, deny: list[Device]) -> dict[str, str]:
        """Make the server's cgroup(s) with these limits; return the paths (controller -> dir)."""
        ...

    def enter_args(self, paths: dict[str, str], allowance: Allowance) -> list[str]:
        """Arguments for the launcher (enter.py) that put its process under the limits."""
        ...

    def measure(self, paths: dict[str, str]) -> Measured | None:
        """Usage now, or None if the backend cannot tell (rlimits) or the cgroup is gone."""
        ...

    def read_back(self, paths: dict[str, str]) -> Allowance | None:
        """The limits the kernel holds for these paths now (None if it cannot tell)."""
        ...

    def remove(self, paths: dict[str, str]) -> None:
        """Kill what is left in the cgroups and remove them; idempotent."""
        ...

    def sweep(self, keep: set[str]) -> list[str]:
        """Remove every server cgroup whose key is not in ``keep``; returns the removed keys."""
        ...
