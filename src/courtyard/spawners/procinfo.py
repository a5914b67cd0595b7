"""Facts about processes from /proc, and signals that never hit a recycled pid.

A process is identified by its pid *and* its start time (field 22 of ``/proc/<pid>/stat``,
clock ticks since boot): a pid alone may have been reused by the time a restarted hub looks.

Reading every process's stat file (``all_stats``) costs ~13 ms at 1,100 processes, so it is
never done on the event loop: ``ProcessScanner`` runs it in a thread, and callers that ask
while a scan runs share the next one (a culler pass stopping 50 servers at once makes a few
scans, not 50; each caller still gets a scan that began after it asked).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str  # R, S, D, Z (zombie), X (dead), ...
    ppid: int
    pgid: int
    start_time: int

    @property
    def gone(self) -> bool:
        return self.state in ("Z", "X")


def read_small(path: str) -> bytes | None:
    """A small /proc file's bytes (up to 4 KiB), or None if its process is gone. os.open and
    os.read: a third of Path.read_text's cost, which a scan of every process pays per process."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    try:
        return os.read(fd, 4096)
    except ProcessLookupError:  # the process ended between open and read
        return None
    finally:
        os.close(fd)


def read_stat(pid: int) -> ProcStat | None:
    """The parsed ``/proc/<pid>/stat``, or None if there is no such process."""
    raw = read_small(f"{PROC}/{pid}/stat")
    if raw is None:
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ")".
    fields = raw[raw.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state); field N is fields[N - 3].
    return ProcStat(pid, fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[19]))


def start_time(pid: int) -> int | None:
    stat = read_stat(pid)
    return None if stat is None else stat.start_time


def is_running(pid: int, started: int) -> bool:
    """Whether the process that had this pid and start time still runs (zombies do not)."""
    stat = read_stat(pid)
    return stat is not None and stat.start_time == started and not stat.gone


def is_same_process(pid: int, started: int) -> bool:
    """Whether this pid still names that process, running or not yet reaped."""
    stat = read_stat(pid)
    return stat is not None and stat.start_time == started


def all_stats() -> list[ProcStat]:
    """Every process's stat (blocking: ~13 ms at 1,100 processes; see ProcessScanner)."""
    stats = []
    for name in os.listdir(PROC):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                stats.append(stat)
    return stats


class ProcessTree:
    """One scan of every process, indexed by parent (built in the scanning thread)."""

    def __init__(self, stats: list[ProcStat]) -> None:
        self.children: dict[int, list[ProcStat]] = {}
        for stat in stats:
            self.children.setdefault(stat.ppid, []).append(stat)

    @classmethod
    def scan(cls) -> ProcessTree:
        return cls(all_stats())

    def descendants(self, pid: int) -> list[ProcStat]:
        """Every living process below ``pid`` (kernels run in sessions of their own)."""
        found: list[ProcStat] = []
        todo = [pid]
        while todo:
            for child in self.children.get(todo.pop(), []):
                if not child.gone:
                    found.append(child)
                    todo.append(child.pid)
        return found


class ProcessScanner:
    """``ProcessTree.scan`` in a thread, one scan shared by the callers waiting for it.

    A caller always gets a scan that *began* after it asked: if a scan is already running
    when it asks, it waits for the next one (started as soon as the running one ends), so
    sharing never hands out an older picture than scanning alone would. One scanner per
    event loop (the hub makes one; its futures belong to that loop)."""

    def __init__(self, scan: Callable[[], ProcessTree] = ProcessTree.scan) -> None:
        self._scan = scan
        self._next: asyncio.Future[ProcessTree] | None = None  # the scan not yet begun
        self._worker: asyncio.Task[None] | None = None
        self.scans = 0  # scans made (for tests)

    async def tree(self) -> ProcessTree:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        waiting = self._next
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="proc-scan")
        return await asyncio.shield(waiting)

    async def descendants(self, pid: int) -> list[ProcStat]:
        return (await self.tree()).descendants(pid)

    async def _run(self) -> None:
        while self._next is not None:
            waiting, self._next = self._next, None
            try:
                found = await asyncio.to_thread(self._scan)
            except asyncio.CancelledError:  # the loop is closing: release every waiter
                waiting.cancel()
                if self._next is not None:
                    self._next.cancel()
                    self._next = None
                raise
            except Exception as e:  # the waiters see it (raised to them); the next may succeed
                waiting.set_exception(e)
                continue
            self.scans += 1
            waiting.set_result(found)


def descendants(pid: int) -> list[ProcStat]:
    """Every living process below ``pid``, from a scan made now (blocking: not on the event
    loop; there, use ProcessScanner)."""
    return ProcessTree.scan().descendants(pid)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a process group; a group that is already gone is fine."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return


def kill_stragglers(stats: list[ProcStat]) -> None:
    """SIGKILL the processes (and the groups they lead) that are still the same processes."""
    for stat in stats:
        if not is_running(stat.pid, stat.start_time):
            continue
        if stat.pgid == stat.pid:
            signal_group(stat.pid, signal.SIGKILL)
        else:
            try:
                os.kill(stat.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
