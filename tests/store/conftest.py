"""Store fixtures: a fresh database per test, on SQLite and on a real PostgreSQL server.

PostgreSQL comes from COURTYARD_TEST_POSTGRES_URL (a URL whose user may CREATE DATABASE; the
test setup script starts the server). Without it the postgres tests skip, except under CI=true
where they fail so CI cannot skip them silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from courtyard.store import Store
from tests.conftest import ManualClock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'courtyard.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(db_url: str, clock: ManualClock) -> Iterator[Store]:
    opened = Store.open(db_url, clock=clock)
    yield opened
    opened.close()
