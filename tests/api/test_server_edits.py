"""JupyterHub 6's server edits on a real hub: PUT creates a named server without starting it,
GET reads one, PATCH renames it or sets its display name and user_options (used at its next
start); and PUT /groups/{name}/properties."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import SERVICE_TOKEN, Api, api_config, user_token
from tests.api.test_spec import check
from tests.conftest import UnixUser
from tests.hubprocess import HubProcess

PROFILES = f"""
[[profiles]]
name = "standard"
description = "The hub's Python"

[[profiles]]
name = "again"
description = "The same interpreter, by path"
python = "{sys.executable}"
"""


@pytest.fixture(scope="module")
def edits_hub(module_state: Path, alice: UnixUser, bob: UnixUser) -> Iterator[HubProcess]:
    process = HubProcess(module_state, "named_servers = 2\n" + api_config(PROFILES)).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def service(edits_hub: HubProcess, alice: UnixUser, bob: UnixUser) -> Api:
    api = Api(edits_hub.url, SERVICE_TOKEN)
    for name in (alice.name, bob.name):
        assert api.call("POST", f"/users/{name}").status_code == 201
    return api


def test_put_creates_a_stopped_named_server_once(service: Api, alice: UnixUser) -> None:
    path = f"/users/{alice.name}/servers/draft"
    r = service.call("PUT", path, json={"profile": "again"})
    assert r.status_code == 201, r.text
    check("PUT", "/users/{name}/servers/{server_name}", r)  # in the spec's shapes
    model = r.json()
    assert (model["name"], model["stopped"], model["ready"]) == ("draft", True, False)
    assert model["user_options"] == {"profile": "again"}
    assert service.call("PUT", path).status_code == 409
    got = service.call("GET", path)
    check("GET", "/users/{name}/servers/{server_name}", got)
    assert got.status_code == 200
    assert got.json()["user_options"] == {"profile": "again"}
    listed = service.call("GET", f"/users/{alice.name}?include_stopped_servers=1").json()
    assert "draft" in listed["servers"]
    assert service.call("GET", f"/users/{alice.name}/servers/nothere").status_code == 404
    bad = service.call("PUT", f"/users/{alice.name}/servers/has%20space")
    assert bad.status_code == 400
    assert "cannot name a server" in bad.json()["message"]
    unknown = service.call("PUT", f"/users/{alice.name}/servers/x1", json={"profile": "nope"})
    assert unknown.status_code == 400
    assert "no profile named 'nope'" in unknown.json()["message"]
    assert service.call("DELETE", path, json={"remove": True}).status_code in (202, 204)


def test_patch_renames_and_edits_a_stopped_server_then_its_start_uses_them(
    service: Api, alice: UnixUser, bob: UnixUser
) -> None:
    base = f"/users/{alice.name}/servers"
    assert service.call("PUT", f"{base}/notes").status_code == 201
    assert service.call("PUT", f"{base}/other").status_code == 201
    r = service.call(
        "PATCH",
        f"{base}/notes",
        json={"name": "thesis", "display_name": "My thesis", "user_options": {"profile": "again"}},
    )
    assert r.status_code == 200, r.text
    check("PATCH", "/users/{name}/servers/{server_name}", r)
    assert (r.json()["name"], r.json()["display_name"]) == ("thesis", "My thesis")
    assert service.call("GET", f"{base}/notes").status_code == 404
    taken = service.call("PATCH", f"{base}/thesis", json={"name": "other"})
    assert taken.status_code == 409, taken.text
    assert service.call("PATCH", f"{base}/thesis", json={"colour": "red"}).status_code == 400
    assert service.call("PATCH", f"{base}/thesis", json={"user_options": [1]}).status_code == 400
    default = service.call("PATCH", f"/users/{alice.name}/server", json={"name": "x"})
    assert default.status_code in (400, 404)
    # bob's token may not edit alice's servers (404, as JupyterHub: not his to see)
    bobs = service.as_token(user_token(service, bob.name))
    assert bobs.call("PATCH", f"{base}/thesis", json={"display_name": "mine"}).status_code == 404

    # a start with no body uses the PATCHed user_options; an active server refuses edits
    started = service.call("POST", f"{base}/thesis")
    assert started.status_code in (201, 202), started.text
    model = wait_ready(service, f"{base}/thesis")
    assert model["user_options"] == {"profile": "again"}
    assert model["display_name"] == "My thesis"
    busy = service.call("PATCH", f"{base}/thesis", json={"display_name": "later"})
    assert busy.status_code == 400
    assert "stop it" in busy.json()["message"]
    for name in ("thesis", "other"):
        assert service.call("DELETE", f"{base}/{name}", json={"remove": True}).status_code in (
            202,
            204,
        )


def wait_ready(service: Api, path: str) -> dict[str, object]:
    deadline = time.monotonic() + 90
    while True:
        model: dict[str, object] = service.call("GET", path).json()
        if model.get("ready"):
            return model
        assert time.monotonic() < deadline, f"never ready: {model}"
        time.sleep(0.3)


def test_group_properties_are_set_read_and_listed(service: Api, bob: UnixUser) -> None:
    assert service.call("POST", "/groups/physics", json={"users": []}).status_code == 201
    try:
        r = service.call("PUT", "/groups/physics/properties", json={"lab": "B2", "gpus": 2})
        assert r.status_code == 200, r.text
        assert r.json()["properties"] == {"lab": "B2", "gpus": 2}
        assert service.call("GET", "/groups/physics").json()["properties"] == {
            "lab": "B2",
            "gpus": 2,
        }
        listed = {g["name"]: g for g in service.call("GET", "/groups").json()}
        assert listed["physics"]["properties"] == {"lab": "B2", "gpus": 2}
        replaced = service.call("PUT", "/groups/physics/properties", json={"lab": "C1"})
        assert replaced.json()["properties"] == {"lab": "C1"}  # replaced, not merged
        assert service.call("PUT", "/groups/physics/properties", json=[1]).status_code == 400
        assert service.call("PUT", "/groups/physics/properties").status_code == 400
        assert service.call("PUT", "/groups/nosuch/properties", json={}).status_code == 404
        bobs = service.as_token(user_token(service, bob.name))
        assert bobs.call("PUT", "/groups/physics/properties", json={}).status_code in (403, 404)
    finally:
        service.call("DELETE", "/groups/physics")


def test_without_admin_access_an_admin_cannot_mint_access_to_anothers_server(
    service: Api, alice: UnixUser, bob: UnixUser
) -> None:
    """Courtyard's default (admin_access = false): an admin's scopes stop short of users'
    servers, so the JupyterHub admin's ``access:servers!server=bob/`` is refused, saying why."""
    admin = service.as_token(user_token(service, alice.name))
    r = admin.call(
        "POST",
        f"/users/{alice.name}/tokens",
        json={"scopes": [f"access:servers!server={bob.name}/"]},
    )
    assert r.status_code == 403, r.text
    assert "access:servers" in r.json()["message"]
