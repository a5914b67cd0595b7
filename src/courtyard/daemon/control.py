"""Start, stop and inspect the background hub of one state dir."""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path

from courtyard.daemon.detach import Launch, Notify, detach, read_line
from courtyard.daemon.records import (
    PIDFILE,
    HubRecord,
    find_running_hub,
    read_pidfile,
    write_pidfile,
)
from courtyard.errors import CourtyardError, DaemonError, PortInUseError

LOG_NAME = "courtyard.log"
POLL = 0.05


def log_path(root: Path) -> Path:
    return root / "logs" / LOG_NAME


def start_background(
    root: Path,
    body: Callable[[Notify], int],
    timeout: float,
    on_line: Callable[[str], None] = print,
) -> HubRecord:
    """Detach ``body`` (which runs the hub and notifies ``ready <url>``); wait until it is
    ready, or raise the error it reported. Lines it sends starting with "say " go to
    ``on_line`` (for what belongs on the terminal, not in the log)."""
    running = find_running_hub(root)
    if running is not None:
        where = f" at {running.url}" if running.url else ""
        raise DaemonError(
            f"the hub already runs (pid {running.pid}){where}. "
            "Use 'courtyard restart' or 'courtyard stop'."
        )
    launch = detach(with_pidfile(root, body), log_path(root))
    try:
        answer = wait_for_answer(launch, timeout, on_line)
    finally:
        os.close(launch.messages)
    if answer.startswith("ready"):
        found = find_running_hub(root)
        if found is not None:
            return found
        raise DaemonError(
            f"the hub (pid {launch.pid}) is gone after starting; see {log_path(root)}"
        )
    raise failure(answer, launch.pid, root)


def with_pidfile(root: Path, body: Callable[[Notify], int]) -> Callable[[Notify], int]:
    def run(notify: Notify) -> int:
        record = write_pidfile(root, os.getpid())
        try:
            return body(notify)
        finally:
            if read_pidfile(root) == record:
                (root / PIDFILE).unlink(missing_ok=True)

    return run


def wait_for_answer(launch: Launch, timeout: float, on_line: Callable[[str], None]) -> str:
    deadline = time.monotonic() + timeout
    while True:
        left = max(deadline - time.monotonic(), 0.0)
        ready, _, _ = select.select([launch.messages], [], [], left)
        if not ready:
            return "timeout"
        line = read_line(launch.messages)
        if not line.startswith("say "):
            return line or "died"
        on_line(line[4:])


def failure(answer: str, pid: int, root: Path) -> CourtyardError:
    if answer.startswith("error "):
        _, code, message = answer.split(" ", 2)
        port_in_use = code == str(PortInUseError.exit_code)
        error: CourtyardError = PortInUseError(message) if port_in_use else DaemonError(message)
        error.exit_code = int(code)
        return error
    if answer == "timeout":
        where = log_path(root)
        return DaemonError(f"the hub (pid {pid}) did not get ready in time; see {where}.")
    return DaemonError(f"the hub stopped while starting; see 'courtyard logs' ({log_path(root)}).")


def stop_hub(root: Path, timeout: float) -> HubRecord | None:
    """SIGTERM the running hub, wait up to ``timeout`` s, then SIGKILL. None if none ran."""
    record = find_running_hub(root)
    if record is None:
        return None
    signal_process(record, signal.SIGTERM)
    if not wait_gone(record, timeout):
        signal_process(record, signal.SIGKILL)
        if not wait_gone(record, 5.0):
            raise DaemonError(f"the hub (pid {record.pid}) survived SIGKILL.")
    forget(root, record)
    return record


def signal_process(record: HubRecord, sig: signal.Signals) -> None:
    if not record.alive:
        return
    try:
        os.kill(record.pid, sig)
    except ProcessLookupError:
        return
    except PermissionError as e:
        raise DaemonError(
            f"not allowed to stop the hub (pid {record.pid}); run this as its owner or root."
        ) from e


def wait_gone(record: HubRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while record.alive:
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


def forget(root: Path, record: HubRecord) -> None:
    """Drop the pidfile and status file of a hub that is gone (a SIGKILL leaves them)."""
    if not record.alive:
        find_running_hub(root)
