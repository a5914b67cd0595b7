"""The two files a running hub leaves in its state dir.

``courtyard.pid``  pid and /proc start ticks, written by ``courtyard start`` as it detaches.
``run/status.json`` written by every hub (``up`` or ``start``) once it listens: pid, start
ticks, URL, port; removed on a clean shutdown.

A record counts only while its pid runs *and* started at the recorded ticks, so a pid reused
by another process after a crash never passes for the hub. Stale files are removed on sight.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from courtyard.daemon.procs import is_same_process, start_ticks

PIDFILE = "courtyard.pid"
STATUS_FILE = "run/status.json"


@dataclass(frozen=True)
class HubRecord:
    pid: int
    ticks: int
    url: str = ""
    port: int = 0
    started: float = 0.0  # unix time the hub became ready
    limits: str = ""  # how servers' resource limits are enforced (Limiter.describe)

    @property
    def alive(self) -> bool:
        return is_same_process(self.pid, self.ticks)


def record_for(pid: int, **extra: object) -> HubRecord:
    ticks = start_ticks(pid)
    if ticks is None:
        raise ProcessLookupError(pid)
    return HubRecord(pid, ticks, **extra)  # type: ignore[arg-type]


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


def write_pidfile(root: Path, pid: int) -> HubRecord:
    record = record_for(pid)
    write_atomic(root / PIDFILE, f"{record.pid} {record.ticks}\n")
    return record


def read_pidfile(root: Path) -> HubRecord | None:
    try:
        pid, ticks = (root / PIDFILE).read_text().split()[:2]
        return HubRecord(int(pid), int(ticks))
    except (OSError, ValueError):
        return None


def write_status(root: Path, url: str, port: int, limits: str = "") -> None:
    record = record_for(os.getpid(), url=url, port=port, started=time.time(), limits=limits)
    write_atomic(root / STATUS_FILE, json.dumps(asdict(record)) + "\n")


def read_status(root: Path) -> HubRecord | None:
    try:
        data = json.loads((root / STATUS_FILE).read_text())
        return HubRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove_status(root: Path, pid: int) -> None:
    found = read_status(root)
    if found is not None and found.pid == pid:
        (root / STATUS_FILE).unlink(missing_ok=True)


def find_running_hub(root: Path) -> HubRecord | None:
    """The hub running on ``root`` (status merged with pidfile), cleaning stale files."""
    pidfile, status = read_pidfile(root), read_status(root)
    if pidfile is not None and not pidfile.alive:
        (root / PIDFILE).unlink(missing_ok=True)
        pidfile = None
    if status is not None and not status.alive:
        (root / STATUS_FILE).unlink(missing_ok=True)
        status = None
    if status is not None and (pidfile is None or pidfile.pid == status.pid):
        return status
    return pidfile
