"""Facts about a process from /proc: is it alive, and when did it start (to tell a reused pid
from the one we recorded)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command (field 3, the state, first), or None
    if there is no such pid. The command (field 2) may hold spaces and parentheses: split after
    the last ')'."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot), or None if there is no such pid."""
    fields = stat_fields(pid)
    try:
        return int(fields[19]) if fields is not None else None
    except (IndexError, ValueError):
        return None


def is_zombie(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[:1] == ["Z"]


def is_running(pid: int) -> bool:
    """``pid`` exists and has not exited (a zombie waiting for its parent has)."""
    fields = stat_fields(pid)
    return fields is not None and fields[:1] != ["Z"]


def is_same_process(pid: int, ticks: int) -> bool:
    """``pid`` runs and is the very process that started at ``ticks`` (not a reused pid)."""
    return start_ticks(pid) == ticks and not is_zombie(pid)


def children_running(parent: int, module: str) -> list[int]:
    """Pids of ``parent``'s live children whose command line runs ``python -m module``."""
    found = []
    for proc in Path("/proc").iterdir():
        pid = int(proc.name) if proc.name.isdigit() else 0
        fields = stat_fields(pid) if pid else None
        child = fields is not None and fields[:1] != ["Z"] and fields[1:2] == [str(parent)]
        if child and module in command_line(pid).split():
            found.append(pid)
    return sorted(found)


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return time.time() - time.monotonic()  # pragma: no cover - /proc/stat always has btime


def started_at(ticks: int) -> float:
    """Unix time at which a process with start ``ticks`` started."""
    return boot_time() + ticks / os.sysconf("SC_CLK_TCK")
