"""10,000 users (a store filled directly, bench/controlseed.py), the real hub started on it:
every way of paging through ``GET /hub/api/users`` and ``/groups`` returns each user or group
exactly once, state filters and sorts pick the right ones, and the admin page's search, sort
and filters show the right rows. On SQLite and on the test PostgreSQL. No timing here (that is
bench/control_plane.py)."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.conftest import fresh_postgres_database
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import controlseed

USERS = 10_000
TOKEN = "cy-paging-service-token-83b1c2d4e5"
PAGED = "application/jupyterhub-pagination+json"
ROW = re.compile(r'<tr data-user="([^"]+)" data-state="([a-z]+)">')


@dataclass
class Seeded:
    hub: HubProcess
    api: Api
    data: controlseed.Seeded


def hub_config(database_url: str, extra: str = "") -> str:
    return f"""
auth = "local"
log_level = "warning"
database_url = "{database_url}"

[culler]
enabled = false

[[services]]
name = "pager"
api_token = "{TOKEN}"

[[load_roles]]
name = "pager"
scopes = ["admin:users", "admin:servers", "admin:groups", "tokens", "read:metrics"]
services = ["pager"]

[[load_roles]]
name = "one-group"
scopes = ["list:users!group=grp003", "read:users!group=grp003"]
users = ["cp00002"]
{extra}
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest) -> Iterator[Seeded]:
    root = Path(tempfile.mkdtemp(prefix="cypg", dir="/tmp"))
    root.chmod(0o755)
    state = root / "state"
    state.mkdir()
    try:
        with database(request.param, state) as url:
            data = controlseed.seed(url, USERS, runtime_dir=root)
            hub = HubProcess(state, hub_config(url))
            try:
                hub.start(timeout=180)
                yield Seeded(hub, Api(hub.url, TOKEN), data)
            finally:
                hub.stop()
                data.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def database(kind: str, state: Path) -> Any:
    if kind == "postgresql":
        return fresh_postgres_database()
    return _sqlite(state)


class _sqlite:
    def __init__(self, state: Path) -> None:
        self.url = f"sqlite:///{state / 'courtyard.sqlite'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


def names(models: list[dict[str, Any]]) -> list[str]:
    return [m["name"] for m in models]


def walk_offsets(api: Api, query: str, limit: int = 200) -> list[str]:
    """Every user by plain offset/limit pages (no pagination header)."""
    found: list[str] = []
    offset = 0
    while True:
        r = api.call("GET", f"/users?{query}&offset={offset}&limit={limit}")
        assert r.status_code == 200, r.text
        page = names(r.json())
        found += page
        if len(page) < limit:
            return found
        offset += limit


def walk_next(api: Api, query: str) -> tuple[list[str], int]:
    """Every user by following ``_pagination.next.url``; and the total it reported."""
    found: list[str] = []
    url = f"{api.base}/hub/api/users?{query}"
    total = -1
    for _ in range(1000):
        r = api.call("GET", url, headers={"Accept": PAGED})
        assert r.status_code == 200, r.text
        body = r.json()
        found += names(body["items"])
        total = body["_pagination"]["total"]
        following = body["_pagination"]["next"]
        if following is None:
            return found, total
        assert following["offset"] == len(found)
        url = following["url"]
    raise AssertionError("pagination never ended")


def test_offsets_return_every_user_once_in_name_order(seeded: Seeded) -> None:
    found = walk_offsets(seeded.api, "sort=name")
    assert found == sorted(seeded.data.users)


def test_next_links_return_every_user_once(seeded: Seeded) -> None:
    found, total = walk_next(seeded.api, "limit=200")
    assert total == USERS
    assert found == sorted(seeded.data.users)


@pytest.mark.parametrize("sort", ["-name", "last_activity", "-last_activity", "created", "-id"])
def test_every_sort_pages_each_user_exactly_once(seeded: Seeded, sort: str) -> None:
    found = walk_offsets(seeded.api, f"sort={sort}", limit=150)
    assert len(found) == USERS
    assert set(found) == set(seeded.data.users)
    if sort == "-name":
        assert found == sorted(seeded.data.users, reverse=True)


def test_last_activity_sort_is_in_activity_order(seeded: Seeded) -> None:
    r = seeded.api.call("GET", "/users?sort=-last_activity&limit=200&offset=0")
    stamps = [datetime.fromisoformat(m["last_activity"].replace("Z", "+00:00")) for m in r.json()]
    assert stamps == sorted(stamps, reverse=True)


def test_state_filters_split_the_users(seeded: Seeded) -> None:
    active, total = walk_next(seeded.api, "state=active&limit=200")
    assert total == len(seeded.data.running)
    assert active == sorted(seeded.data.running)
    ready, _ = walk_next(seeded.api, "state=ready&limit=200")
    assert ready == active
    inactive = walk_offsets(seeded.api, "state=inactive")
    assert len(inactive) == USERS - len(active)
    assert set(inactive) | set(active) == set(seeded.data.users)
    assert not set(inactive) & set(active)


def test_state_filter_with_an_offset_deep_in_the_list(seeded: Seeded) -> None:
    r = seeded.api.call("GET", "/users?state=active&offset=900&limit=200")
    assert names(r.json()) == sorted(seeded.data.running)[900:]


def test_servers_shown_and_include_stopped_servers(seeded: Seeded) -> None:
    running, stopped = seeded.data.running[3], "cp00001"
    r = seeded.api.call("GET", f"/users?name_filter={running}&limit=5")
    [model] = r.json()
    assert model["servers"][""]["ready"] is True
    assert model["server"] == f"/user/{running}/"
    assert model["groups"] == ["grp000"]
    [plain] = seeded.api.call("GET", f"/users?name_filter={stopped}").json()
    assert plain["servers"] == {}
    assert plain["admin"] is True
    assert "admin" in plain["roles"]
    r = seeded.api.call("GET", f"/users?name_filter={stopped}&include_stopped_servers=1")
    [shown] = r.json()
    assert shown["servers"][""]["stopped"] is True


def test_a_plain_list_is_at_most_200_users(seeded: Seeded) -> None:
    assert len(seeded.api.call("GET", "/users").json()) == 50
    assert len(seeded.api.call("GET", "/users?limit=5000").json()) == 200


def test_a_group_filtered_token_lists_only_that_group(seeded: Seeded) -> None:
    r = seeded.api.call("POST", "/users/cp00002/tokens", json={"note": "paging"})
    assert r.status_code == 201, r.text
    member = seeded.api.as_token(r.json()["token"])
    found, total = walk_next(member, "limit=40")
    assert total == 100
    assert found == [controlseed.user_name(i) for i in range(300, 400)]


def test_groups_page_each_group_once_with_its_members(seeded: Seeded) -> None:
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        r = seeded.api.call("GET", f"/groups?offset={offset}&limit=30", headers={"Accept": PAGED})
        body = r.json()
        found += body["items"]
        assert body["_pagination"]["total"] == len(seeded.data.groups)
        if body["_pagination"]["next"] is None:
            break
        offset = body["_pagination"]["next"]["offset"]
    assert names(found) == seeded.data.groups
    assert found[7]["users"] == [controlseed.user_name(i) for i in range(700, 800)]


def test_one_user_by_name(seeded: Seeded) -> None:
    name = seeded.data.running[-1]
    model = seeded.api.call("GET", f"/users/{name}").json()
    assert (model["name"], model["groups"], model["servers"][""]["ready"]) == (
        name,
        [f"grp{int(name[2:]) // 100:03d}"],
        True,
    )


def test_metrics_count_without_listing_everyone(seeded: Seeded) -> None:
    r = seeded.api.call("GET", f"{seeded.api.base}/hub/metrics")
    assert r.status_code == 200, r.text
    assert f"jupyterhub_total_users {USERS}\n" in r.text
    assert f"jupyterhub_running_servers {len(seeded.data.running)}\n" in r.text


async def admin_rows(client: HubClient, query: str) -> tuple[list[tuple[str, str]], str]:
    async with client.http.get(f"{client.base}/hub/admin?{query}") as r:
        assert r.status == 200
        text = await r.text()
    count = re.search(r'id="user-count">([^<]+)<', text)
    return ROW.findall(text), count.group(1) if count else ""


async def test_admin_page_search_sort_and_filters(seeded: Seeded) -> None:
    async with HubClient(seeded.hub.url) as client:
        login = await client.login(controlseed.ADMIN, controlseed.ADMIN_PASSWORD, "/hub/admin")
        assert login.status == 302
        rows, count = await admin_rows(client, "")
        assert [n for n, _ in rows] == sorted(seeded.data.users)[:50]
        assert count == f"{USERS} users"
        rows, count = await admin_rows(client, "q=cp0999")
        assert [n for n, _ in rows] == [f"cp0999{i}" for i in range(10)]
        assert count == "10 users"
        rows, _ = await admin_rows(client, "q=cp099&page=2")
        assert [n for n, _ in rows] == [f"cp0{i}" for i in range(9950, 10000)]
        rows, count = await admin_rows(client, "show=running")
        assert [n for n, _ in rows] == sorted(seeded.data.running)[:50]
        assert {s for _, s in rows} == {"running"}
        assert count == f"{len(seeded.data.running)} users"
        rows, count = await admin_rows(client, "show=idle&page=3")
        assert [n for n, _ in rows] == sorted(seeded.data.idle)[100:150]
        assert count == f"{len(seeded.data.idle)} users"
        rows, count = await admin_rows(client, "show=admin")
        assert [n for n, _ in rows] == [controlseed.user_name(i) for i in range(1, USERS, 500)]
        rows, _ = await admin_rows(client, "sort=activity")
        active = set(seeded.data.running) - set(seeded.data.idle)
        callers = {controlseed.ADMIN, "cp00002"}  # these two used the hub just now
        assert {n for n, _ in rows} - callers <= active  # the active servers' "now" is newest
        rows, _ = await admin_rows(client, "sort=activity&q=cp0000")
        api = seeded.api.call("GET", "/users?name_filter=cp0000&sort=-last_activity").json()
        assert [n for n, _ in rows] == names(api)
