"""cgroup v2: tested where the kernel delegates memory, cpu and pids to the hub's subtree."""

from __future__ import annotations

from pathlib import Path

import pytest

from courtyard.config.limits import Allowance
from courtyard.errors import ConfigError
from courtyard.spawners.limits import cgroupfs
from courtyard.spawners.limits.cgroup2 import NEEDED, CgroupV2Backend, offered_controllers

pytestmark = pytest.mark.root


def why_not_cgroup2() -> str | None:
    mount = cgroupfs.v2_mount()
    if mount is None:
        return "no cgroup2 file system is mounted"
    own = mount / cgroupfs.own_cgroups().get("", "/").strip("/")
    missing = [c for c in NEEDED if c not in offered_controllers(own)]
    if missing:
        offered = ", ".join(missing)
        return f"cgroup2 at {own} offers no {offered} controller (they are on cgroup v1 here)"
    return None


def test_cgroup2_limits_are_written_and_read_back(tmp_path: Path) -> None:
    reason = why_not_cgroup2()
    if reason is not None:
        pytest.skip(reason)
    backend = CgroupV2Backend.discover(f"cytest-{tmp_path.name[-8:]}")
    paths = backend.create("alice", Allowance(200 << 20, 0.5, 64, 0), [])
    try:
        assert backend.read_back(paths) == Allowance(200 << 20, 0.5, 64, 0)
        measured = backend.measure(paths)
        assert measured is not None
        assert measured.oom_kills == 0
    finally:
        backend.remove(paths)
        backend.parent.rmdir()


def test_without_controllers_cgroup2_says_what_is_missing() -> None:
    if why_not_cgroup2() is None:
        pytest.skip("this kernel delegates cgroup2 controllers; the failure path needs one without")
    with pytest.raises(ConfigError, match="offers no"):
        CgroupV2Backend.discover("cytest-none")


def test_controllers_are_handed_down_from_the_hubs_own_cgroup_to_the_parent() -> None:
    """Which cgroups enable controllers for their children (and, holding the hub's own
    processes, move them into a leaf first): the hub's own cgroup down to the servers'
    parent, never the root cgroup nor systemd's slices above the hub."""
    from courtyard.spawners.limits.cgroup2 import between

    root = Path("/sys/fs/cgroup")
    unit = root / "system.slice" / "courtyard.service"
    assert between(root, unit, unit / "courtyard") == [unit]
    assert between(root, unit, unit / "lab" / "courtyard") == [unit, unit / "lab"]
    assert between(root, root, root / "courtyard") == []
    assert between(root, unit, root / "lab" / "courtyard") == [root / "lab"]  # an absolute one
