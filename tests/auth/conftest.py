"""Auth fixtures: a throwaway SQLite store and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from courtyard.store import Store
from tests.conftest import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'courtyard.sqlite'}", clock=clock)
    yield opened
    opened.close()
