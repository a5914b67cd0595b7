"""Fixtures for the admin tests: throw-away Unix accounts (cyt-<random>, always removed with
``userdel -r``) and a real hub with system auth whose admin is one of them."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import IS_ROOT, UnixUser
from tests.hubprocess import HubProcess

NewUser = Callable[[], UnixUser]


def random_name() -> str:
    return f"cyt-{secrets.token_hex(4)}"


def remove_account(name: str) -> None:
    """``userdel -r`` a test account, first killing (by pid) what still runs as it - e.g. a
    server that a failed test left behind (a stopped hub leaves user servers running)."""
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    for pid in pids_of_uid(uid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pids_of_uid(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    subprocess.run(["userdel", "-r", name], check=False, capture_output=True)


def pids_of_uid(uid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def made_names() -> Iterator[list[str]]:
    """Names of accounts a test (or the hub under test) creates; all removed at the end."""
    names: list[str] = []
    yield names
    for name in names:
        remove_account(name)


@pytest.fixture(scope="module")
def new_unix_user(made_names: list[str]) -> NewUser:
    if not IS_ROOT:
        pytest.skip("needs root to create Unix accounts")

    def make() -> UnixUser:
        user = UnixUser(random_name(), "Pw-" + secrets.token_urlsafe(9))
        made_names.append(user.name)
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", user.name], check=True)
        subprocess.run(["chpasswd"], input=f"{user.name}:{user.password}\n", text=True, check=True)
        return user

    return make


@pytest.fixture(scope="module")
def admin_user(new_unix_user: NewUser) -> UnixUser:
    return new_unix_user()


def admin_hub_config(admin: str, *, admin_access: bool, create_system_users: bool = True) -> str:
    return "\n".join(
        [
            'auth = "system"',
            f'admin_users = ["{admin}"]',
            f"admin_access = {str(admin_access).lower()}",
            f"create_system_users = {str(create_system_users).lower()}",
            f'python = "{sys.executable}"',
            "start_timeout = 90",
            "stop_grace = 3",
            "",
        ]
    )


def start_hub(admin: str, *, admin_access: bool) -> tuple[HubProcess, Path]:
    root = Path(tempfile.mkdtemp(prefix="cya", dir="/tmp"))
    root.chmod(0o755)
    hub = HubProcess(root / "state", admin_hub_config(admin, admin_access=admin_access))
    try:
        hub.start()
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return hub, root


@pytest.fixture(scope="module")
def admin_hub(admin_user: UnixUser) -> Iterator[HubProcess]:
    """A hub with admin_access = false (admins manage servers but cannot open them)."""
    hub, root = start_hub(admin_user.name, admin_access=False)
    yield hub
    hub.stop()
    shutil.rmtree(root, ignore_errors=True)
