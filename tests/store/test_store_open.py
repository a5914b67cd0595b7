"""Opening the store: files and permissions, migrations, pragmas, clear errors."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from courtyard.errors import StoreError
from courtyard.store import Store, schema
from courtyard.store.models import Base


def test_open_creates_private_directory_and_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "courtyard.sqlite"
    Store.open(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_wal_and_shared_memory_files_are_private_too(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'courtyard.sqlite'}")
    store.add_user("ada")
    for name in ("courtyard.sqlite-wal", "courtyard.sqlite-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    store.close()


def test_open_tightens_a_world_readable_database_file(tmp_path: Path) -> None:
    path = tmp_path / "courtyard.sqlite"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    Store.open(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_migrations_reach_head_and_match_the_models(db_url: str) -> None:
    Store.open(db_url).close()
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == schema.head_revision()
        assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert {"users", "servers", "sessions", "groups", "user_group", "api_tokens"} <= tables


def test_reopening_keeps_data_and_does_not_migrate_again(db_url: str) -> None:
    first = Store.open(db_url)
    first.add_user("ada")
    first.close()
    second = Store.open(db_url)
    assert second.get_user("ada") is not None
    second.close()


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == schema.SQLITE_BUSY_TIMEOUT_MS
    store.close()


def test_in_memory_sqlite_works_for_throwaway_stores() -> None:
    store = Store.open("sqlite://")
    store.add_user("ada")
    assert [u.name for u in store.list_users()] == ["ada"]
    store.close()


def test_unwritable_sqlite_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the database"):
        Store.open(f"sqlite:///{blocker / 'courtyard.sqlite'}")


def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bind, learn it, close
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://courtyard:hunter2-secret@127.0.0.1:{port}/courtyard"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert "hunter2-secret" not in caught.value.message
    assert "database_url" in caught.value.message


def test_missing_driver_says_how_to_write_a_postgres_url() -> None:
    with pytest.raises(StoreError, match=r"'MySQLdb' is not installed.*postgresql\+psycopg://"):
        Store.open("mysql://u@127.0.0.1/db")


def test_database_from_a_newer_courtyard_is_refused(db_url: str) -> None:
    Store.open(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer Courtyard"):
        Store.open(db_url)
