"""Reading the cgroup file systems: where each hierarchy is mounted, which cgroup the hub is
in, and the small file operations both cgroup backends share."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
OWN_CGROUP = Path("/proc/self/cgroup")
KEY_SEPARATOR = "@"  # <user>@<server> for a named server; <user> for the default one


def cgroup_name(user: str, server: str = "") -> str:
    return f"{user}{KEY_SEPARATOR}{server}" if server else user


def v1_mounts(mountinfo: Path = MOUNTINFO) -> dict[str, Path]:
    """controller -> mount point of every cgroup v1 hierarchy (``cpu,cpuacct`` gives both)."""
    found: dict[str, Path] = {}
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _source, options = ([*right.split(), "", "", ""])[:3]
        if fstype != "cgroup":
            continue
        for option in options.split(","):
            if option not in ("rw", "ro") and "=" not in option:
                found.setdefault(option, Path(left.split()[4]))
    return found


def v2_mount(mountinfo: Path = MOUNTINFO) -> Path | None:
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[:1] == ["cgroup2"]:
            return Path(left.split()[4])
    return None


def own_cgroups(path: Path = OWN_CGROUP) -> dict[str, str]:
    """controller -> the hub's cgroup in that hierarchy; "" is the cgroup v2 one."""
    own: dict[str, str] = {}
    for line in path.read_text().splitlines():
        _id, controllers, where = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = where
    return own


def under(own: str, parent: str) -> str:
    """The cgroup servers go in: ``parent`` from the root if absolute, else below ``own``."""
    if parent.startswith("/"):
        return parent.strip("/")
    return f"{own.strip('/')}/{parent.strip('/') or 'courtyard'}".strip("/")


def write(path: Path, value: str) -> None:
    with path.open("w") as f:
        f.write(value)


def read(path: Path) -> str:
    return path.read_text().strip()


def read_int(path: Path) -> int | None:
    try:
        return int(read(path))
    except (OSError, ValueError):
        return None


def keyed(path: Path, key: str) -> int:
    """The value of ``key`` in a flat keyed file (memory.oom_control, memory.events)."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except OSError:
        return 0
    return 0


def pids_in(cgroup: Path) -> list[int]:
    try:
        return [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def kill_and_remove(cgroup: Path, timeout: float = 5.0) -> None:
    """SIGKILL every process left in ``cgroup`` (a server that ended; never the hub's own
    cgroup) and remove it once it is empty; child cgroups first."""
    if not cgroup.is_dir():
        return
    for child in [c for c in cgroup.iterdir() if c.is_dir()]:
        kill_and_remove(child, timeout)
    deadline = time.monotonic() + timeout
    while True:
        pids = pids_in(cgroup)
        for pid in pids:
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)
