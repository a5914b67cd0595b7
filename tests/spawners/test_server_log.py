"""A server's log stays below server_log_max, however much its kernels write (needs root)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from courtyard.spawners import procinfo
from tests.conftest import UnixUser
from tests.singleuser.socketclient import execute, start_kernel
from tests.spawners.conftest import Hub

pytestmark = pytest.mark.root

MIB = 1024 * 1024
FLOOD = """import os
line = b"flood " + b"x" * 1017 + b"\\n"
written = 0
while written < {total}:
    written += os.write(1, line)
os.write(2, b"FLOOD-END\\n")
written
"""


def base(user: UnixUser) -> str:
    return f"/user/{user.name}/"


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def keeper_of(server_pid: int) -> procinfo.ProcStat:
    """The log keeper: the server's child whose name prctl set."""
    for child in procinfo.descendants(server_pid):
        comm = Path(f"/proc/{child.pid}/comm").read_text().strip()
        if comm == "courtyard-log" and child.ppid == server_pid:
            return child
    raise AssertionError(f"no log keeper among the children of {server_pid}")


async def wait_for_text(path: Path, text: bytes, timeout: float = 60) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        data = path.read_bytes()
        if text in data or time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.1)


async def test_a_kernel_writing_3x_the_bound_leaves_a_bounded_log_and_a_live_server(
    hub: Hub, alice: UnixUser
) -> None:
    spawner = hub.spawner(alice.name, server_log_max="1M")
    started = await spawner.start(hub.events.append)
    sock = started.endpoint.unix_path
    assert sock is not None
    try:
        pid = spawner.pid
        assert pid is not None
        assert spawner.state()["pid"] == pid
        assert "courtyard.singleuser" in Path(f"/proc/{pid}/cmdline").read_text()
        keeper = keeper_of(pid)
        assert uid_of(keeper.pid) == alice.uid  # the user's process, as the server is
        before = await wait_for_text(spawner.log_path, b"Jupyter Server", 10)
        assert b"courtyard: starting" in before
        assert b"Jupyter Server" in before

        kernel = await start_kernel(sock, base(alice), started.secret)
        code = FLOOD.format(total=3 * MIB)
        written = int(await execute(sock, base(alice), started.secret, kernel, code))
        assert written >= 3 * MIB
        log = await wait_for_text(spawner.log_path, b"FLOOD-END")

        assert b"FLOOD-END" in log  # the newest output is kept
        assert len(log) <= MIB
        assert b"[courtyard: this log reached server_log_max (1 MiB) and was cut" in log
        assert b"bytes dropped so far" in log
        assert b"flood xxx" in log
        assert await execute(sock, base(alice), started.secret, kernel, "1+1") == "2"
        assert spawner.pid == pid
        assert await spawner.poll() is None
        assert procinfo.is_running(keeper.pid, keeper.start_time)
    finally:
        await spawner.stop()
    assert not procinfo.is_running(keeper.pid, keeper.start_time)


async def test_a_server_stopped_by_the_hub_still_logs_its_last_lines(
    hub: Hub, alice: UnixUser
) -> None:
    spawner = hub.spawner(alice.name)  # the default bound, 16M
    await spawner.start(hub.events.append)
    assert spawner.pid is not None
    keeper = keeper_of(spawner.pid)
    await spawner.stop()
    assert not procinfo.is_running(keeper.pid, keeper.start_time)
    log = spawner.log_path.read_bytes()
    assert b"Shutting down" in log.split(b"courtyard: starting")[-1]


async def test_unlimited_runs_no_keeper_and_the_log_is_the_servers_stdout(
    hub: Hub, alice: UnixUser
) -> None:
    spawner = hub.spawner(alice.name, server_log_max="unlimited")
    await spawner.start(hub.events.append)
    try:
        pid = spawner.pid
        assert pid is not None
        names = [Path(f"/proc/{c.pid}/comm").read_text().strip()
                 for c in procinfo.descendants(pid)]  # fmt: skip
        assert "courtyard-log" not in names
        assert os.readlink(f"/proc/{pid}/fd/1") == str(spawner.log_path)
    finally:
        await spawner.stop()


async def test_a_killed_keeper_leaves_the_server_running(hub: Hub, alice: UnixUser) -> None:
    """Only the user (or the OOM killer) can kill the keeper; the server must not go with it."""
    spawner = hub.spawner(alice.name)
    started = await spawner.start(hub.events.append)
    sock = started.endpoint.unix_path
    assert sock is not None
    try:
        assert spawner.pid is not None
        keeper = keeper_of(spawner.pid)
        os.kill(keeper.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while procinfo.is_running(keeper.pid, keeper.start_time) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        kernel = await start_kernel(sock, base(alice), started.secret)  # the server logs this
        code = "print('to the browser'); 6 * 7"
        assert await execute(sock, base(alice), started.secret, kernel, code) == "42"
        assert await spawner.poll() is None
    finally:
        await spawner.stop()
    assert await spawner.poll() is not None
