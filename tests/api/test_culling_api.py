"""/hub/api/users/{name}/culling and /keep: the culler's view of a server, asked by the
JupyterLab extension (tests/e2e/test_lab_cull_warning.py drives it in a browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from courtyard.api.culling import status_model
from courtyard.config.settings import CullerSettings
from courtyard.culler.loop import Culler
from courtyard.hub.servers import ServerManager
from courtyard.proxy.routes import Route, RouteTable
from courtyard.spawners.base import Endpoint
from courtyard.store.store import Store
from tests.api.conftest import Api
from tests.conftest import UnixUser
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

T0 = 1_700_000_000.0
EVIL = {"Origin": "https://evil.example"}


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


def make_culler(tmp_path: Path, clock: Clock, **settings: Any) -> Culler:
    store = Store.open(f"sqlite:///{tmp_path / 'cy.sqlite'}")
    routes = RouteTable()
    servers = ServerManager(store, routes, lambda user, state: None)  # type: ignore[arg-type,return-value]
    store.ensure_user("ada")
    routes.add(Route("ada", Endpoint(unix_path=str(tmp_path / "s.sock")), "s", last_activity=T0))
    return Culler(CullerSettings(**settings), servers, routes, store, clock=clock)


def test_status_counts_down_to_the_warning_then_the_cull(tmp_path: Path) -> None:
    clock = Clock()
    culler = make_culler(tmp_path, clock, timeout=100, warn_before=30)
    clock.now = T0 + 50
    assert status_model(culler, "ada") == {
        "seconds_left": 50, "warn": False, "warn_in": 20, "reason": "idle"
    }  # fmt: skip
    clock.now = T0 + 80.5
    assert status_model(culler, "ada") == {
        "seconds_left": 20, "warn": True, "warn_in": 0, "reason": "idle"
    }  # fmt: skip
    assert culler.keep("ada")
    assert status_model(culler, "ada")["seconds_left"] == 100
    assert status_model(culler, "ada")["warn"] is False


def test_status_says_never_when_nothing_will_be_culled(tmp_path: Path) -> None:
    never = {"seconds_left": None, "warn": False, "warn_in": None, "reason": None}
    assert status_model(None, "ada") == never
    assert status_model(make_culler(tmp_path, Clock(), enabled=False), "ada") == never
    assert status_model(make_culler(tmp_path, Clock()), "nobody") == never


async def test_a_user_reads_and_keeps_only_their_own(
    api_hub: HubProcess, service: Api, bob: UnixUser
) -> None:
    never = {"seconds_left": None, "warn": False, "warn_in": None, "reason": None}
    for name in ("cyalice", "cybob"):
        if service.call("GET", f"/users/{name}").status_code == 404:
            assert service.call("POST", f"/users/{name}").status_code == 201
    assert service.call("GET", "/users/cybob/culling").json() == never  # no server running
    assert service.call("GET", "/users/nobody/culling").status_code == 404
    api = f"{api_hub.url}/hub/api/users"
    async with HubClient(api_hub.url) as browser:
        await browser.login(bob.name, bob.password)
        async with browser.http.get(f"{api}/cybob/culling") as r:
            assert (r.status, await r.json()) == (200, never)
        async with browser.http.get(f"{api}/cyalice/culling") as r:
            assert r.status == 404  # bob may read only his own server
        async with browser.http.post(f"{api}/cyalice/keep") as r:
            assert r.status == 404
        async with browser.http.post(f"{api}/cybob/keep", headers=EVIL) as r:
            assert r.status == 403  # a cookie write from another site
        async with browser.http.post(f"{api}/cybob/keep") as r:
            assert r.status == 400  # no server to keep
            assert "not running" in (await r.json())["message"]
