"""Two bench runs at once must not share their throwaway Unix users (one run's ``userdel -r``
deleted the other's notebooks): bench/load.py refuses while another process holds the cyload
users' lock, or while an existing cyload user runs processes, and lets the lock go at the end
(tests/bench/test_load_smoke.py checks that after a whole run)."""

from __future__ import annotations

import fcntl
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from benchkit import lock_path  # noqa: E402

pytestmark = pytest.mark.root
LOAD = BENCH_DIR / "load.py"


@contextmanager
def held_lock(group: str) -> Iterator[None]:
    """Take the lock as a bench run would (our pid in the file); skip if a real run has it."""
    fd = os.open(lock_path(group), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.skip(f"a bench run holds {lock_path(group)} right now")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def lock_is_free(group: str) -> bool:
    fd = os.open(lock_path(group), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def run_smoke() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOAD), "--smoke"], capture_output=True, text=True, timeout=120
    )


def test_load_bench_refuses_while_another_run_holds_the_cyload_users() -> None:
    existed = exists("cyload01")
    with held_lock("cyload"):
        done = run_smoke()
        assert lock_path("cyload").read_text() == f"{os.getpid()}\n"  # the refusal left it
    assert done.returncode != 0, done.stdout + done.stderr
    message = (f"another bench run (pid {os.getpid()}) is using the cyload users; "
               "wait for it or stop it")  # fmt: skip
    assert done.stderr.strip().splitlines()[-1] == message, done.stderr
    assert "== Load:" not in done.stdout, done.stdout
    assert exists("cyload01") == existed  # nothing created, nothing removed
    assert lock_is_free("cyload")


def test_load_bench_refuses_a_cyload_user_that_runs_processes() -> None:
    created = not exists("cyload01")
    if created:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", "cyload01"], check=True)
    busy = subprocess.Popen(["sleep", "120"], user="cyload01", cwd="/")
    try:
        done = run_smoke()
    finally:
        busy.kill()
        busy.wait(10)
        if created:
            subprocess.run(["userdel", "-r", "cyload01"], check=False, capture_output=True)
    assert done.returncode != 0, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Unix user 'cyload01' (uid "), done.stderr
    assert str(busy.pid) in last, done.stderr
    assert "another bench run may be using it" in last, done.stderr
    assert "== Load:" not in done.stdout, done.stdout
    assert lock_is_free("cyload")


def test_an_unknown_fault_is_refused_before_anything_starts() -> None:
    """``--faults bogus`` once started a whole 40-person run (the names were checked after the
    users were made): now argparse refuses it at once."""
    users_before = {p.pw_name for p in pwd.getpwall()}
    done = subprocess.run(
        [sys.executable, str(LOAD), "--faults", "hub-kill,bogus"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown fault 'bogus'; known: hub-kill," in done.stderr
    assert "command:" not in done.stdout  # nothing ran
    assert {p.pw_name for p in pwd.getpwall()} == users_before


def test_what_a_run_left_running_as_a_reused_user_is_stopped_at_its_end() -> None:
    """A hub killed in the middle of stopping (JupyterHub after its 30 s) leaves its users'
    servers behind; a user that existed before the run is not removed, so they kept running
    and the next run refused that user. The user was idle when the run began and locked since:
    what it runs at the end is the run's, and goes."""
    from benchkit import throwaway_users

    name = "cyleft01"
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        with throwaway_users("cyleft", [name], passwords=False):
            left = subprocess.Popen(["sleep", "120"], user=name, cwd="/", start_new_session=True)
        assert left.wait(10) == -9
        assert exists(name)  # reused, not removed
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
