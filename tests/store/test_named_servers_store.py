"""Servers keyed by (user, server name): the 0002 migration and the store's named-server API."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from courtyard.store import Store, schema
from courtyard.store.records import server_key, split_server_key
from tests.conftest import ManualClock

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1.sqlite"


def test_upgrading_a_release_0_1_database_keeps_its_running_server(tmp_path: Path) -> None:
    """The fixture was written by release 0.1 (revision 0001): alice's server running, bob's
    stopped after an idle cull."""
    path = tmp_path / "courtyard.sqlite"
    shutil.copy(FIXTURE, path)
    engine = create_engine(f"sqlite:///{path}")
    assert schema.current_revision(engine) == "0001"
    engine.dispose()
    store = Store.open(f"sqlite:///{path}")
    try:
        assert schema.current_revision(store.engine) == schema.head_revision()
        alice = store.get_server("alice")
        assert alice is not None
        assert (alice.state, alice.server, alice.user_options) == ("running", "", {})
        assert alice.endpoint == {
            "unix_path": "/run/courtyard/alice/server.sock",
            "host": None,
            "port": None,
        }
        assert alice.spawner_state["pid"] == 4242
        assert alice.secret == "s3cret"
        bob = store.get_server("bob")
        assert bob is not None
        assert (bob.state, bob.stop_reason) == ("stopped", "idle")
        # and the upgraded database takes named servers
        store.save_server("alice", "torch", state="running", user_options={"profile": "t"})
        assert [r.key for r in store.list_servers(user="alice")] == ["alice", "alice/torch"]
    finally:
        store.close()


def test_downgrade_is_refused_while_named_servers_exist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'courtyard.sqlite'}"
    store = Store.open(url)
    store.add_user("ada")
    store.save_server("ada", "notes", state="stopped")
    from alembic import command

    config = schema.alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        with pytest.raises(RuntimeError, match="1 named server"):
            command.downgrade(config, "0001")
    store.delete_server("ada", "notes")
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert schema.current_revision(store.engine) == "0001"
    store.close()


def test_servers_are_keyed_by_user_and_name(store: Store, clock: ManualClock) -> None:
    store.add_user("ada")
    store.add_user("bo")
    store.save_server("ada", state="running")
    store.save_server("ada", "torch", state="starting", user_options={"profile": "torch"})
    store.save_server("bo", "torch", state="stopped")
    assert store.get_server("ada").state == "running"  # type: ignore[union-attr]
    torch = store.get_server("ada", "torch")
    assert torch is not None
    assert torch.user_options == {"profile": "torch"}
    assert store.get_server("ada", "other") is None
    assert [r.key for r in store.list_servers(states=("running", "starting"))] == [
        "ada",
        "ada/torch",
    ]
    grouped = store.servers_by_user(["ada", "bo", "nobody"])
    assert [r.server for r in grouped["ada"]] == ["", "torch"]
    assert [r.key for r in grouped["bo"]] == ["bo/torch"]
    assert grouped["nobody"] == []
    when = store.now()
    store.record_activity({"ada/torch": when})
    assert store.get_server("ada", "torch").last_activity == when  # type: ignore[union-attr]
    assert store.get_server("ada").last_activity is None  # type: ignore[union-attr]
    assert store.get_user("ada").last_activity == when  # type: ignore[union-attr]
    assert store.delete_server("ada", "torch") is True
    assert store.delete_server("ada", "torch") is False
    assert store.delete_user("bo") is True
    assert store.servers_by_user(["bo"]) == {"bo": []}


def test_server_keys_round_trip() -> None:
    assert server_key("alice") == "alice"
    assert server_key("alice", "torch") == "alice/torch"
    assert split_server_key("alice/torch") == ("alice", "torch")
    assert split_server_key("alice") == ("alice", "")


def test_courtyard_status_lists_each_running_server(tmp_path: Path) -> None:
    from courtyard.cli.daemon import status_lines
    from courtyard.config.settings import Settings
    from courtyard.daemon.records import HubRecord
    from courtyard.daemon.servers import running_users

    url = f"sqlite:///{tmp_path / 'courtyard.sqlite'}"
    store = Store.open(url)
    store.add_user("ada")
    store.save_server("ada", state="running")
    store.save_server("ada", "torch", state="running")
    store.save_server("ada", "old", state="stopped")
    store.close()
    keys = running_users(Settings(database_url=url))
    assert keys == ["ada", "ada/torch"]
    record = HubRecord(pid=1, url="http://127.0.0.1:8000/", started=0.0, ticks=0)
    assert "  Running servers: ada, ada/torch" in status_lines(record, keys)


def test_0003_adds_display_names_and_group_properties_and_downgrades_keeping_servers(
    tmp_path: Path,
) -> None:
    from alembic import command

    from courtyard.store.tokenstore import GroupStore

    url = f"sqlite:///{tmp_path / 'courtyard.sqlite'}"
    store = Store.open(url)
    store.add_user("ada")
    store.save_server("ada", "notes", state="stopped", display_name="Notes")
    groups = GroupStore(store)
    groups.create("lab")
    assert groups.set_properties("lab", {"room": 2})
    assert groups.properties(["lab", "none"]) == {"lab": {"room": 2}}
    assert not groups.set_properties("none", {})
    record = store.get_server("ada", "notes")
    assert record is not None
    assert record.display_name == "Notes"
    assert store.rename_server("ada", "notes", "thesis")
    assert store.get_server("ada", "thesis") is not None
    config = schema.alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert schema.current_revision(store.engine) == "0002"
    with store.engine.begin() as connection:
        names = [row[0] for row in connection.exec_driver_sql("SELECT name FROM servers")]
    assert names == ["thesis"]
    store.close()
    store = Store.open(url)  # upgrades again: the server is there, its display name reset
    try:
        again = store.get_server("ada", "thesis")
        assert again is not None
        assert again.display_name == ""
    finally:
        store.close()
