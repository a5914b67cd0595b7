"""Memory and CPU of users' servers: the server process and every process below it (kernels
run in sessions of their own but stay its descendants), read from /proc.

``UsageMeter.measure(pids)`` scans /proc once for a whole page of servers. Memory is the sum of
resident set sizes; CPU is the share of one core used since the meter last saw that server
(or, the first time, since the server process started), so 150.0 means one and a half cores.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from courtyard.spawners.procinfo import read_small

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcSample:
    pid: int
    ppid: int
    cpu_ticks: int  # utime + stime of the process itself
    start_ticks: int  # since boot
    rss_bytes: int


@dataclass(frozen=True)
class Usage:
    rss_bytes: int
    cpu_percent: float
    processes: int


def read_sample(pid: int, proc: Path = PROC) -> ProcSample | None:
    """The process's stat and resident size, or None if it is gone (or a zombie)."""
    raw = read_small(f"{proc}/{pid}/stat")
    if raw is None:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()  # fields[N - 3] is field N of proc(5)
    if fields[0] in (b"Z", b"X"):
        return None
    ticks = int(fields[11]) + int(fields[12])
    # field 24, rss (pages), is statm's resident: one file per process, not two (the scan
    # reads every process on the machine, 1,000+ with 1,000 running servers)
    return ProcSample(pid, int(fields[1]), ticks, int(fields[19]), int(fields[21]) * PAGE)


def scan(proc: Path = PROC) -> dict[int, ProcSample]:
    samples = {}
    for entry in os.scandir(proc):
        if entry.name.isdigit():
            sample = read_sample(int(entry.name), proc)
            if sample is not None:
                samples[sample.pid] = sample
    return samples


def tree_of(root: int, samples: Mapping[int, ProcSample]) -> list[ProcSample]:
    """``root`` and all its living descendants."""
    if root not in samples:
        return []
    children: dict[int, list[ProcSample]] = {}
    for sample in samples.values():
        children.setdefault(sample.ppid, []).append(sample)
    found, todo = [samples[root]], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def children_listed(proc: Path = PROC) -> bool:
    """Whether the kernel lists each thread's children (``/proc/<pid>/task/<tid>/children``,
    CONFIG_PROC_CHILDREN; Debian's kernels have it)."""
    me = os.getpid()
    return os.path.exists(f"{proc}/{me}/task/{me}/children")


def read_children(pid: int, proc: Path = PROC) -> list[int]:
    """The pids of ``pid``'s children: every thread's ``children`` file (a child is listed
    under the thread that forked it)."""
    try:
        tasks = os.listdir(f"{proc}/{pid}/task")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    found = []
    for tid in tasks:
        try:
            with open(f"{proc}/{pid}/task/{tid}/children", "rb") as listed:
                found += [int(child) for child in listed.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # the thread ended meanwhile
    return found


def walk_tree(root: int, proc: Path = PROC) -> list[ProcSample]:
    """``root`` and its living descendants, walked down from it: a few files per process of
    the tree instead of every process on the machine (1,100 stat files with 1,000 servers)."""
    found = []
    todo = [root]
    seen = set()
    while todo:
        pid = todo.pop()
        sample = read_sample(pid, proc) if pid not in seen else None
        seen.add(pid)
        if sample is None:
            continue
        found.append(sample)
        todo += read_children(pid, proc)
    return found if found and found[0].pid == root else []


def uptime_ticks(proc: Path = PROC) -> float:
    return float((proc / "uptime").read_text().split()[0]) * TICKS


class UsageMeter:
    """Measures servers by their root pid and remembers each tree's CPU total for the next
    measurement. ``clock`` is monotonic seconds (a seam for tests). Pages call ``measured``:
    the scan reads every process on the machine (20-30 ms with 1,000 servers running), so it
    runs in a thread, not on the hub's event loop."""

    def __init__(self, proc: Path = PROC, clock: Callable[[], float] = time.monotonic) -> None:
        self.proc = proc
        self.clock = clock
        self._last: dict[int, tuple[float, int, int]] = {}  # pid -> (when, start, ticks)
        self._lock = threading.Lock()  # page loads measure from threads at once

    async def measured(self, pids: Iterable[int]) -> dict[int, Usage]:
        """``measure`` in a thread (the event loop goes on serving meanwhile)."""
        wanted = list(pids)
        return await asyncio.to_thread(self.measure, wanted) if wanted else {}

    def measure(self, pids: Iterable[int]) -> dict[int, Usage]:
        wanted = list(pids)
        if not wanted:
            return {}
        with self._lock:
            return self._measure(wanted)

    def _measure(self, wanted: list[int]) -> dict[int, Usage]:
        walk = children_listed(self.proc)
        samples = {} if walk else scan(self.proc)
        now, boot_age = self.clock(), uptime_ticks(self.proc)
        usage = {}
        for pid in wanted:
            tree = walk_tree(pid, self.proc) if walk else tree_of(pid, samples)
            if tree:
                usage[pid] = self._usage(pid, tree, now, boot_age)

        def alive(pid: int) -> bool:
            return os.path.exists(f"{self.proc}/{pid}") if walk else pid in samples

        self._last = {pid: last for pid, last in self._last.items() if alive(pid)}
        return usage

    def _usage(self, pid: int, tree: list[ProcSample], now: float, boot_age: float) -> Usage:
        ticks = sum(sample.cpu_ticks for sample in tree)
        start = tree[0].start_ticks
        last = self._last.get(pid)
        if last is not None and last[1] == start and now > last[0]:
            share = (ticks - last[2]) / TICKS / (now - last[0])
        else:
            share = ticks / max(boot_age - start, 1.0)
        self._last[pid] = (now, start, ticks)
        rss = sum(sample.rss_bytes for sample in tree)
        return Usage(rss_bytes=rss, cpu_percent=max(share, 0.0) * 100.0, processes=len(tree))
