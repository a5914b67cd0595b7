"""Acceptance: the seed's unmodified jupyterhub-idle-culler, run as a Courtyard service with
the seed's role, stops an idle server and leaves one that is in use."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import Api, api_config
from tests.e2e.conftest import stop_user_servers
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root

CULLER = f"""
[[services]]
name = "idle-culler"
command = ["{sys.executable}", "-m", "jupyterhub_idle_culler", "--timeout=20", "--cull-every=5"]

[[load_roles]]
name = "list-users-and-cull"
scopes = ["list:users", "read:users:activity", "admin:servers"]
services = ["idle-culler"]
"""


@pytest.fixture
def culler_hub(module_state: object, alice: object, bob: object) -> Iterator[HubProcess]:
    from pathlib import Path

    state = Path(str(module_state)).parent / "culler-state"
    process = HubProcess(state, api_config(CULLER)).start()
    yield process
    process.stop()
    stop_user_servers(state)  # bob's server outlives the hub, by design


def server_of(api: Api, user: str) -> dict[str, object]:
    r = api.call("GET", f"/users/{user}")
    assert r.status_code == 200, r.text
    servers: dict[str, dict[str, object]] = r.json()["servers"]
    return servers.get("", {})


def wait_ready(api: Api, user: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_of(api, user).get("ready"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{user}'s server did not become ready")


def test_idle_culler_stops_idle_server_and_keeps_active_one(culler_hub: HubProcess) -> None:
    api = Api(culler_hub.url, "cy-test-service-token-5d1f0e8a7b6c")
    services = api.call("GET", "/services").json()
    assert services["idle-culler"]["pid"] > 0
    for user in ("cyalice", "cybob"):
        assert api.call("POST", f"/users/{user}").status_code == 201
        assert api.call("POST", f"/users/{user}/server").status_code in (201, 202)
    for user in ("cyalice", "cybob"):
        wait_ready(api, user)
    deadline = time.monotonic() + 120
    with httpx.Client(headers={"Authorization": f"token {api.token}"}) as client:
        while server_of(api, "cyalice"):
            assert time.monotonic() < deadline, "the culler never stopped cyalice's idle server"
            # bob keeps working: opens a page (a status poll would not count, by design:
            # proxy/activity.py; with it, bob survived only when the culler took alice first)
            client.get(f"{culler_hub.url}/user/cybob/lab")
            time.sleep(1)
    assert server_of(api, "cybob").get("ready"), "the culler stopped cybob's active server"
    culler_hub.wait_for_output(r"Culling server cyalice")
