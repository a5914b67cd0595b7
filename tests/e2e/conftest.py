from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubprocess import HubProcess


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # short and world-traversable: user servers put their sockets under it
    root = Path(tempfile.mkdtemp(prefix="cy", dir="/tmp"))
    root.chmod(0o755)
    yield root / "state"
    shutil.rmtree(root, ignore_errors=True)


def hub_config(alice: str, bob: str, **extra: object) -> str:
    lines = [
        'auth = "system"',
        f'allowed_users = ["{alice}", "{bob}"]',
        f'python = "{sys.executable}"',
        "start_timeout = 90",
        "stop_grace = 3",
    ]
    lines += [
        f"{k} = {v!r}".replace("'", '"') if not isinstance(v, bool) else f"{k} = {str(v).lower()}"
        for k, v in extra.items()
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def hub(state_dir: Path, alice: object, bob: object) -> Iterator[HubProcess]:
    process = HubProcess(state_dir, hub_config("cyalice", "cybob"))
    process.start()
    yield process
    process.stop()
