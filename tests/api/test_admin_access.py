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
