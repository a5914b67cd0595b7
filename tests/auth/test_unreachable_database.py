"""While the database cannot be reached (PostgreSQL restarting), sessions and tokens looked up
a moment ago are still honoured, for a bounded while; unknown ones are an error, not a login.

The outage is real: the SQLite file's directory is swapped for a plain file, so the driver's
own connect fails with OperationalError ("unable to open database file"), then swapped back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from courtyard.auth.sessions import CACHE_TTL, SessionManager
from courtyard.auth.tokens import STALE_IF_UNREACHABLE, token_manager
from courtyard.config.settings import Settings
from courtyard.store import UNREACHABLE, Store
from courtyard.store.tokenstore import GroupStore
from tests.conftest import ManualClock

KEY = b"s" * 32


@pytest.fixture
def db_dir(tmp_path: Path) -> Path:
    path = tmp_path / "db"
    path.mkdir()
    return path


@pytest.fixture
def store(db_dir: Path, clock: ManualClock) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{db_dir / 'courtyard.sqlite'}", clock=clock)
    opened.add_user("ada")
    yield opened
    opened.close()


@contextmanager
def outage(store: Store, db_dir: Path) -> Iterator[None]:
    store.engine.dispose()  # no pooled connection survives the cut
    moved = db_dir.with_name("db-away")
    db_dir.rename(moved)
    db_dir.write_text("not a directory")
    try:
        yield
    finally:
        db_dir.unlink()
        moved.rename(db_dir)


def test_a_known_session_outlives_a_short_outage_and_an_unknown_one_does_not(
    store: Store, db_dir: Path, clock: ManualClock
) -> None:
    sessions = SessionManager(store, KEY, 3600, now=clock)
    cookie = sessions.create("ada")
    other = SessionManager(store, KEY, 3600, now=clock).create("ada")  # never looked up here
    sessions.cache.pop(other, None)
    with outage(store, db_dir):
        clock.advance(CACHE_TTL + 1)  # the cached answer is due for a refresh
        with pytest.raises(UNREACHABLE):
            store.get_session("0" * 64)  # the outage is real
        found = sessions.lookup(cookie)
        assert found is not None
        assert found.user == "ada"
        with pytest.raises(UNREACHABLE):
            sessions.lookup(other)  # nothing known: an error, never a guess
        clock.advance(STALE_IF_UNREACHABLE)
        with pytest.raises(UNREACHABLE):
            sessions.lookup(cookie)  # honoured for a bounded while only
    assert sessions.lookup(cookie) is not None  # back: asked again, and fine


def test_a_known_token_outlives_a_short_outage(
    store: Store, db_dir: Path, clock: ManualClock
) -> None:
    tokens = token_manager(Settings(), store, GroupStore(store))
    tokens.now = clock
    token, _record = tokens.create("ada", note="", scopes=["inherit"], expires_in=None)
    assert tokens.identify(f"token {token}") is not None
    with outage(store, db_dir):
        clock.advance(CACHE_TTL + 1)
        principal = tokens.identify(f"token {token}")
        assert principal is not None
        assert principal.name == "ada"
        clock.advance(STALE_IF_UNREACHABLE)
        with pytest.raises(UNREACHABLE):
            tokens.identify(f"token {token}")
    assert tokens.identify(f"token {token}") is not None
