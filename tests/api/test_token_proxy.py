"""An API token opens /user/<name>/... through the proxy, as a script calling the user's
jupyter server would: no cookie, no XSRF token, just ``Authorization: token ...``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import Api, user_token
from tests.conftest import UnixUser
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def running(service: Api, alice: UnixUser) -> Iterator[str]:
    """alice's server, started once for the module and stopped after it."""
    name = alice.name
    user_token(service, name, scopes=[])  # makes sure alice exists in the hub
    assert service.call("POST", f"/users/{name}/server").status_code in (201, 202)
    deadline = time.monotonic() + 90
    while not service.call("GET", f"/users/{name}").json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, "alice's server did not become ready"
        time.sleep(0.3)
    yield name
    service.call("DELETE", f"/users/{name}/server")
    deadline = time.monotonic() + 30  # stopped before the hub goes, which would leave it running
    while service.call("GET", f"/users/{name}").json()["servers"]:
        assert time.monotonic() < deadline, "alice's server did not stop"
        time.sleep(0.2)


def with_token(token: str) -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"token {token}"}, timeout=30)


def test_a_token_reads_and_writes_the_users_server_without_cookie_or_xsrf(
    api_hub: HubProcess, service: Api, running: str
) -> None:
    token = user_token(service, running, note="script")
    base = f"{api_hub.url}/user/{running}/api"
    with with_token(token) as client:
        contents = client.get(f"{base}/contents")
        assert contents.status_code == 200, contents.text
        assert contents.json()["type"] == "directory"
        made = client.post(f"{base}/kernels", json={"name": "python3"})
        assert made.status_code == 201, made.text
        kernel = made.json()["id"]
        assert kernel in [k["id"] for k in client.get(f"{base}/kernels").json()]
        assert client.delete(f"{base}/kernels/{kernel}").status_code == 204
    # the same request with no credential is not the user's server's to answer
    assert httpx.get(f"{base}/contents", timeout=30).status_code == 403


def test_a_token_bearer_header_works_too(api_hub: HubProcess, service: Api, running: str) -> None:
    token = user_token(service, running)
    r = httpx.get(
        f"{api_hub.url}/user/{running}/api/status",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert "started" in r.json()


def test_other_users_token_and_a_token_without_access_are_refused(
    api_hub: HubProcess, service: Api, running: str, bob: UnixUser
) -> None:
    base = f"{api_hub.url}/user/{running}/api"
    bobs = user_token(service, bob.name)
    narrow = user_token(service, running, scopes=[f"read:users!user={running}"])
    for token in (bobs, narrow):
        with with_token(token) as client:
            r = client.get(f"{base}/contents")
            assert r.status_code == 403
            assert r.json()["status"] == 403  # an API answer for an API client, not a page
            assert client.post(f"{base}/kernels", json={"name": "python3"}).status_code == 403


def test_a_service_token_with_access_servers_writes_too(
    api_hub: HubProcess, service: Api, running: str
) -> None:
    with with_token(str(service.token)) as client:
        assert client.get(f"{api_hub.url}/user/{running}/api/contents").status_code == 200
        made = client.post(f"{api_hub.url}/user/{running}/api/kernels", json={"name": "python3"})
        assert made.status_code == 201, made.text
        client.delete(f"{api_hub.url}/user/{running}/api/kernels/{made.json()['id']}")


def test_an_admins_token_cannot_open_other_servers_without_admin_access(
    api_hub: HubProcess, service: Api, running: str, bob: UnixUser
) -> None:
    """admin_access is false here (the default): the admin role has no access:servers, so
    neither an admin's token on a stopped server (the hub's gate) nor on a running one (the
    proxy) gets through."""
    admin = service.as_token(user_token(service, running))  # alice is the configured admin
    assert admin.call("PATCH", f"/users/{bob.name}", json={"admin": True}).status_code == 200
    try:
        with with_token(user_token(service, bob.name)) as client:
            r = client.get(f"{api_hub.url}/user/{running}/api/contents")
            assert r.status_code == 403, r.text
        with with_token(str(admin.token)) as client:
            r = client.get(f"{api_hub.url}/user/{bob.name}/api/contents")
            assert r.status_code == 403, r.text
    finally:
        admin.call("PATCH", f"/users/{bob.name}", json={"admin": False})
