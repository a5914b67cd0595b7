"""Run a function as a daemon: double fork + setsid, stdio into a rotated log file.

The caller gets a ``Launch`` back: the daemon's pid and a pipe on which the daemon says
``ready <url>`` or ``error <exit code> <message>`` (EOF without either means it died).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Launch:
    pid: int
    messages: int  # read end of the pipe; the daemon writes lines to it


class StdioRotatingHandler(logging.handlers.RotatingFileHandler):
    """Rotates like its parent, and points stdout/stderr at the new file after a rollover so
    prints and stray tracebacks land in the current log."""

    def doRollover(self) -> None:
        super().doRollover()
        if self.stream is not None:
            redirect_stdio(self.stream.fileno())


def redirect_stdio(fd: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)


def configure_daemon_logging(
    log_path: Path, level: str, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS
) -> None:
    """Log to ``log_path``, rotated at ``max_bytes`` with ``backups`` old files kept."""
    handler = StdioRotatingHandler(log_path, maxBytes=max_bytes, backupCount=backups)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if handler.stream is not None:
        redirect_stdio(handler.stream.fileno())


def detach(body: Callable[[Notify], int], log_path: Path) -> Launch:
    """Fork ``body`` off as a daemon; in the parent, return once the daemon's pid is known."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    first = os.fork()
    if first == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        run_daemon(body, write_end, log_path)
    os.close(write_end)
    os.waitpid(first, 0)
    pid_line = read_line(read_end)
    if not pid_line.startswith("pid "):
        os.close(read_end)
        raise OSError("the background hub died before it started")
    return Launch(int(pid_line.split()[1]), read_end)


def run_daemon(body: Callable[[Notify], int], pipe: int, log_path: Path) -> None:
    """In the grandchild: detach stdio, say our pid, run ``body``, never return."""
    code = 1
    try:
        os.chdir("/")
        os.umask(0o022)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        redirect_stdio(log_fd)
        os.write(pipe, f"pid {os.getpid()}\n".encode())

        def notify(line: str) -> None:
            os.write(pipe, (line + "\n").encode())

        code = body(notify)
    except BaseException:  # the daemon has no one else to report to
        logging.getLogger("courtyard").exception("the background hub failed")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def read_line(fd: int) -> str:
    """One line from ``fd`` (blocking); "" at EOF."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()
