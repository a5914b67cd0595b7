"""Users, servers and sessions through the Store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from courtyard.errors import UnknownUserError, UserExistsError
from courtyard.store import Store

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


# users ----------------------------------------------------------------------------------


def test_added_user_reads_back_with_an_aware_creation_time(store: Store, clock) -> None:
    added = store.add_user("ada", admin=True)
    found = store.get_user("ada")
    assert found == added
    assert found.admin is True
    assert found.kind == "user"
    assert found.created.timestamp() == clock()
    assert found.created.tzinfo is not None
    assert found.last_activity is None


def test_adding_a_taken_name_raises_user_exists(store: Store) -> None:
    store.add_user("ada")
    with pytest.raises(UserExistsError, match="'ada'"):
        store.add_user("ada")


def test_ensure_user_adds_once(store: Store) -> None:
    first = store.ensure_user("ada", admin=True)
    again = store.ensure_user("ada", admin=False)
    assert first == again
    assert again.admin is True


def test_unknown_user_reads_as_none(store: Store) -> None:
    assert store.get_user("nobody") is None
    with pytest.raises(UnknownUserError):
        store.require_user("nobody")


def test_list_users_orders_filters_and_paginates(store: Store) -> None:
    for name in ("carol", "ada", "bob"):
        store.add_user(name, admin=name == "bob")
    assert [u.name for u in store.list_users()] == ["ada", "bob", "carol"]
    assert [u.name for u in store.list_users(admin=True)] == ["bob"]
    assert [u.name for u in store.list_users(admin=False)] == ["ada", "carol"]
    assert [u.name for u in store.list_users(offset=1, limit=1)] == ["bob"]
    assert store.count_users() == 3
    assert store.count_users(admin=True) == 1


def test_set_admin_and_password_hash(store: Store) -> None:
    store.add_user("ada")
    assert store.set_admin("ada", True).admin is True
    updated = store.set_password_hash("ada", "$argon2id$fake")
    assert updated.password_hash == "$argon2id$fake"
    assert "argon2" not in repr(updated)
    assert store.set_password_hash("ada", None).password_hash is None
    with pytest.raises(UnknownUserError):
        store.set_admin("nobody", True)


def test_delete_user_removes_server_and_sessions(store: Store) -> None:
    store.add_user("ada")
    store.save_server("ada", state="running")
    store.create_session("h" * 64, "ada", expires=T0)
    assert store.delete_user("ada") is True
    assert store.get_user("ada") is None
    assert store.get_server("ada") is None
    assert store.get_session("h" * 64) is None
    assert store.delete_user("ada") is False
    store.add_user("ada")  # the name is free again, with no leftovers
    assert store.get_server("ada") is None


def test_record_activity_only_moves_forward(store: Store) -> None:
    store.add_user("ada")
    store.add_user("bob")
    store.save_server("ada", state="running")
    store.record_activity({"ada": T0, "bob": T0, "ghost": T0})
    store.record_activity({"ada": T0 - timedelta(hours=1)})
    assert store.get_user("ada").last_activity == T0
    assert store.get_server("ada").last_activity == T0
    assert store.get_server("bob") is None
    store.record_activity({"ada": T0 + timedelta(minutes=5)}, servers=False)
    assert store.get_user("ada").last_activity == T0 + timedelta(minutes=5)
    assert store.get_server("ada").last_activity == T0


def test_record_activity_of_many_servers_at_once(store: Store) -> None:
    store.add_user("ada")
    store.add_user("bob")
    store.save_server("ada", state="running")
    store.save_server("ada", "torch", state="running", last_activity=T0 + timedelta(hours=1))
    store.save_server("bob", state="running")
    later = T0 + timedelta(minutes=10)
    store.record_activity({"ada": T0, "ada/torch": later, "bob": later, "ghost/x": T0})
    assert store.get_server("ada").last_activity == T0
    assert store.get_server("ada", "torch").last_activity == T0 + timedelta(hours=1)  # kept
    assert store.get_server("bob").last_activity == later
    assert store.get_user("ada").last_activity == later  # the later of her two stamps
    assert store.get_user("bob").last_activity == later


def test_naive_datetimes_are_refused(store: Store) -> None:
    store.add_user("ada")
    with pytest.raises(Exception, match="naive datetime"):
        store.record_activity({"ada": datetime(2024, 1, 1)})


# servers --------------------------------------------------------------------------------


def test_save_server_creates_then_updates_only_given_fields(store: Store) -> None:
    store.add_user("ada")
    created = store.save_server("ada", state="starting", secret="s3cret", started=T0)
    assert created.state == "starting"
    assert created.spawner_state == {}
    assert created.endpoint is None
    assert "s3cret" not in repr(created)
    running = store.save_server(
        "ada",
        state="running",
        spawner_state={"pid": 42, "nested": {"a": [1, 2]}},
        endpoint={"unix_path": "/run/courtyard/ada.sock", "host": None, "port": None},
    )
    assert running.secret == "s3cret"
    assert running.started == T0
    assert running.spawner_state == {"pid": 42, "nested": {"a": [1, 2]}}
    assert running.endpoint == {"unix_path": "/run/courtyard/ada.sock", "host": None, "port": None}
    assert store.get_server("ada") == running
    stopped = store.save_server("ada", state="stopped", endpoint=None, stop_reason="culled")
    assert stopped.endpoint is None
    assert stopped.stop_reason == "culled"
    assert stopped.spawner_state == {"pid": 42, "nested": {"a": [1, 2]}}


def test_save_servers_writes_many_rows_in_one_go(store: Store) -> None:
    for name in ("ada", "bob", "cy"):
        store.add_user(name)
        store.save_server(name, state="running", secret=f"{name}-secret", started=T0)
    store.save_server("ada", "torch", state="running", secret="torch-secret")
    stopped = {"state": "stopped", "stop_reason": "idle", "endpoint": None, "secret": ""}
    store.save_servers(
        [
            ("ada", "", {"state": "stopping"}),
            ("bob", "", {"state": "stopping"}),
            ("ada", "", stopped | {"last_activity": T0}),  # merges with her first change
            ("ada", "torch", {"spawner_state": {"pid": 7}}),
            ("ghost", "", {"state": "stopped"}),  # no such row: left alone
            ("cy", "nope", {"state": "stopped"}),
        ]
    )
    ada = store.get_server("ada")
    assert (ada.state, ada.stop_reason, ada.secret) == ("stopped", "idle", "")
    assert ada.last_activity == T0
    assert ada.started == T0  # not given: unchanged
    assert store.get_server("bob").state == "stopping"
    assert store.get_server("bob").secret == "bob-secret"
    torch = store.get_server("ada", "torch")
    assert (torch.state, torch.spawner_state) == ("running", {"pid": 7})
    assert store.get_server("cy").state == "running"
    assert store.get_server("cy", "nope") is None
    assert store.get_user("ghost") is None
    store.save_servers([])  # nothing to do


def test_save_server_for_unknown_user_raises(store: Store) -> None:
    with pytest.raises(UnknownUserError):
        store.save_server("nobody", state="running")


def test_list_servers_filters_by_state(store: Store) -> None:
    for name, state in (("ada", "running"), ("bob", "stopped"), ("cy", "starting")):
        store.add_user(name)
        store.save_server(name, state=state)
    store.add_user("dee")  # never started: no row
    assert [s.user for s in store.list_servers()] == ["ada", "bob", "cy"]
    active = store.list_servers(states=("running", "starting"))
    assert [(s.user, s.state) for s in active] == [("ada", "running"), ("cy", "starting")]
    assert store.list_servers(states=()) == []


# sessions -------------------------------------------------------------------------------


def test_session_round_trip_carries_owner_and_admin(store: Store, clock) -> None:
    store.add_user("ada", admin=True)
    expires = T0 + timedelta(days=14)
    made = store.create_session("a" * 64, "ada", expires=expires, user_agent="x" * 500, ip="::1")
    found = store.get_session("a" * 64)
    assert found == made
    assert (found.user, found.admin, found.expires, found.ip) == ("ada", True, expires, "::1")
    assert len(found.user_agent) == 255
    assert found.created.timestamp() == clock()
    assert "a" * 64 not in repr(found)


def test_session_for_unknown_user_raises(store: Store) -> None:
    with pytest.raises(UnknownUserError):
        store.create_session("a" * 64, "nobody", expires=T0)


def test_touch_session_updates_last_seen(store: Store) -> None:
    store.add_user("ada")
    store.create_session("a" * 64, "ada", expires=T0)
    store.touch_session("a" * 64, T0 + timedelta(seconds=30))
    assert store.get_session("a" * 64).last_seen == T0 + timedelta(seconds=30)


def test_delete_session_and_all_sessions_of_a_user(store: Store) -> None:
    store.add_user("ada")
    store.add_user("bob")
    for token_hash, owner in (("1" * 64, "ada"), ("2" * 64, "ada"), ("3" * 64, "bob")):
        store.create_session(token_hash, owner, expires=T0)
    assert store.delete_session("1" * 64) is True
    assert store.delete_session("1" * 64) is False
    store.create_session("4" * 64, "ada", expires=T0)
    assert sorted(store.delete_sessions_for_user("ada")) == ["2" * 64, "4" * 64]
    assert store.get_session("3" * 64) is not None
    assert store.delete_sessions_for_user("nobody") == []


def test_purge_expired_sessions_keeps_live_ones(store: Store) -> None:
    store.add_user("ada")
    store.create_session("1" * 64, "ada", expires=T0 - timedelta(seconds=1))
    store.create_session("2" * 64, "ada", expires=T0 + timedelta(seconds=1))
    assert store.purge_expired_sessions(T0) == 1
    assert store.get_session("1" * 64) is None
    assert store.get_session("2" * 64) is not None
