"""Sharing over the REST API (JupyterHub 5's model) against a real hub: cyalice (not an
admin, given ``shares!user`` through the ``user`` role as docs/api.md shows) shares her
default server with cybob or a group; every answer is checked against JupyterHub 6.1.1's
spec shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import SERVICE_SCOPES, SERVICE_TOKEN, Api, api_config, user_token
from tests.api.test_spec import check
from tests.hubprocess import HubProcess

ROLES = """
[[load_roles]]
name = "user"
scopes = ["self", "shares!user", "read:users:name", "read:groups:name"]
"""


@pytest.fixture(scope="module")
def share_hub(module_state: Path, alice: object, bob: object) -> Iterator[HubProcess]:
    scopes = [*SERVICE_SCOPES, "shares"]  # what it gives alice's token may include shares
    config = api_config(ROLES, scopes).replace('admin_users = ["cyalice"]', "admin_users = []")
    process = HubProcess(module_state, config).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def tester(share_hub: HubProcess) -> Api:
    api = Api(share_hub.url, SERVICE_TOKEN)
    api.call("POST", "/users", json={"usernames": ["cyalice", "cybob"]})
    return api


@pytest.fixture(scope="module")
def ada(tester: Api) -> Api:
    return tester.as_token(user_token(tester, "cyalice"))


@pytest.fixture(scope="module")
def bo(tester: Api) -> Api:
    return tester.as_token(user_token(tester, "cybob"))


def call(api: Api, method: str, template: str, path: str, body: Any = None) -> Any:
    r = api.call(method, path, json=body)
    check(method, template, r)
    return r


SHARES = "/shares/{owner}/{server_name}"


@pytest.mark.root
def test_alice_shares_with_bob_and_bob_gains_access(ada: Api, bo: Api, tester: Api) -> None:
    r = call(ada, "POST", SHARES, "/shares/cyalice/", {"user": "cybob"})
    assert r.status_code == 200, r.text
    share = r.json()
    assert share["user"] == {"name": "cybob"}
    assert share["group"] is None
    assert share["scopes"] == ["access:servers!server=cyalice/"]
    assert share["server"]["user"] == {"name": "cyalice"}
    assert share["server"]["name"] == ""
    assert share["server"]["url"] == "/user/cyalice/"
    listed = call(ada, "GET", "/shares/{owner}", "/shares/cyalice").json()
    assert [s["user"]["name"] for s in listed["items"]] == ["cybob"]
    assert listed["_pagination"]["total"] == 1
    assert call(ada, "GET", SHARES, "/shares/cyalice/").json()["items"][0]["kind"] == "user"
    mine = call(bo, "GET", "/users/{name}/shared", "/users/cybob/shared").json()
    assert [s["server"]["user"]["name"] for s in mine["items"]] == ["cyalice"]
    one = call(bo, "GET", "/users/{name}/shared/{owner}/{server_name}",
               "/users/cybob/shared/cyalice/")  # fmt: skip
    assert one.status_code == 200
    own = bo.as_token(user_token(tester, "cybob"))  # a token made now: with the share
    assert "access:servers!server=cyalice/" in own.call("GET", "/user").json()["scopes"]
    r = call(bo, "DELETE", "/users/{name}/shared/{owner}/{server_name}",
             "/users/cybob/shared/cyalice/")  # fmt: skip
    assert r.status_code == 204
    assert "access:servers!server=cyalice/" not in own.call("GET", "/user").json()["scopes"]
    assert bo.call("GET", "/users/cybob/shared/cyalice/").status_code == 404


@pytest.mark.root
def test_sharing_refuses_what_jupyterhub_refuses(ada: Api, bo: Api) -> None:
    cases = [
        ({"user": "cyalice"}, 400),  # the owner themself
        ({"user": "nobody-such"}, 400),
        ({"group": "no-such-group"}, 400),
        ({"user": "cybob", "group": "x"}, 400),
        ({}, 400),
        ({"user": "cybob", "scopes": ["access:servers!server=cybob/"]}, 400),
        ({"user": "cybob", "scopes": ["admin:users"]}, 403),  # more than alice holds
        ({"user": "cybob", "color": "red"}, 400),
    ]
    for body, status in cases:
        r = ada.call("POST", "/shares/cyalice/", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["status"] == status
    assert bo.call("POST", "/shares/cyalice/", json={"user": "cybob"}).status_code == 403
    assert bo.call("GET", "/shares/cyalice").status_code == 403
    assert ada.call("POST", "/shares/cyalice/nosuch", json={"user": "cybob"}).status_code == 404
    assert ada.call("GET", "/users/cybob/shared").status_code == 403
    assert Api(ada.base).call("GET", "/shares/cyalice").status_code == 403


@pytest.mark.root
def test_patch_revokes_scopes_and_delete_revokes_every_share(ada: Api, tester: Api) -> None:
    read = "read:servers!server=cyalice/"
    body = {"user": "cybob", "scopes": ["access:servers", "read:servers"]}
    assert ada.call("POST", "/shares/cyalice/", json=body).status_code == 200
    r = call(ada, "PATCH", SHARES, "/shares/cyalice/", {"user": "cybob", "scopes": [read]})
    assert r.json()["scopes"] == ["access:servers!server=cyalice/"]
    r = call(ada, "PATCH", SHARES, "/shares/cyalice/", {"user": "cybob"})
    assert r.status_code == 200
    assert r.json() == {}
    assert ada.call("PATCH", "/shares/cyalice/", json={"user": "nobody-x"}).json() == {}
    assert ada.call("POST", "/shares/cyalice/", json={"user": "cybob"}).status_code == 200
    assert call(ada, "DELETE", SHARES, "/shares/cyalice/").status_code == 204
    assert ada.call("GET", "/shares/cyalice").json()["items"] == []


@pytest.mark.root
def test_a_group_share_lists_for_the_group_and_its_members(
    ada: Api, bo: Api, tester: Api
) -> None:
    tester.call("POST", "/groups/sharelab", json={"users": ["cybob"]})
    r = call(ada, "POST", SHARES, "/shares/cyalice/", {"group": "sharelab"})
    assert r.json()["group"] == {"name": "sharelab"}
    assert r.json()["user"] is None
    listed = call(tester, "GET", "/groups/{name}/shared", "/groups/sharelab/shared").json()
    assert [s["server"]["url"] for s in listed["items"]] == ["/user/cyalice/"]
    assert bo.call("GET", "/users/cybob/shared").json()["items"][0]["kind"] == "group"
    template = "/groups/{name}/shared/{owner}/{server_name}"
    assert call(tester, "GET", template, "/groups/sharelab/shared/cyalice/").status_code == 200
    assert tester.call("GET", "/groups/nogroup/shared").status_code == 404
    assert call(tester, "DELETE", template, "/groups/sharelab/shared/cyalice/").status_code == 204
    assert tester.call("GET", "/groups/sharelab/shared/cyalice/").status_code == 404
    assert bo.call("GET", "/groups/sharelab/shared").status_code == 403


@pytest.mark.root
def test_share_codes_are_shown_once_listed_without_the_code_and_deleted(ada: Api) -> None:
    codes = "/share-codes/{owner}/{server_name}"
    r = call(ada, "POST", codes, "/share-codes/cyalice/", {"expires_in": 3600})
    made = r.json()
    assert made["accept_url"] == f"/hub/accept-share?code={made['code']}"
    assert made["id"].startswith("sc_")
    assert made["expires_at"] > made["created_at"]
    default = ada.call("POST", "/share-codes/cyalice/", json={}).json()
    assert default["exchange_count"] == 0
    listed = call(ada, "GET", "/share-codes/{owner}", "/share-codes/cyalice").json()["items"]
    assert {c["id"] for c in listed} == {made["id"], default["id"]}
    assert all("code" not in c for c in listed)
    for bad in (10, 10**9, "soon"):
        r = ada.call("POST", "/share-codes/cyalice/", json={"expires_in": bad})
        assert r.status_code == 400, bad
    assert ada.call("DELETE", "/share-codes/cyalice/?id=sc_99999").status_code == 404
    assert ada.call("DELETE", "/share-codes/cyalice/?code=wrong").status_code == 404
    r = ada.call("DELETE", f"/share-codes/cyalice/?id={made['id']}")
    check("DELETE", codes, r)
    assert r.status_code == 204
    assert ada.call("DELETE", f"/share-codes/cyalice/?code={default['code']}").status_code == 204
    assert call(ada, "GET", codes, "/share-codes/cyalice/").json()["items"] == []
