"""Fixtures for the admin tests: throw-away Unix accounts (cyt-<random>, always removed with
``userdel -r``) and a real hub with system auth whose admin is one of them."""

from __future__ import annotations

import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import IS_ROOT, UnixUser
from tests.hubprocess import HubProcess

NewUser = Callable[[], UnixUser]


def random_name() -> str:
    return f"cyt-{secrets.token_hex(4)}"


def remove_account(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["userdel", "-r", name], check=False, capture_output=True)


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
