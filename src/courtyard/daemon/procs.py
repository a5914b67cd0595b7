"""Facts about a process from /proc: is it alive, and when did it start (to tell a reused pid
from the one we recorded)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot), or None if there is no such pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def is_same_process(pid: int, ticks: int) -> bool:
    """``pid`` runs and is the very process that started at ``ticks`` (not a reused pid)."""
    return start_ticks(pid) == ticks and not is_zombie(pid)


def parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def children_running(parent: int, module: str) -> list[int]:
    """Pids of ``parent``'s live children whose command line runs ``python -m module``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and parent_pid(int(proc.name)) == parent:
            pid = int(proc.name)
            if module in command_line(pid).split() and not is_zombie(pid):
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
