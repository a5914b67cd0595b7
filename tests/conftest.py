"""Session-wide test fixtures: real Unix test users with real passwords.

The test setup (scripts/test) runs as root in CI; tests marked ``root`` need that.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

IS_ROOT = os.geteuid() == 0


@dataclass(frozen=True)
class UnixUser:
    name: str
    password: str

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid

    @property
    def home(self) -> str:
        return pwd.getpwnam(self.name).pw_dir


class ManualClock:
    """A clock tests move by hand: pass it where code takes ``now``/``clock``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


# Fixed names: these accounts exist only on test machines (created below, idempotently).
TEST_USERS = {
    "alice": UnixUser("cyalice", "Alice-pw-7f3k9q"),
    "bob": UnixUser("cybob", "Bob-pw-2m8x4z"),
}


def ensure_unix_user(user: UnixUser) -> None:
    try:
        pwd.getpwnam(user.name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", user.name], check=True)
    subprocess.run(["chpasswd"], input=f"{user.name}:{user.password}\n", text=True, check=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_ROOT:
        return
    skip = pytest.mark.skip(reason="needs root (real Unix users, PAM, setuid)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def unix_users() -> dict[str, UnixUser]:
    if not IS_ROOT:
        pytest.skip("needs root to create Unix test users")
    for user in TEST_USERS.values():
        ensure_unix_user(user)
    return TEST_USERS


@pytest.fixture(scope="session")
def alice(unix_users: dict[str, UnixUser]) -> UnixUser:
    return unix_users["alice"]


@pytest.fixture(scope="session")
def bob(unix_users: dict[str, UnixUser]) -> UnixUser:
    return unix_users["bob"]


def postgres_admin_url() -> str:
    url = os.environ.get("COURTYARD_TEST_POSTGRES_URL")
    if url:
        return url
    message = "COURTYARD_TEST_POSTGRES_URL is not set (the test setup starts PostgreSQL)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A freshly created, empty PostgreSQL database, dropped after the test."""
    with fresh_postgres_database() as url:
        yield url


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new empty database on the test PostgreSQL (its URL), dropped at the end: for
    fixtures of a wider scope than ``postgres_url``."""
    admin_url = make_url(postgres_admin_url())
    name = f"cytest_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
