from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubprocess import HubProcess


def new_state_dir() -> Path:
    # short and world-traversable: user servers put their sockets under it
    root = Path(tempfile.mkdtemp(prefix="cy", dir="/tmp"))
    root.chmod(0o755)
    return root / "state"


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = new_state_dir()
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


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
    stop_user_servers(state_dir)


@pytest.fixture(scope="module")
def shared_hub(unix_users: object) -> Iterator[HubProcess]:
    """One hub for a whole module, for tests that don't restart it or depend on its state."""
    path = new_state_dir()
    process = HubProcess(path, hub_config("cyalice", "cybob"))
    process.start()
    yield process
    process.stop()
    stop_user_servers(path)
    shutil.rmtree(path.parent, ignore_errors=True)


def stop_user_servers(state_dir: Path) -> None:
    """Tests leave no servers behind: a hub that stops leaves them running by design."""
    subprocess.run(
        [sys.executable, "-m", "courtyard", "stop-servers", "--state-dir", str(state_dir)],
        check=False,
        capture_output=True,
        timeout=60,
    )
