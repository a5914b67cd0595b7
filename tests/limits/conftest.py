"""Limited servers for alice and bob: a LocalSpawner with a Limiter over real cgroups.

Each test gets its own cgroup parent (below the test process's own cgroups), removed at the end.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from courtyard.config.limits import LimitSettings
from courtyard.config.settings import Profile, Settings
from courtyard.spawners.limits.limiter import Limiter
from courtyard.spawners.local import LocalSpawner
from tests.spawners.conftest import VENV_PYTHON

# Harmless character devices with distinct numbers, copied as fake GPUs: /dev/full, /dev/zero.
FAKE_GPU_NUMBERS = [(1, 7), (1, 5)]


@dataclass
class LimitedHub:
    root: Path
    limits: LimitSettings
    limiter: Limiter
    profiles: list[Profile] = dataclasses.field(default_factory=list)

    def settings(self) -> Settings:
        return Settings(
            python=VENV_PYTHON,
            state_dir=str(self.root),
            stop_grace=3,
            limits=self.limits,
            profiles=self.profiles,
        )

    def spawner(self, user: str, server: str = "", profile: str = "") -> LocalSpawner:
        run, logs = self.root / "run", self.root / "logs"
        return LocalSpawner(
            user, self.settings(), run, logs, limiter=self.limiter, server=server, profile=profile
        )

    def restarted(self) -> Limiter:
        """A new Limiter from the same settings, as a restarted hub would make."""
        return Limiter.start(self.limits, self.profiles)

    def reattach(self, user: str, state: dict[str, object], limiter: Limiter) -> LocalSpawner:
        run, logs = self.root / "run", self.root / "logs"
        return LocalSpawner.from_state(
            user, self.settings(), run, logs, dict(state), limiter=limiter
        )


@pytest.fixture
def state_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="cyl", dir="/tmp"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cgroup_parent() -> Iterator[str]:
    parent = f"cytest-{uuid.uuid4().hex[:8]}"
    yield parent
    limits = LimitSettings(memory="1G", cgroup_parent=parent, backend="cgroup1")
    limiter = Limiter.start(limits)
    limiter.sweep(set())
    assert limiter.backend is not None
    for folder in getattr(limiter.backend, "parents", {}).values():
        folder.rmdir()


@pytest.fixture
def make_hub(state_root: Path, cgroup_parent: str) -> Callable[..., LimitedHub]:
    def make(profiles: list[Profile] | None = None, **limits: object) -> LimitedHub:
        settings = LimitSettings(cgroup_parent=cgroup_parent, backend="cgroup1")
        settings = dataclasses.replace(settings, **limits)  # type: ignore[arg-type]
        offered = list(profiles or [])
        return LimitedHub(state_root, settings, Limiter.start(settings, offered), offered)

    return make


@pytest.fixture
def fake_gpus(state_root: Path) -> list[str]:
    folder = state_root / "dev"
    folder.mkdir()
    folder.chmod(0o755)
    paths = []
    for i, (major, minor) in enumerate(FAKE_GPU_NUMBERS):
        path = folder / f"gpu{i}"
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        path.chmod(0o666)
        paths.append(str(path))
    return paths
