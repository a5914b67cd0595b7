"""With ``admin_access = true`` an admin's API token passes the gate to another user's server
(the opposite case, the default, is in test_token_proxy.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import SERVICE_TOKEN, Api, api_config, user_token
from tests.conftest import UnixUser
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def open_hub(module_state: Path, alice: UnixUser, bob: UnixUser) -> Iterator[HubProcess]:
    process = HubProcess(module_state, "admin_access = true\n" + api_config()).start()
    yield process
    process.stop()


def test_an_admins_token_passes_the_gate_with_admin_access(
    open_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    service = Api(open_hub.url, SERVICE_TOKEN)
    user_token(service, bob.name)  # bob exists in the hub; his server is not running
    token = user_token(service, alice.name)  # alice is the configured admin
    r = httpx.get(
        f"{open_hub.url}/user/{bob.name}/api/contents",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert r.status_code == 424, r.text  # past the gate: "cybob's server is not running"


def test_an_admin_mints_a_token_for_one_users_server_only(
    open_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    """JupyterHub's ``access:servers!server=bob/``: with admin_access an admin may mint it,
    and it opens bob's default server but not alice's own."""
    service = Api(open_hub.url, SERVICE_TOKEN)
    user_token(service, bob.name)
    admin = service.as_token(user_token(service, alice.name))
    r = admin.call(
        "POST",
        f"/users/{alice.name}/tokens",
        json={"scopes": [f"access:servers!server={bob.name}/"]},
    )
    assert r.status_code == 201, r.text
    assert r.json()["scopes"] == [f"access:servers!server={bob.name}/"]
    headers = {"Authorization": f"token {r.json()['token']}"}
    to_bob = httpx.get(f"{open_hub.url}/user/{bob.name}/api/contents", headers=headers, timeout=30)
    assert to_bob.status_code == 424, to_bob.text  # past the gate; his server is not running
    own = httpx.get(f"{open_hub.url}/user/{alice.name}/api/contents", headers=headers, timeout=30)
    assert own.status_code == 403, own.text
