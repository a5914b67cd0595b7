"""cgroup v1: one directory per server in each of the memory, cpu, cpuacct, pids and
devices hierarchies, under ``<the hub's own cgroup>/courtyard`` (or ``[limits]
cgroup_parent``), e.g. ``/sys/fs/cgroup/memory/<hub's cgroup>/courtyard/alice``.

Memory: ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` where swap is
accounted, so swapping does not escape it); the kernel's OOM killer then picks a victim inside
the cgroup only, and ``memory.oom_control`` counts its kills. CPU: CFS quota per 100 ms period.
Tasks: ``pids.max``. GPUs: ``devices.deny`` for every other server's GPU node.
"""

from __future__ import annotations

from pathlib import Path

from courtyard.config.limits import Allowance
from courtyard.errors import ConfigError, SpawnError
from courtyard.spawners.limits import cgroupfs
from courtyard.spawners.limits.base import Device, Measured

CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "devices")
PERIOD_US = 100_000
NO_LIMIT = 2**63 - 4096  # what the kernel shows for an unlimited memory cgroup (rounded)


class CgroupV1Backend:
    name = "cgroup1"

    def __init__(self, parents: dict[str, Path]) -> None:
        self.parents = parents  # controller -> the directory servers' cgroups go in

    @classmethod
    def discover(cls, parent: str = "courtyard") -> CgroupV1Backend:
        """The hierarchies of this machine; ConfigError when one is missing or not writable."""
        mounts = cgroupfs.v1_mounts()
        own = cgroupfs.own_cgroups()
        missing = [c for c in CONTROLLERS if c not in mounts]
        if missing:
            raise ConfigError(
                f"cgroup v1 lacks the {', '.join(missing)} controller(s); "
                f"set [limits] backend to 'cgroup2' or 'rlimits'."
            )
        parents = {}
        for controller in CONTROLLERS:
            parents[controller] = mounts[controller] / cgroupfs.under(
                own.get(controller, "/"), parent
            )
        backend = cls(parents)
        backend.check_writable()
        return backend

    def check_writable(self) -> None:
        for controller, folder in self.parents.items():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot make the cgroup {str(folder)!r} ({exc.strerror}); limits need "
                    f"root and a writable {controller} hierarchy."
                ) from exc

    def describe(self) -> str:
        memory = self.parents["memory"]
        return f"cgroup v1 (memory, cpu, cpuacct, pids, devices) under {str(memory)!r}"

    def unenforced(self) -> list[str]:
        return []

    def create(self, key: str, allowance: Allowance, deny: list[Device]) -> dict[str, str]:
        paths = {c: str(self.parents[c] / key) for c in CONTROLLERS}
        try:
            for folder in paths.values():
                Path(folder).mkdir(exist_ok=True)
            self._apply(paths, allowance, deny)
        except OSError as exc:
            self.remove(paths)
            raise SpawnError(
                "The server's resource limits could not be set up.",
                detail=f"cgroup v1 for {key!r}: {exc}",
            ) from exc
        return paths

    def _apply(self, paths: dict[str, str], allowance: Allowance, deny: list[Device]) -> None:
        memory = Path(paths["memory"])
        limit = str(allowance.memory) if allowance.memory is not None else "-1"
        cgroupfs.write(memory / "memory.limit_in_bytes", limit)
        if (memory / "memory.memsw.limit_in_bytes").exists():
            cgroupfs.write(memory / "memory.memsw.limit_in_bytes", limit)
        cpu = Path(paths["cpu"])
        cgroupfs.write(cpu / "cpu.cfs_period_us", str(PERIOD_US))
        quota = int(allowance.cpus * PERIOD_US) if allowance.cpus is not None else -1
        cgroupfs.write(cpu / "cpu.cfs_quota_us", str(quota))
        tasks = str(allowance.tasks) if allowance.tasks is not None else "max"
        cgroupfs.write(Path(paths["pids"]) / "pids.max", tasks)
        for device in deny:
            rule = f"c {device.major}:{device.minor} rwm"
            cgroupfs.write(Path(paths["devices"]) / "devices.deny", rule)

    def enter_args(self, paths: dict[str, str], allowance: Allowance) -> list[str]:
        # cgroup.procs moves the whole process; every controller's directory gets the pid
        return [arg for c in CONTROLLERS for arg in ("--join", f"{paths[c]}/cgroup.procs")]

    def measure(self, paths: dict[str, str]) -> Measured | None:
        memory = cgroupfs.read_int(Path(paths["memory"]) / "memory.usage_in_bytes")
        cpu_ns = cgroupfs.read_int(Path(paths["cpuacct"]) / "cpuacct.usage")
        if memory is None or cpu_ns is None:
            return None
        kills = cgroupfs.keyed(Path(paths["memory"]) / "memory.oom_control", "oom_kill")
        return Measured(memory=memory, cpu_seconds=cpu_ns / 1e9, oom_kills=kills)

    def read_back(self, paths: dict[str, str]) -> Allowance | None:
        memory = cgroupfs.read_int(Path(paths["memory"]) / "memory.limit_in_bytes")
        quota = cgroupfs.read_int(Path(paths["cpu"]) / "cpu.cfs_quota_us")
        period = cgroupfs.read_int(Path(paths["cpu"]) / "cpu.cfs_period_us") or PERIOD_US
        try:
            tasks_text = cgroupfs.read(Path(paths["pids"]) / "pids.max")
        except OSError:
            return None
        if memory is None or quota is None:
            return None
        return Allowance(
            memory=None if memory >= NO_LIMIT else memory,
            cpus=None if quota < 0 else quota / period,
            tasks=None if tasks_text == "max" else int(tasks_text),
        )

    def remove(self, paths: dict[str, str]) -> None:
        for folder in paths.values():
            cgroupfs.kill_and_remove(Path(folder))

    def sweep(self, keep: set[str]) -> list[str]:
        removed = set()
        for folder in self.parents.values():
            if not folder.is_dir():
                continue
            for child in folder.iterdir():
                if child.is_dir() and child.name not in keep:
                    cgroupfs.kill_and_remove(child)
                    removed.add(child.name)
        return sorted(removed)
