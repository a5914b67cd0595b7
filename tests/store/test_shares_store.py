"""Shares and share codes (migration 0004): one row per (server, user or group), scopes
merged on grant and cut on revoke; codes stored hashed; all gone with the server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from courtyard.errors import UnknownUserError
from courtyard.store import Store, schema
from courtyard.store.sharestore import ShareStore
from courtyard.store.tokenstore import GroupStore

ACCESS = "access:servers!server=ada/"
READ = "read:servers!server=ada/"


@pytest.fixture
def shares(store: Store) -> ShareStore:
    for name in ("ada", "bo", "cy"):
        store.add_user(name)
    store.save_server("ada", "")
    store.save_server("ada", "notes")
    groups = GroupStore(store)
    groups.create("lab")
    groups.add_members("lab", ["cy"])
    return ShareStore(store)


def test_granting_twice_merges_scopes_into_one_share(shares: ShareStore) -> None:
    first = shares.grant("ada", "", [ACCESS], user="bo")
    again = shares.grant("ada", "", [READ], user="bo")
    assert again.id == first.id
    assert again.scopes == tuple(sorted([ACCESS, READ]))
    assert [s.user for s in shares.of_owner("ada")] == ["bo"]
    assert shares.of_owner("ada", "notes") == []


def test_revoking_some_scopes_keeps_the_rest_and_all_deletes(shares: ShareStore) -> None:
    shares.grant("ada", "", [ACCESS, READ], user="bo")
    left = shares.revoke("ada", "", [READ], user="bo")
    assert left is not None
    assert left.scopes == (ACCESS,)
    assert shares.revoke("ada", "", None, user="bo") is None
    assert shares.find("ada", "", user="bo") is None


def test_a_group_share_reaches_its_members(shares: ShareStore) -> None:
    shares.grant("ada", "notes", ["access:servers!server=ada/notes"], group="lab")
    found = shares.with_user("cy")
    assert [(s.owner, s.server, s.group) for s in found] == [("ada", "notes", "lab")]
    assert shares.with_user("bo") == []
    assert [s.server for s in shares.with_group("lab")] == ["notes"]


def test_unknown_user_group_or_server_is_refused(shares: ShareStore) -> None:
    with pytest.raises(UnknownUserError):
        shares.grant("ada", "", [ACCESS], user="nobody")
    with pytest.raises(UnknownUserError):
        shares.grant("ada", "", [ACCESS], group="nogroup")
    with pytest.raises(UnknownUserError):
        shares.grant("ada", "missing", [ACCESS], user="bo")


def test_shares_and_codes_go_with_the_server(store: Store, shares: ShareStore) -> None:
    shares.grant("ada", "notes", ["access:servers!server=ada/notes"], user="bo")
    expires = store.now() + timedelta(hours=1)
    shares.create_code("ada", "notes", "h" * 64, "abcd", ["x"], expires)
    assert store.delete_server("ada", "notes")
    assert shares.with_user("bo") == []
    assert shares.code_by_hash("h" * 64) is None


def test_codes_are_found_by_hash_deleted_by_id_and_count_exchanges(
    store: Store, shares: ShareStore
) -> None:
    expires = store.now() + timedelta(hours=1)
    one = shares.create_code("ada", "", "1" * 64, "aaaa", [ACCESS], expires)
    shares.create_code("ada", "", "2" * 64, "bbbb", [ACCESS], expires)
    found = shares.code_by_hash("1" * 64)
    assert found is not None
    assert found.id == one.id
    assert found.expires == expires
    shares.exchanged(one.id)
    again = shares.code_by_hash("1" * 64)
    assert again is not None
    assert again.exchange_count == 1
    assert again.last_exchanged
    assert shares.delete_codes("ada", "", code_id=one.id) == 1
    assert [c.hash[:1] for c in shares.codes_of("ada")] == ["2"]
    assert shares.delete_codes("ada", "") == 1


def test_0004_downgrades_dropping_only_the_sharing_tables(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'courtyard.sqlite'}"
    store = Store.open(url)
    store.add_user("ada")
    store.add_user("bo")
    store.save_server("ada", "")
    ShareStore(store).grant("ada", "", [ACCESS], user="bo")
    config = schema.alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    assert schema.current_revision(store.engine) == "0003"
    with store.engine.begin() as connection:
        tables = {r[0] for r in connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='table'")}  # fmt: skip
    assert "shares" not in tables
    assert "share_codes" not in tables
    assert "users" in tables
    store.close()
    store = Store.open(url)  # upgrades again: no shares, the users kept
    try:
        assert ShareStore(store).with_user("bo") == []
        assert store.get_user("bo") is not None
    finally:
        store.close()
