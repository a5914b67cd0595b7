"""rlimits: the last resort where no cgroup can be made (no root, no controllers).

Set by the launcher (enter.py) on the server process and inherited by its children: memory
as RLIMIT_AS of each process (not the server as a whole), tasks as RLIMIT_NPROC (counted per
Unix user, across all their processes). CPU cannot be limited this way, nor usage measured.
"""

from __future__ import annotations

from courtyard.config.limits import Allowance
from courtyard.spawners.limits.base import Device, Measured


class RlimitBackend:
    name = "rlimits"

    def describe(self) -> str:
        return "rlimits (per process; no cgroups available)"

    def unenforced(self) -> list[str]:
        return [
            "cpus",
            "memory of a server as a whole (each process gets the limit)",
            "tasks per server (counted per Unix user)",
            "GPU device isolation",
            "usage on the admin page and OOM notices",
        ]

    def create(self, key: str, allowance: Allowance, deny: list[Device]) -> dict[str, str]:
        return {}

    def enter_args(self, paths: dict[str, str], allowance: Allowance) -> list[str]:
        args = []
        if allowance.memory is not None:
            args += ["--rlimit", f"AS={allowance.memory}"]
        if allowance.tasks is not None:
            args += ["--rlimit", f"NPROC={allowance.tasks}"]
        return args

    def measure(self, paths: dict[str, str]) -> Measured | None:
        return None

    def read_back(self, paths: dict[str, str]) -> Allowance | None:
        return None

    def remove(self, paths: dict[str, str]) -> None:
        return None

    def sweep(self, keep: set[str]) -> list[str]:
        return []
