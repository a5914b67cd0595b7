"""Facts about processes from /proc, and signals that never hit a recycled pid.

A process is identified by its pid *and* its start time (field 22 of ``/proc/<pid>/stat``,
clock ticks since boot): a pid alone may have been reused by the time a restarted hub looks.
"""

from __future__ import annotations

import os
import signal
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


def read_stat(pid: int) -> ProcStat | None:
    """The parsed ``/proc/<pid>/stat``, or None if there is no such process."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); field N is fields[N - 3].
    return ProcStat(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[19]))


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
    stats = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None:
                stats.append(stat)
    return stats


def descendants(pid: int) -> list[ProcStat]:
    """Every living process below ``pid`` (kernels run in sessions of their own)."""
    children: dict[int, list[ProcStat]] = {}
    for stat in all_stats():
        children.setdefault(stat.ppid, []).append(stat)
    found: list[ProcStat] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if not child.gone:
                found.append(child)
                todo.append(child.pid)
    return found


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
