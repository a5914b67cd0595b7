"""The log keeper on real files and real pipes: bounded, newest output kept, never blocking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import courtyard
from courtyard.singleuser.logkeeper import TAIL_KEPT, BoundedLog, keep

MIB = 1024 * 1024
SRC = str(Path(courtyard.__file__).parents[1])
LINE = b"y" * 99 + b"\n"


def open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def test_three_times_the_bound_leaves_one_cut_file_with_the_newest_lines(tmp_path: Path) -> None:
    path = tmp_path / "alice.log"
    path.write_bytes(b"--- an earlier run ---\n")
    fd = open_append(path)
    log = BoundedLog(fd, MIB)
    for i in range(3 * MIB // len(LINE)):
        log.write(b"%09d " % i + LINE)
        assert os.fstat(fd).st_size <= MIB
    log.write(b"the last line\n")
    os.close(fd)
    data = path.read_bytes()
    assert log.cuts >= 2
    assert data.startswith(b"[courtyard: this log reached server_log_max (1 MiB) and was cut")
    assert f"{log.dropped} bytes dropped so far (cut {log.cuts})".encode() in data
    assert data.endswith(b"the last line\n")
    marker, _, kept = data.partition(b"\n")
    assert kept[:10].strip().isdigit()  # the kept tail starts at a line, not in one
    assert b"an earlier run" not in data
    written = len(b"--- an earlier run ---\n") + (3 * MIB // len(LINE)) * 110 + 14
    assert log.dropped + len(data) - len(marker) - 1 >= written


def test_a_file_not_opened_for_appending_is_cut_without_a_hole(tmp_path: Path) -> None:
    path = tmp_path / "slurm-1.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    log = BoundedLog(fd, MIB)
    for _ in range(2 * MIB // len(LINE)):
        log.write(LINE)
    os.close(fd)
    data = path.read_bytes()
    assert len(data) <= MIB
    assert b"\0" not in data
    assert data.startswith(b"[courtyard:")


def test_a_write_larger_than_the_room_keeps_its_end(tmp_path: Path) -> None:
    path = tmp_path / "alice.log"
    fd = open_append(path)
    log = BoundedLog(fd, MIB)
    log.write(b"a" * MIB + b"END\n")
    os.close(fd)
    data = path.read_bytes()
    assert len(data) <= MIB
    assert data.endswith(b"END\n")
    assert log.dropped >= MIB // 2


def test_keep_copies_a_pipe_until_its_writers_close_it(tmp_path: Path) -> None:
    path = tmp_path / "alice.log"
    read_fd, write_fd = os.pipe()
    fd = open_append(path)
    child = os.fork()
    if child == 0:
        os.close(write_fd)
        keep(read_fd, fd, MIB)
        os._exit(0)
    os.close(read_fd)
    for i in range(5 * MIB // TAIL_KEPT):
        os.write(write_fd, b"%d " % i + b"z" * (TAIL_KEPT - 20) + b"\n")
    os.close(write_fd)
    _, status = os.waitpid(child, 0)
    assert status == 0
    assert os.fstat(fd).st_size <= MIB
    os.close(fd)


def test_the_launcher_keeps_its_pid_and_its_keeper_outlives_sigterm(tmp_path: Path) -> None:
    """start_keeper in a real process: the caller keeps its pid, fd 1 and 2 go through the
    keeper, which ignores SIGTERM (else the writes below fail with EPIPE) and is gone once
    finish_keeper returns."""
    path = tmp_path / "server.log"
    script = (
        "import os, signal, sys, time\n"
        "from courtyard.singleuser.logkeeper import finish_keeper, start_keeper\n"
        "me = os.getpid()\n"
        "keeper = start_keeper(1024 * 1024)\n"
        "assert keeper and os.getpid() == me\n"
        "os.kill(keeper, signal.SIGTERM)\n"
        "time.sleep(0.2)\n"
        "for _ in range(3000): os.write(2, b'e' * 999 + b'\\n')\n"
        "print('done', flush=True)\n"
        "finish_keeper(keeper)\n"
        "try:\n"
        "    os.kill(keeper, 0)\n"
        "except ProcessLookupError:\n"
        "    sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    with open(path, "ab") as log:
        done = subprocess.run(
            [sys.executable, "-c", script], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": SRC}, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 0
    data = path.read_bytes()
    assert len(data) <= MIB
    assert data.endswith(b"done\n")
    assert b"[courtyard: this log reached server_log_max" in data


def test_a_terminal_or_pipe_on_fd_1_gets_no_keeper() -> None:
    script = (
        "from courtyard.singleuser.logkeeper import start_keeper\n"
        "print(start_keeper(1024 * 1024))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True,
        env={**os.environ, "PYTHONPATH": SRC}, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout == b"None\n"
