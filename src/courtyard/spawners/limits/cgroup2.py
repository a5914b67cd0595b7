"""cgroup v2: one directory per server in a delegated subtree of the unified hierarchy,
``<the hub's own cgroup>/courtyard/<key>`` (or ``[limits] cgroup_parent``).

Usable only where the parent offers the memory, cpu and pids controllers
(``cgroup.controllers``); Courtyard enables them for its children (``cgroup.subtree_control``).
cgroup v2 lets a non-root cgroup hand controllers to children only while it has no processes
of its own, so when the parent is the hub's own cgroup (a systemd unit with ``Delegate=yes``,
the documented way) the hub first moves its own processes into a leaf ``<parent>/hub`` - what
systemd's delegation docs ask of a delegated unit's manager.
Memory: ``memory.max`` and ``memory.swap.max = 0``; CPU: ``cpu.max``; tasks: ``pids.max``;
``memory.events`` counts OOM kills. The devices controller of v2 is a BPF program, which this
backend does not load: GPUs are kept apart by CUDA_VISIBLE_DEVICES only (it says so).
"""

from __future__ import annotations

import errno
from pathlib import Path

from courtyard.config.limits import Allowance
from courtyard.errors import ConfigError, SpawnError
from courtyard.spawners.limits import cgroupfs
from courtyard.spawners.limits.base import Device, Measured

NEEDED = ("memory", "cpu", "pids")
PERIOD_US = 100_000


def offered_controllers(folder: Path) -> set[str]:
    try:
        return set(cgroupfs.read(folder / "cgroup.controllers").split())
    except OSError:
        return set()


HUB_LEAF = "hub"


def hand_down(folder: Path) -> None:
    """Enable the controllers Courtyard needs for ``folder``'s children; if ``folder`` holds
    processes (the hub's own, in a delegated unit), move them into ``folder/hub`` first."""
    enabled = set(cgroupfs.read(folder / "cgroup.subtree_control").split())
    wanted = " ".join(f"+{c}" for c in NEEDED if c not in enabled)
    if not wanted:
        return
    try:
        cgroupfs.write(folder / "cgroup.subtree_control", wanted)
        return
    except OSError as exc:
        if exc.errno != errno.EBUSY:  # EBUSY: "no internal processes"
            raise
    leaf = folder / HUB_LEAF
    leaf.mkdir(exist_ok=True)
    for pid in cgroupfs.read(folder / "cgroup.procs").split():
        try:
            cgroupfs.write(leaf / "cgroup.procs", pid)
        except ProcessLookupError:
            continue  # it ended meanwhile
    cgroupfs.write(folder / "cgroup.subtree_control", wanted)


def between(mount: Path, own: Path, target: Path) -> list[Path]:
    """The cgroups that must hand controllers down to reach ``target``: from the hub's own
    (or, for a parent outside it, ``target``'s parent) down to ``target``'s parent; never
    the root cgroup, which has them and may hold processes."""
    start = own if own in target.parents else target.parent
    chain = [start, *(p for p in reversed(target.parents) if start in p.parents)]
    return [p for p in chain if p != mount and p != target]


class CgroupV2Backend:
    name = "cgroup2"

    def __init__(self, parent: Path) -> None:
        self.parent = parent

    @classmethod
    def discover(cls, parent: str = "courtyard") -> CgroupV2Backend:
        mount = cgroupfs.v2_mount()
        if mount is None:
            raise ConfigError("no cgroup v2 hierarchy is mounted.")
        own = cgroupfs.own_cgroups().get("", "/")
        target = mount / cgroupfs.under(own, parent)
        above = target.parent
        missing = [c for c in NEEDED if c not in offered_controllers(above)]
        if missing:
            raise ConfigError(
                f"the cgroup v2 hierarchy at {str(above)!r} offers no {', '.join(missing)} "
                f"controller(s) (it offers {sorted(offered_controllers(above))!r})."
            )
        try:
            target.mkdir(parents=True, exist_ok=True)
            for folder in between(mount, mount / own.lstrip("/"), target):
                hand_down(folder)
            cgroupfs.write(target / "cgroup.subtree_control", " ".join(f"+{c}" for c in NEEDED))
        except OSError as exc:
            raise ConfigError(f"cannot delegate {str(target)!r}: {exc.strerror}.") from exc
        return cls(target)

    def describe(self) -> str:
        return f"cgroup v2 (memory, cpu, pids) under {str(self.parent)!r}"

    def unenforced(self) -> list[str]:
        return ["GPU device isolation (CUDA_VISIBLE_DEVICES only, no devices cgroup)"]

    def create(self, key: str, allowance: Allowance, deny: list[Device]) -> dict[str, str]:
        folder = self.parent / key
        try:
            folder.mkdir(exist_ok=True)
            memory = str(allowance.memory) if allowance.memory is not None else "max"
            cgroupfs.write(folder / "memory.max", memory)
            if (folder / "memory.swap.max").exists() and allowance.memory is not None:
                cgroupfs.write(folder / "memory.swap.max", "0")
            quota = str(int(allowance.cpus * PERIOD_US)) if allowance.cpus is not None else "max"
            cgroupfs.write(folder / "cpu.max", f"{quota} {PERIOD_US}")
            tasks = str(allowance.tasks) if allowance.tasks is not None else "max"
            cgroupfs.write(folder / "pids.max", tasks)
        except OSError as exc:
            cgroupfs.kill_and_remove(folder)
            raise SpawnError(
                "The server's resource limits could not be set up.",
                detail=f"cgroup v2 for {key!r}: {exc}",
            ) from exc
        return {"unified": str(folder)}

    def enter_args(self, paths: dict[str, str], allowance: Allowance) -> list[str]:
        return ["--join", f"{paths['unified']}/cgroup.procs"]

    def measure(self, paths: dict[str, str]) -> Measured | None:
        folder = Path(paths["unified"])
        memory = cgroupfs.read_int(folder / "memory.current")
        usage_us = cgroupfs.keyed(folder / "cpu.stat", "usage_usec")
        if memory is None:
            return None
        kills = cgroupfs.keyed(folder / "memory.events", "oom_kill")
        return Measured(memory=memory, cpu_seconds=usage_us / 1e6, oom_kills=kills)

    def read_back(self, paths: dict[str, str]) -> Allowance | None:
        folder = Path(paths["unified"])
        try:
            memory = cgroupfs.read(folder / "memory.max")
            quota, period = cgroupfs.read(folder / "cpu.max").split()
            tasks = cgroupfs.read(folder / "pids.max")
        except (OSError, ValueError):
            return None
        return Allowance(
            memory=None if memory == "max" else int(memory),
            cpus=None if quota == "max" else int(quota) / int(period),
            tasks=None if tasks == "max" else int(tasks),
        )

    def remove(self, paths: dict[str, str]) -> None:
        cgroupfs.kill_and_remove(Path(paths["unified"]))

    def sweep(self, keep: set[str]) -> list[str]:
        removed = []
        for child in sorted(self.parent.iterdir()):
            if child.is_dir() and child.name not in keep:
                cgroupfs.kill_and_remove(child)
                removed.append(child.name)
        return removed
