"""The small pieces the benches share: throwaway Unix users, and stopping a process.

A bench that creates Unix users (``cyload01``.., ``cybench``, ``cywsopen``) holds an exclusive
lock for them for its whole run (``flock`` on /run/lock/courtyard-bench-<group>.lock, or /tmp
where /run/lock is absent), so two runs at once cannot share a user: the second one refuses
instead of proceeding, and its ``userdel -r`` can never delete the first one's notebooks. A user
that already exists is reused only while it runs no process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOCK_DIR = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")


def lock_path(group: str) -> Path:
    return LOCK_DIR / f"courtyard-bench-{group}.lock"


@contextmanager
def users_lock(group: str) -> Iterator[Path]:
    """Hold the ``group`` users' lock until the block ends; refuse (SystemExit) if another
    process holds it, naming its pid (written into the lock file by whoever holds it)."""
    path = lock_path(group)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise SystemExit(
                f"another bench run (pid {holder}) is using the {group} users; "
                "wait for it or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # still ours: no pid left behind for the next run to name
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def processes_of(uids: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def refuse_busy(names: Sequence[str]) -> None:
    """SystemExit if a user of ``names`` that exists already has running processes."""
    for name in names:
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        pids = sorted(processes_of({uid}))
        if pids:
            shown = ", ".join(str(p) for p in pids[:5]) + (", ..." if len(pids) > 5 else "")
            raise SystemExit(
                f"Unix user {name!r} (uid {uid}) already runs {len(pids)} processes (pid "
                f"{shown}): another bench run may be using it; wait for it or stop them"
            )


def ensure_user(name: str) -> bool:
    """Create ``name`` (a home, bash) if missing; True if it was created here."""
    try:
        pwd.getpwnam(name)
        return False
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True)
        return True


def set_password(name: str) -> str:
    password = secrets.token_urlsafe(12)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    return password


def kill_processes_of(name: str) -> None:
    for pid in processes_of({pwd.getpwnam(name).pw_uid}):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def remove_user(name: str) -> None:
    """SIGKILL what ``name`` still runs (by pid, its own only), then ``userdel -r``."""
    kill_processes_of(name)
    subprocess.run(["userdel", "-r", name], check=False, capture_output=True)


@contextmanager
def throwaway_users(
    group: str, names: Sequence[str], passwords: bool = True
) -> Iterator[dict[str, str]]:
    """Lock ``group``, refuse users of ``names`` that are busy, create the missing ones and
    (with ``passwords``) give each a fresh random password; yield name -> password ("" when
    none). The users created here are removed at the end, then the lock is released."""
    with users_lock(group):
        refuse_busy(names)
        created: list[str] = []
        try:
            users = {}
            for name in names:
                if ensure_user(name):
                    created.append(name)
                users[name] = set_password(name) if passwords else ""
            yield users
        finally:
            for name in names:
                if name in created:
                    remove_user(name)
                else:  # idle when the run began, and locked since: what runs now is the run's
                    kill_processes_of(name)  # (a hub killed mid-stop leaves its servers)


def stop_process(proc: subprocess.Popen[Any], grace: float, reap: float = 10.0) -> None:
    """SIGTERM ``proc``, wait up to ``grace`` seconds, then SIGKILL it and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(reap)
