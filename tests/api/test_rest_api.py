"""The REST API over real HTTP against one real hub: endpoints, status codes, scopes."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import httpx
import pytest

from courtyard.api.app import ENDPOINTS, build_api_app
from courtyard.api.context import ApiContext
from tests.api.conftest import Api, ensure_unix_account, user_token
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root
PAGINATED = {"Accept": "application/jupyterhub-pagination+json"}


@pytest.fixture(scope="module")
def users(service: Api) -> list[str]:
    # system auth: every user needs a Unix account (no home, no password, no login shell)
    for i in range(5):
        ensure_unix_account(f"pageuser{i}")
    names = ["cyalice", "cybob"] + [f"pageuser{i}" for i in range(5)]
    r = service.call("POST", "/users", json={"usernames": names})
    assert r.status_code == 201, r.text
    return names


def test_version_needs_no_token(api_hub: HubProcess) -> None:
    r = Api(api_hub.url).call("GET", "/")
    assert r.status_code == 200
    assert r.json()["version"] >= "1.3"


def test_missing_or_wrong_token_is_403_with_error_shape(api_hub: HubProcess) -> None:
    for token in (None, "not-a-token"):
        r = Api(api_hub.url, token).call("GET", "/users")
        assert r.status_code == 403
        assert r.json()["status"] == 403
        assert r.json()["message"]


def test_create_users_conflicts_and_bad_names(service: Api, users: list[str]) -> None:
    assert service.call("POST", "/users", json={"usernames": users[:2]}).status_code == 409
    assert service.call("POST", "/users/cyalice").status_code == 409
    assert service.call("POST", "/users", json={"usernames": ["Bad Name!"]}).status_code == 400
    assert service.call("GET", "/users/nobody-here").status_code == 404


def test_users_list_is_plain_unless_pagination_is_asked_for(service: Api, users: list[str]) -> None:
    plain = service.call("GET", "/users").json()
    assert isinstance(plain, list)
    assert {u["name"] for u in plain} >= set(users)
    r = service.call("GET", "/users?limit=2&name_filter=pageuser", headers=PAGINATED).json()
    assert [u["name"] for u in r["items"]] == ["pageuser0", "pageuser1"]
    assert r["_pagination"]["total"] == 5
    following = r["_pagination"]["next"]
    assert following["offset"] == 2
    assert "offset=2" in following["url"]
    last = service.call("GET", "/users?offset=4&limit=2&name_filter=pageuser", headers=PAGINATED)
    assert len(last.json()["items"]) == 1
    assert last.json()["_pagination"]["next"] is None
    beyond = service.call("GET", "/users?offset=99", headers=PAGINATED).json()
    assert beyond["items"] == []
    assert beyond["_pagination"]["next"] is None
    assert service.call("GET", "/users?limit=lots").status_code == 400
    assert service.call("GET", "/users?state=sleepy").status_code == 400
    assert len(service.call("GET", "/users?limit=0").json()) == 1  # clamped to 1
    inactive = service.call("GET", "/users?state=inactive").json()
    assert {u["name"] for u in inactive} >= set(users)
    assert service.call("GET", "/users?state=ready").json() == []


def test_list_users_only_token_sees_names_but_not_servers(service: Api, users: list[str]) -> None:
    token = user_token(service, "cyalice", scopes=["list:users"])
    listed = service.as_token(token).call("GET", "/users").json()
    assert {u["name"] for u in listed} >= set(users)
    assert all(set(u) <= {"kind", "name", "admin"} for u in listed)
    assert service.as_token(token).call("GET", "/users/cybob/tokens").status_code == 403
    me = service.as_token(token).call("GET", "/user").json()
    assert me["name"] == "cyalice"
    assert "list:users" in me["scopes"]


def test_token_cannot_exceed_its_owner(service: Api, users: list[str]) -> None:
    r = service.call("POST", "/users/cybob/tokens", json={"scopes": ["list:users"]})
    assert r.status_code == 403
    assert service.call("POST", "/users/cybob/tokens", json={"scopes": ["nope"]}).status_code == 400


def test_filtered_scopes_answer_404_for_other_users(service: Api, users: list[str]) -> None:
    bob = service.as_token(user_token(service, "cybob"))
    assert bob.call("GET", "/users/cybob").status_code == 200
    assert bob.call("GET", "/users/cyalice").status_code == 404
    assert bob.call("GET", "/users").status_code == 403


def test_only_admins_grant_admin(service: Api, users: list[str]) -> None:
    assert service.call("PATCH", "/users/cybob", json={"admin": True}).status_code == 403
    alice = service.as_token(user_token(service, "cyalice"))
    r = alice.call("PATCH", "/users/cybob", json={"admin": True})
    assert r.status_code == 200
    assert r.json()["admin"] is True
    assert alice.call("PATCH", "/users/cybob", json={"admin": False}).json()["admin"] is False
    assert alice.call("PATCH", "/users/cybob", json={"name": "x"}).status_code == 400


def test_expired_token_is_refused(service: Api, users: list[str]) -> None:
    short = service.as_token(user_token(service, "cyalice", expires_in=2))
    assert short.call("GET", "/user").status_code == 200
    deadline = time.monotonic() + 15
    while short.call("GET", "/user").status_code == 200:
        assert time.monotonic() < deadline, "the expired token still works"
        time.sleep(0.5)
    assert short.call("GET", "/user").status_code == 403


def test_tokens_list_get_revoke(service: Api, users: list[str]) -> None:
    r = service.call("POST", "/users/cybob/tokens", json={"note": "ci", "scopes": []})
    assert r.status_code == 201
    made = r.json()
    listed = service.call("GET", "/users/cybob/tokens").json()["api_tokens"]
    assert made["id"] in [t["id"] for t in listed]
    assert "token" not in listed[0]
    assert service.call("GET", f"/users/cybob/tokens/{made['id']}").json()["note"] == "ci"
    assert service.as_token(made["token"]).call("GET", "/user").status_code == 200
    assert service.call("DELETE", f"/users/cybob/tokens/{made['id']}").status_code == 204
    assert service.call("GET", f"/users/cybob/tokens/{made['id']}").status_code == 404
    assert service.as_token(made["token"]).call("GET", "/user").status_code == 403


def test_bad_json_and_huge_bodies_are_refused_and_the_hub_stays_up(service: Api) -> None:
    assert service.call("POST", "/users", content=b"{not json").status_code == 400
    assert service.call("POST", "/users", json=["a list"]).status_code == 400
    huge = b'{"usernames": ["' + b"a" * 200_000 + b'"]}'
    assert service.call("POST", "/users", content=huge).status_code == 413
    assert service.call("GET", "/").status_code == 200


def test_activity_moves_forward_only(service: Api, users: list[str]) -> None:
    now = datetime.now(timezone.utc)
    future = (now + timedelta(hours=1)).isoformat()
    assert (
        service.call(
            "POST", "/users/pageuser0/activity", json={"last_activity": future}
        ).status_code
        == 400
    )
    assert (
        service.call(
            "POST", "/users/pageuser0/activity", json={"last_activity": "soon"}
        ).status_code
        == 400
    )
    stamp = now.isoformat()
    assert (
        service.call("POST", "/users/pageuser0/activity", json={"last_activity": stamp}).status_code
        == 200
    )
    older = (now - timedelta(days=1)).isoformat()
    service.call("POST", "/users/pageuser0/activity", json={"last_activity": older})
    seen = service.call("GET", "/users/pageuser0").json()["last_activity"]
    assert datetime.fromisoformat(seen.replace("Z", "+00:00")) >= now - timedelta(seconds=1)


def test_named_servers_are_not_enabled(service: Api, users: list[str]) -> None:
    r = service.call("POST", "/users/cybob/servers/extra")
    assert r.status_code == 400
    assert "not enabled" in r.json()["message"]


def test_groups_and_members(service: Api, users: list[str]) -> None:
    r = service.call("POST", "/groups/lab", json={"users": ["cyalice"]})
    assert r.status_code == 201
    assert r.json()["users"] == ["cyalice"]
    assert service.call("POST", "/groups/lab").status_code == 409
    r = service.call("POST", "/groups/lab/users", json={"users": ["cybob"]})
    assert r.json()["users"] == ["cyalice", "cybob"]
    assert service.call("POST", "/groups/lab/users", json={"users": ["ghost"]}).status_code == 400
    r = service.call("DELETE", "/groups/lab/users", json={"users": ["cyalice"]})
    assert r.json()["users"] == ["cybob"]
    assert "lab" in service.call("GET", "/users/cybob").json()["groups"]
    assert [g["name"] for g in service.call("GET", "/groups").json()] == ["lab"]
    assert service.call("DELETE", "/groups/lab").status_code == 204
    assert service.call("GET", "/groups/lab").status_code == 404


def test_hub_info_services_and_metrics(service: Api, api_hub: HubProcess) -> None:
    assert "python" in service.call("GET", "/info").json()
    assert "tester" in service.call("GET", "/services").json()
    assert httpx.get(f"{api_hub.url}/hub/metrics").status_code == 403
    r = httpx.get(
        f"{api_hub.url}/hub/metrics", headers={"Authorization": f"Bearer {service.token}"}
    )
    assert r.status_code == 200
    assert "jupyterhub_total_users" in r.text


def test_openapi_document_matches_the_router(service: Api) -> None:
    document = service.call("GET", "/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    app = build_api_app(cast(ApiContext, None))
    routed = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD":
            routed.add((route.method, path))
    pages = {(e.method, e.path) for e in ENDPOINTS if e.handler is None}  # web/oauth.py
    assert pages == {("GET", "/oauth2/authorize"), ("POST", "/oauth2/authorize")}
    assert routed | pages == documented


def test_server_start_stop_status_codes(service: Api, users: list[str]) -> None:
    assert service.call("DELETE", "/users/cybob/server").status_code == 204  # not running
    # user_options: a profile this hub (local spawner) does not offer is refused, clearly
    for options, message in (
        ({"profile": "gpu"}, "There is no profile named 'gpu'; offered: none"),
        ({"profile": 5}, "profile must be a string"),
        ([], "Request body must be a JSON object"),
    ):
        r = service.call("POST", "/users/cybob/server", json=options)
        assert (r.status_code, r.json()["status"]) == (400, 400)
        assert r.json()["message"].startswith(message), r.json()
    assert service.call("GET", "/users/cybob").json()["servers"] == {}
    assert service.call("POST", "/users/cybob/server").status_code in (201, 202)
    deadline = time.monotonic() + 90
    while not service.call("GET", "/users/cybob").json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert service.call("POST", "/users/cybob/server").status_code == 400
    through_proxy = httpx.get(
        f"{service.base}/user/cybob/api/status", headers={"Authorization": f"token {service.token}"}
    )
    assert through_proxy.status_code != 502
    assert service.call("DELETE", "/users/cybob/server").status_code in (202, 204)


async def test_cookie_api_writes_need_same_origin(api_hub: HubProcess, alice: Any) -> None:
    async with HubClient(api_hub.url) as browser:
        await browser.login(alice.name, alice.password)
        url = f"{api_hub.url}/hub/api/users/cyalice/tokens"
        async with browser.http.post(url, json={}, headers={"Origin": "https://evil.example"}) as r:
            assert r.status == 403
        async with browser.http.post(url, json={"note": "mine"}) as r:
            assert r.status == 201, await r.text()
        async with browser.http.delete(
            f"{api_hub.url}/hub/api/users/cybob", headers={"Origin": "https://evil.example"}
        ) as r:
            assert r.status == 403
