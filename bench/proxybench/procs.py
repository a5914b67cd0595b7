"""Child processes of the benchmark: started pinned (taskset), awaited by condition, stopped
by pid, and measured (VmRSS)."""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchkit import stop_process

STOP_GRACE = 3.0
POLL = 0.02


class BenchError(RuntimeError):
    """Something the bench needs is missing or a child failed; the message says what to do."""


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def pinned(cpus: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run under ``taskset -c cpus`` (taskset execs: the pid stays the program's)."""
    return ["taskset", "-c", cpus, *argv]


def rss_kib(pid: int) -> int:
    """Resident set size of one process, from /proc/<pid>/status (VmRSS, in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def raise_nofile(wanted: int) -> int:
    """Raise RLIMIT_NOFILE towards ``wanted`` (children inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, min(wanted, hard)) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BenchError(f"{name!r} is not on PATH. {hint}")
    return path


@dataclass
class Children:
    """Every process the bench starts; ``stop_all`` ends each one by its pid."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cy-bench-")))
    started: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Child:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        child = Child(name, popen, log_path)
        self.started.append(child)
        return child

    def start_ready_line(self, name: str, argv: Sequence[str], timeout: float = 20.0) -> Child:
        """Start a child that prints ``READY <port>`` and wait for that line."""
        child = self.start(name, argv)

        def ready() -> bool:
            if child.popen.poll() is not None:
                raise BenchError(f"{name} exited early:\n{child.log_text()[-2000:]}")
            return any(line.startswith("READY ") for line in child.log_text().splitlines())

        wait_for(ready, timeout, f"{name} to print READY")
        line = next(x for x in child.log_text().splitlines() if x.startswith("READY "))
        child.port = int(line.split()[1])
        return child

    def stop(self, child: Child) -> None:
        stop_process(child.popen, STOP_GRACE, reap=STOP_GRACE)
        if child in self.started:
            self.started.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.started)):
            self.stop(child)
        shutil.rmtree(self.workdir, ignore_errors=True)
