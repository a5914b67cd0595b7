"""A LocalSpawner for alice, with a short, world-traversable state directory."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from courtyard.config.settings import Settings
from courtyard.spawners.base import Progress, Started
from courtyard.spawners.local import LocalSpawner
from tests.conftest import UnixUser

VENV_PYTHON = sys.executable  # the test venv: world-readable, made from /usr/bin/python3


@dataclass
class Hub:
    """What the hub would hand a spawner: settings and its runtime and log directories."""

    root: Path
    settings: Settings
    events: list[Progress] = field(default_factory=list)

    @property
    def runtime_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def spawner(self, user: str, **changes: object) -> LocalSpawner:
        settings = dataclasses.replace(self.settings, **changes)  # type: ignore[arg-type]
        return LocalSpawner(user, settings, self.runtime_dir, self.log_dir)


@pytest.fixture
def hub() -> Iterator[Hub]:
    root = Path(tempfile.mkdtemp(prefix="cy", dir="/tmp"))
    root.chmod(0o711)
    settings = Settings(python=VENV_PYTHON, state_dir=str(root), start_timeout=60, stop_grace=5)
    yield Hub(root, settings)
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class RunningServer:
    spawner: LocalSpawner
    started: Started

    @property
    def sock(self) -> str:
        assert self.started.endpoint.unix_path is not None
        return self.started.endpoint.unix_path


@pytest.fixture
async def alice_server(hub: Hub, alice: UnixUser) -> AsyncIterator[RunningServer]:
    spawner = hub.spawner(alice.name)
    started = await spawner.start(hub.events.append)
    yield RunningServer(spawner, started)
    await spawner.stop()
