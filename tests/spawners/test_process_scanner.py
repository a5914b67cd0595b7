"""procinfo.ProcessScanner: /proc scans in a thread, shared by callers that ask at once, and
never older than the moment a caller asked (real processes, real /proc)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from collections.abc import Iterator

import pytest

from courtyard.spawners import procinfo
from courtyard.spawners.procinfo import ProcessScanner, ProcessTree


@pytest.fixture
def family() -> Iterator[subprocess.Popen[bytes]]:
    """A shell in a session of its own with two sleeping children."""
    proc = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"], start_new_session=True)
    try:
        yield proc
    finally:
        procinfo.signal_group(proc.pid, signal.SIGKILL)
        proc.wait()


async def children_of(pid: int, at_least: int) -> list[procinfo.ProcStat]:
    for _ in range(200):  # the shell forks its children after it starts
        found = procinfo.descendants(pid)
        if len(found) >= at_least:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"{pid} did not start {at_least} children")


async def test_callers_asking_at_once_share_one_scan_in_a_thread(
    family: subprocess.Popen[bytes],
) -> None:
    expected = {s.pid for s in await children_of(family.pid, 2)}
    threads: list[str] = []

    def scan() -> ProcessTree:
        threads.append(threading.current_thread().name)
        return ProcessTree.scan()

    scanner = ProcessScanner(scan)
    found = await asyncio.gather(*(scanner.descendants(family.pid) for _ in range(20)))
    assert all({s.pid for s in one} == expected for one in found)
    assert scanner.scans == 1
    assert threads
    assert threading.main_thread().name not in threads


async def test_a_caller_never_gets_a_scan_that_began_before_it_asked() -> None:
    read, release = threading.Event(), threading.Event()

    def scan() -> ProcessTree:
        tree = ProcessTree.scan()
        read.set()  # the first scan has read /proc; it returns when released
        release.wait(30)
        return tree

    scanner = ProcessScanner(scan)
    first = asyncio.create_task(scanner.tree())
    assert await asyncio.to_thread(read.wait, 30)
    late = subprocess.Popen(["sleep", "300"])  # started after the first scan read /proc
    try:
        second = asyncio.create_task(scanner.tree())
        await asyncio.sleep(0.05)
        assert not second.done()  # it waits for a scan of its own, not the running one
        release.set()
        before, after = await first, await second
        mine = os.getpid()
        assert late.pid not in {s.pid for s in before.descendants(mine)}
        assert late.pid in {s.pid for s in after.descendants(mine)}
        assert scanner.scans == 2
    finally:
        late.kill()
        late.wait()


async def test_a_failed_scan_reaches_its_callers_and_the_next_one_scans_again() -> None:
    calls = 0

    def scan() -> ProcessTree:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise PermissionError("/proc is not readable")
        return ProcessTree.scan()

    scanner = ProcessScanner(scan)
    with pytest.raises(PermissionError, match="not readable"):
        await scanner.tree()
    assert (await scanner.tree()).children  # pid 1 at least has children
    assert scanner.scans == 1
