"""Helpers for the operations tests: run ``courtyard`` commands as real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def courtyard(*args: str, timeout: float = 90, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
    return subprocess.run(
        [sys.executable, "-m", "courtyard", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def state_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="cyops", dir="/tmp"))
    root.chmod(0o755)
    state = root / "state"
    yield state
    courtyard("stop", "--state-dir", str(state), "--timeout", "5")
    shutil.rmtree(root, ignore_errors=True)
