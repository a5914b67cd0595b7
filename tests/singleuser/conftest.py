"""A real single-user server started through ``python -m courtyard.singleuser``."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from courtyard.spawners.probe import probe_status

NAME = "tester"
BASE = f"/user/{NAME}/"


@dataclass(frozen=True)
class RunningServer:
    sock: str
    secret: str
    base: str
    process: subprocess.Popen[bytes]
    log: Path


async def wait_until_ready(server: RunningServer, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    headers = {"X-Courtyard-Secret": server.secret}
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited:\n{server.log.read_text()[-3000:]}")
        if await probe_status(server.sock, f"{server.base}api/status", headers) == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"server not ready:\n{server.log.read_text()[-3000:]}")


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    root = Path(tempfile.mkdtemp(prefix="cy", dir="/tmp"))
    secret = secrets.token_urlsafe(32)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root)}
    env |= {"COURTYARD_SERVER_SECRET": secret, "JUPYTER_RUNTIME_DIR": str(root / "rt")}
    sock = str(root / "s.sock")
    command = [sys.executable, "-m", "courtyard.singleuser", "--name", NAME, "--sock", sock]
    command += ["--notebook-dir", str(root)]
    log = root / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    running = RunningServer(sock, secret, BASE, process, log)
    try:
        await wait_until_ready(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # jupyter_server logs from its SIGTERM handler; a signal landing while the server
            # writes a log line raises "reentrant call" in the handler and the stop is lost.
            # The spawner ends such a server with SIGKILL after stop_grace; so does this.
            process.kill()
            process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
