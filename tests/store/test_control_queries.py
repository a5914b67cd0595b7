"""The store's list queries for the REST API, the admin page and the culler: what they return
and how many SQL statements they cost (a constant, whatever the number of users)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event

from courtyard.store.store import ApiUserQuery, Store, UserQuery
from courtyard.store.tokenstore import GroupStore

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


@contextmanager
def counted(store: Store) -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def fill(store: Store, users: int) -> GroupStore:
    """u000.. with activity one minute apart (every 4th none), every 3rd running (every 6th
    of all idle since T0 - 1 h), groups of 10."""
    groups = GroupStore(store)
    for i in range(users):
        name = f"u{i:03d}"
        store.add_user(name, admin=i % 25 == 0)
        if i % 4:
            store.record_activity({name: T0 - timedelta(minutes=i)}, servers=False)
        if i % 3 == 0:
            stamp = T0 - timedelta(hours=1) if i % 6 == 0 else T0
            store.save_server(name, state="running", started=stamp, last_activity=stamp)
    for g in range((users + 9) // 10):
        groups.create(f"g{g}")
        groups.add_members(f"g{g}", [f"u{i:03d}" for i in range(g * 10, min(users, g * 10 + 10))])
    return groups


def page(store: Store, **given: Any) -> list[str]:
    return [u.name for u in store.page_users(ApiUserQuery(**given))[0]]


def test_page_users_costs_two_statements_whatever_the_size(store: Store) -> None:
    fill(store, 30)
    for limit in (1, 30):
        with counted(store) as statements:
            found, total = store.page_users(ApiUserQuery(state="active", limit=limit))
        assert (len(found), total, len(statements)) == (min(limit, 10), 10, 2)


def test_page_users_pages_each_user_once_in_every_sort(store: Store) -> None:
    fill(store, 30)
    everyone = {f"u{i:03d}" for i in range(30)}
    for sort in ("name", "-name", "id", "-id", "created", "-created", "last_activity"):
        seen = [
            n for offset in range(0, 30, 7) for n in page(store, sort=sort, offset=offset, limit=7)
        ]
        assert sorted(seen) == sorted(everyone), sort
    recent = page(store, sort="-last_activity", limit=3)
    assert recent == ["u001", "u002", "u003"]
    assert page(store, sort="last_activity", limit=8)[:8] == [
        "u000",
        "u004",
        "u008",
        "u012",
        "u016",
        "u020",
        "u024",
        "u028",
    ]  # fmt: skip  never active first, by id


def test_page_users_filters_by_state_names_and_substring(store: Store) -> None:
    fill(store, 30)
    active = page(store, state="active", limit=100)
    assert active == [f"u{i:03d}" for i in range(0, 30, 3)]
    assert page(store, state="ready", limit=100) == active
    inactive = page(store, state="inactive", limit=100)
    assert sorted(active + inactive) == [f"u{i:03d}" for i in range(30)]
    assert page(store, names=frozenset({"u003", "u004", "nobody"})) == ["u003", "u004"]
    assert page(store, names=frozenset()) == []
    assert page(store, name_filter="u01") == [f"u01{i}" for i in range(10)]
    assert page(store, name_filter="%") == page(store, name_filter="_") == []


def test_groups_of_a_page_of_users_in_one_statement(store: Store) -> None:
    groups = fill(store, 25)
    groups.add_members("g0", ["u015"])
    with counted(store) as statements:
        found = groups.of_users(["u001", "u015", "u024", "ghost"])
    assert found == {"u001": ["g0"], "u015": ["g0", "g1"], "u024": ["g2"], "ghost": []}
    assert len(statements) == 1


def test_group_pages_with_their_members_and_properties(store: Store) -> None:
    groups = fill(store, 25)
    groups.create("empty")
    groups.set_properties("g2", {"course": "algebra"})
    with counted(store) as statements:
        listed, total = groups.listing(offset=1, limit=3)  # after "empty"
    assert (total, len(statements)) == (4, 3)
    assert [(g.name, g.properties) for g in listed] == [
        ("g0", {}),
        ("g1", {}),
        ("g2", {"course": "algebra"}),
    ]
    assert listed[1].users == [f"u{i:03d}" for i in range(10, 20)]
    assert listed[2].users == ["u020", "u021", "u022", "u023", "u024"]
    empty, _ = groups.listing(limit=1)
    assert (empty[0].name, empty[0].users) == ("empty", [])
    only, total = groups.listing(frozenset({"g2", "nope"}))
    assert ([g.name for g in only], total) == (["g2"], 1)


def test_server_activity_reads_every_running_server_in_one_statement(store: Store) -> None:
    fill(store, 30)
    store.save_server("u001", "extra", state="stopped")
    with counted(store) as statements:
        rows = store.server_activity()
    assert len(statements) == 1
    assert sorted(rows) == [f"u{i:03d}" for i in range(0, 30, 3)]
    assert rows["u000"].admin
    assert not rows["u003"].admin
    assert rows["u006"].last_activity == T0 - timedelta(hours=1)
    assert rows["u003"].last_activity == T0


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        ("running", [f"u{i:03d}" for i in range(0, 30, 3)]),
        ("idle", [f"u{i:03d}" for i in range(0, 30, 6)]),
        ("admin", ["u000", "u025"]),
    ],
)
def test_admin_page_filters(store: Store, show: str, expected: list[str]) -> None:
    fill(store, 30)
    query = UserQuery(show=show, idle_before=T0 - timedelta(minutes=15), limit=100)
    with counted(store) as statements:
        found = store.find_users(query)
    assert [u.name for u, _ in found.rows] == expected
    assert (found.total, len(statements)) == (len(expected), 2)
