"""The log keeper: a server's stdout and stderr, kept below ``server_log_max`` bytes.

The hub opens ``<log_dir>/<user>.log`` (O_APPEND, the hub's, 0600) as the server's fd 1 and
2. Left alone, one kernel writing to fd 1 in a loop (ipykernel copies a kernel's OS-level
output to the server's stdout) fills the hub's state disk: everyone's outage. With
``--log-max``, the launcher calls :func:`start_keeper` just before jupyter starts; it forks:

- the parent goes on as the server, keeping the pid the hub recorded (re-attach, culling,
  limits and status all rely on it), with fd 1 and 2 now the write end of a pipe;
- the child, the keeper, reads the pipe and appends what it reads to the log. When a write
  would take the file past the bound, it truncates the file to nothing, writes one marker
  line (the bound, how many bytes were dropped so far) and the last 64 KiB it wrote, and goes
  on. The file never holds more than the bound.

The keeper is the user's process inside the server's cgroups, as the launcher is (it costs one
task and a few MiB). It ignores SIGTERM, SIGINT and SIGHUP, so a stopping server's last lines
still reach the log, and exits when every writer (the server, its kernels) has closed the pipe;
:func:`finish_keeper` lets the server wait for that, so the hub reads a complete log when a
start fails. It is never a reason for the server to stop or block: it reads continuously and a
failed write (a full disk) only drops that output. It is not dumpable, so the user's other
processes cannot ptrace it to write past the bound. If it is killed anyway (by the user, or the
OOM killer), a thread of the server that waits for it points the server's fd 1 and 2 at
/dev/null: the server goes on, its output from then on is lost, and kernels it starts later
work (a kernel started with a broken pipe as stderr exits at once). Kernels already running
keep the broken pipe: ipykernel stops forwarding their fd output at the first EPIPE, and one
that goes on writing to fd 1 may then block once its own pipe is full.

Only the standard library is used: this module runs in any environment's Python (the shim).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable

CHUNK = 64 * 1024  # bytes read from the pipe at a time
TAIL_KEPT = 64 * 1024  # bytes of the newest output written again after a cut
FINISH_WAIT = 2.0  # seconds the exiting server waits for the keeper to write the rest
PR_SET_NAME = 15
PR_SET_DUMPABLE = 4
KEEPER_NAME = b"courtyard-log"
SURVIVED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # what a stopping server gets


def shown_size(value: int) -> str:
    for unit, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if value >= unit and value % unit == 0:
            return f"{value // unit} {name}"
    return f"{value} bytes"


class BoundedLog:
    """Appends to ``fd`` (a regular file) and cuts the file before it passes ``limit`` bytes;
    ``clock`` gives the marker's time."""

    def __init__(
        self, fd: int, limit: int, clock: Callable[[], time.struct_time] = time.gmtime
    ) -> None:
        self.fd = fd
        self.limit = limit
        self.clock = clock
        self.tail = bytearray()
        self.dropped = 0  # bytes removed by cuts, and output lost to failed writes
        self.cuts = 0

    def write(self, data: bytes) -> None:
        if len(data) > self.limit // 2:  # never true for pipe reads (CHUNK) and limits >= 1M
            self.dropped += len(data) - self.limit // 2
            data = data[-(self.limit // 2) :]
        try:
            size = os.fstat(self.fd).st_size
            if size + len(data) > self.limit:
                self.cut(size)
            self.write_all(data)
        except OSError:
            self.dropped += len(data)  # a full disk or a failing one: drop, never block
            return
        self.tail += data
        if len(self.tail) > TAIL_KEPT:
            del self.tail[: len(self.tail) - TAIL_KEPT]

    def cut(self, size: int) -> None:
        kept = bytes(self.tail)
        newline = kept.find(b"\n")
        if 0 <= newline < len(kept) - 1:
            kept = kept[newline + 1 :]  # start at a line
        self.dropped += max(0, size - len(kept))
        self.cuts += 1
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)  # for a file not opened O_APPEND (a Slurm job's)
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", self.clock())
        marker = (
            f"[courtyard: this log reached server_log_max ({shown_size(self.limit)}) and was "
            f"cut at {when}; {self.dropped} bytes dropped so far (cut {self.cuts}); the last "
            f"{shown_size(len(kept)) if kept else 'none'} of output before the cut follow]\n"
        )
        self.write_all(marker.encode())
        self.write_all(kept)

    def write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]


def keep(read_fd: int, log_fd: int, limit: int) -> None:
    """Copy ``read_fd`` to ``log_fd`` through a :class:`BoundedLog` until end of file."""
    log = BoundedLog(log_fd, limit)
    while True:
        data = os.read(read_fd, CHUNK)
        if not data:
            return
        log.write(data)


def start_keeper(limit: int) -> int | None:
    """Fork the keeper for the log on fd 1 (see the module docstring). Returns its pid in the
    server (the caller), or None when fd 1 is not a regular file (a terminal, a pipe: left
    as it is). The keeper itself never returns from here."""
    try:
        if not stat.S_ISREG(os.fstat(1).st_mode):
            return None
    except OSError:
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    signal.pthread_sigmask(signal.SIG_BLOCK, SURVIVED)  # held, not lost, until each side is set
    pid = os.fork()
    if pid == 0:  # the keeper
        status = 0
        try:
            os.close(write_fd)
            become_keeper()
            keep(read_fd, 1, limit)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SURVIVED)
    os.close(read_fd)
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    watch = threading.Thread(target=watch_keeper, args=(pid,), name="log-keeper", daemon=True)
    watch.start()
    return pid


def watch_keeper(pid: int) -> None:
    """In the server: wait for the keeper; if it ends (killed), send fd 1 and 2 to
    /dev/null, so the server and the kernels it starts from then on see no EPIPE (a kernel
    whose stderr is a broken pipe exits at start)."""
    with contextlib.suppress(ChildProcessError, InterruptedError):
        os.waitpid(pid, 0)
    redirect_to_null()


def redirect_to_null() -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


def become_keeper() -> None:
    """Survive the signals a stopping server gets; no ptrace by the user's processes; a name
    ``ps`` shows."""
    for number in SURVIVED:
        signal.signal(number, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SURVIVED)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(KEEPER_NAME), 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        return  # no ctypes (a minimal environment) or no prctl: the bound still holds


def finish_keeper(pid: int, timeout: float = FINISH_WAIT) -> None:
    """From the exiting server: close its ends of the pipe and wait (at most ``timeout``
    seconds; kernels may still hold the pipe) for the keeper to write what is left."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    redirect_to_null()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.01)
