"""Courtyard as the OAuth provider of a real JupyterHub service: the hub runs
tests/api/whoami_service.py (tornado + ``jupyterhub.services.auth.HubOAuthenticated``) and
proxies it at /services/whoami/; people log in to it through the hub's login and consent
pages, driven here by an HTTP client that follows redirects and posts the forms."""

from __future__ import annotations

import json
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.api.conftest import SERVICE_TOKEN, Api, api_config
from tests.conftest import UnixUser
from tests.hubclient import XSRF
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root

WHOAMI_SECRET = "cy-test-whoami-secret-9f8e7d6c5b4a"
QUICK_SECRET = "cy-test-quick-secret-0a1b2c3d4e5f"
SERVICE_FILE = Path(__file__).with_name("whoami_service.py")
AUTHORIZE = "/hub/api/oauth2/authorize"
TOKEN = "/hub/api/oauth2/token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def oauth_config(whoami_port: int, quick_port: int) -> str:
    return api_config(f"""
[[services]]
name = "whoami"
url = "http://127.0.0.1:{whoami_port}"
command = ["{sys.executable}", "{SERVICE_FILE}"]
api_token = "{WHOAMI_SECRET}"

[[services]]
name = "quick"
url = "http://127.0.0.1:{quick_port}"
api_token = "{QUICK_SECRET}"
oauth_no_confirm = true
oauth_client_allowed_scopes = ["read:users:activity!user"]

[[load_roles]]
name = "whoami-users"
scopes = ["access:services!service=whoami"]
users = ["cybob"]  # cyalice is an admin: the admin role holds access:services
""")


@pytest.fixture(scope="module")
def oauth_hub(module_state: Path, alice: object, bob: object) -> Iterator[HubProcess]:
    config = oauth_config(free_port(), free_port())
    process = HubProcess(module_state.parent / "oauth-state", config).start()
    try:
        process.wait_for_output(r"whoami service env")
        yield process
    finally:
        process.stop()


def browser(hub: HubProcess) -> httpx.Client:
    """A browser: keeps cookies (by path), follows redirects, sends Origin as browsers do."""
    return httpx.Client(
        base_url=hub.url, follow_redirects=True, timeout=30, headers={"Origin": hub.url}
    )


def xsrf(page: httpx.Response) -> str:
    match = XSRF.search(page.text)
    assert match, f"no form token on {page.url} ({page.status_code}):\n{page.text[:400]}"
    return match.group(1)


def log_in(client: httpx.Client, page: httpx.Response, user: UnixUser) -> httpx.Response:
    assert page.url.path == "/hub/login", page.url
    next_url = parse_qs(page.url.query.decode())["next"][0]
    form = {"username": user.name, "password": user.password, "_xsrf": xsrf(page), "next": next_url}
    return client.post("/hub/login", data=form)


def consent(client: httpx.Client, page: httpx.Response, **kwargs: object) -> httpx.Response:
    """Approve on the consent page: its form posts back to the same URL."""
    assert page.url.path == AUTHORIZE, page.url
    assert "Authorize" in page.text, page.text[:400]
    ticked = re.findall(r'name="scopes" value="([^"]+)"', page.text)
    data = {"_xsrf": xsrf(page), "scopes": ticked}
    return client.post(str(page.url), data=data, **kwargs)  # type: ignore[arg-type]


def service_login(hub: HubProcess, user: UnixUser) -> tuple[httpx.Client, httpx.Response]:
    """Open the service logged out: service -> hub's authorize -> login -> consent -> back."""
    client = browser(hub)
    first = client.get("/services/whoami/")
    hops = [str(r.headers["location"]) for r in first.history]
    assert hops[0].startswith(AUTHORIZE + "?"), hops
    assert hops[1].startswith("/hub/login?next="), hops
    page = log_in(client, first, user)
    done = consent(client, page)
    return client, done


def test_alice_logs_in_to_a_jupyterhub_service_through_the_hub(
    oauth_hub: HubProcess, alice: UnixUser
) -> None:
    client, done = service_login(oauth_hub, alice)
    with closing(client):
        assert done.status_code == 200, done.text
        assert done.url.path == "/services/whoami/"
        model = done.json()
        assert model["name"] == alice.name
        assert model["kind"] == "user"
        assert "access:services!service=whoami" in model["scopes"]
        assert f"read:users:name!user={alice.name}" in model["scopes"]
        again = client.get("/services/whoami/")  # the service's own cookie now
        assert again.history == []
        assert again.json()["name"] == alice.name


def test_the_service_gets_jupyterhubs_oauth_environment(oauth_hub: HubProcess) -> None:
    line = oauth_hub.wait_for_output(r"whoami service env")
    env = json.loads(line.split("whoami service env ", 1)[1])
    assert env["JUPYTERHUB_CLIENT_ID"] == "service-whoami"
    assert env["JUPYTERHUB_SERVICE_NAME"] == "whoami"
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == "/services/whoami/"
    assert env["JUPYTERHUB_OAUTH_CALLBACK_URL"] == "/services/whoami/oauth_callback"
    assert json.loads(env["JUPYTERHUB_OAUTH_ACCESS_SCOPES"]) == ["access:services!service=whoami"]
    assert json.loads(env["JUPYTERHUB_OAUTH_SCOPES"]) == ["access:services!service=whoami"]
    assert env["JUPYTERHUB_API_URL"] == oauth_hub.url + "/hub/api"
    assert env["JUPYTERHUB_BASE_URL"] == "/"
    table = Api(oauth_hub.url, SERVICE_TOKEN).call("GET", "/proxy").json()
    route = table["/services/whoami/"]
    assert route["target"] == env["JUPYTERHUB_SERVICE_URL"]
    assert route["data"] == {"service": "whoami"}


def test_bob_is_bob_and_kept_out_of_alices_page(
    oauth_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    alice_client, _ = service_login(oauth_hub, alice)
    bob_client, done = service_login(oauth_hub, bob)
    with closing(alice_client), closing(bob_client):
        assert done.json()["name"] == bob.name
        assert alice_client.get("/services/whoami/").json()["name"] == alice.name
        assert bob_client.get("/services/whoami/").json()["name"] == bob.name
        assert alice_client.get("/services/whoami/alice-only").status_code == 200
        refused = bob_client.get("/services/whoami/alice-only")
        assert refused.status_code == 403, refused.text
        oauth_hub.wait_for_output(rf"Not allowing Hub user {bob.name}")  # the service said so


def test_the_consent_page_speaks_chinese_and_needs_access_to_the_service(
    oauth_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    alice_client, _ = service_login(oauth_hub, alice)
    bob_client, _ = service_login(oauth_hub, bob)
    with closing(alice_client), closing(bob_client):
        query = urlencode({"client_id": "service-whoami", "response_type": "code"})
        page = alice_client.get(f"{AUTHORIZE}?{query}", headers={"Accept-Language": "zh-CN"})
        assert page.status_code == 200
        assert "授权访问" in page.text
        assert "Service whoami" in page.text
        quick = urlencode({"client_id": "service-quick", "response_type": "code"})
        refused = bob_client.get(f"{AUTHORIZE}?{quick}", follow_redirects=False)
        assert refused.status_code == 403
        assert "You do not have permission to access Service quick." in refused.text
        assert "location" not in refused.headers


def start_authorize(client: httpx.Client) -> tuple[str, httpx.Response]:
    """The service's own redirect to the hub (not followed), and the hub's consent page."""
    to_hub = client.get("/services/whoami/", follow_redirects=False)
    assert to_hub.status_code == 302
    location = to_hub.headers["location"]
    return location, client.get(location)


def test_state_passes_through_untouched_and_a_tampered_one_is_refused(
    oauth_hub: HubProcess, alice: UnixUser
) -> None:
    client, _ = service_login(oauth_hub, alice)
    with closing(client):
        client.cookies.delete("service-whoami")  # logged out of the service, not of the hub
        location, page = start_authorize(client)
        state = parse_qs(urlsplit(location).query)["state"][0]
        back = consent(client, page, follow_redirects=False)
        assert back.status_code == 302
        callback = urlsplit(back.headers["location"])
        assert callback.path == "/services/whoami/oauth_callback"
        query = parse_qs(callback.query)
        assert query["state"] == [state]
        forged = {"code": query["code"][0], "state": state[:-2] + "xx"}
        refused = client.get(f"{callback.path}?{urlencode(forged)}")
        assert refused.status_code == 403, refused.text
        oauth_hub.wait_for_output(r"oauth state argument .* != cookie")  # the service's check


def test_a_redirect_uri_other_than_the_registered_one_is_refused(
    oauth_hub: HubProcess, alice: UnixUser
) -> None:
    client, _ = service_login(oauth_hub, alice)
    with closing(client):
        foreign = ("http://evil.example/cb", "/services/whoami/x", "/services/quick/oauth_callback")
        for uri in foreign:
            query = {"client_id": "service-whoami", "response_type": "code", "redirect_uri": uri}
            r = client.get(f"{AUTHORIZE}?{urlencode(query)}", follow_redirects=False)
            assert r.status_code == 400, (uri, r.status_code, r.headers.get("location"))
            assert "location" not in r.headers
            assert "Mismatching redirect URI." in r.text
        unknown = client.get(f"{AUTHORIZE}?client_id=service-nope&response_type=code",
                             follow_redirects=False)  # fmt: skip
        assert unknown.status_code == 400
        assert "location" not in unknown.headers


def quick_code(client: httpx.Client, state: str = "s1") -> str:
    """A code for the no-confirm service: no consent page, straight back with the code."""
    query = {"client_id": "service-quick", "response_type": "code", "state": state}
    r = client.get(f"{AUTHORIZE}?{urlencode(query)}", follow_redirects=False)
    assert r.status_code == 302, r.text
    back = urlsplit(r.headers["location"])
    assert back.path == "/services/quick/oauth_callback"
    got = parse_qs(back.query)
    assert got["state"] == [state]
    return got["code"][0]


def redeem(hub: HubProcess, code: str, secret: str, basic: bool = False) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": "/services/quick/oauth_callback"}  # fmt: skip
    if basic:
        return httpx.post(hub.url + TOKEN, data=form, auth=("service-quick", secret))
    form |= {"client_id": "service-quick", "client_secret": secret}
    return httpx.post(hub.url + TOKEN, data=form)


def test_a_code_is_single_use_and_needs_the_clients_secret(
    oauth_hub: HubProcess, alice: UnixUser
) -> None:
    client, _ = service_login(oauth_hub, alice)
    with closing(client):
        code = quick_code(client)
        wrong = redeem(oauth_hub, code, WHOAMI_SECRET)  # another service's secret
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
        ok = redeem(oauth_hub, code, QUICK_SECRET)
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["token_type"] == "Bearer"
        assert ok.headers["Cache-Control"] == "no-store"
        scopes = body["scope"].split()
        assert "access:services!service=quick" in scopes
        assert "read:users:activity!user" in scopes
        me = Api(oauth_hub.url, body["access_token"]).call("GET", "/user")
        assert me.status_code == 200
        assert me.json()["name"] == alice.name
        assert f"read:users:activity!user={alice.name}" in me.json()["scopes"]
        assert "admin:users" not in me.json()["scopes"]  # alice is an admin; the token is not
        twice = redeem(oauth_hub, code, QUICK_SECRET)
        assert twice.status_code == 400
        assert twice.json()["error"] == "invalid_grant"
        basic = redeem(oauth_hub, quick_code(client, "s2"), QUICK_SECRET, basic=True)
        assert basic.status_code == 200
        assert basic.json()["access_token"]


def test_deprecated_authorizations_endpoints_answer_as_jupyterhub_6(
    oauth_hub: HubProcess, alice: UnixUser
) -> None:
    service = Api(oauth_hub.url, SERVICE_TOKEN)
    client, _ = service_login(oauth_hub, alice)
    with closing(client):
        token = redeem(oauth_hub, quick_code(client), QUICK_SECRET).json()["access_token"]
        owner = service.call("GET", f"/authorizations/token/{token}")
        assert owner.status_code == 200
        assert owner.json()["name"] == alice.name
        assert service.call("GET", "/authorizations/token/nosuchtoken").status_code == 404
        removed = service.call("POST", "/authorizations/token")
        assert removed.status_code == 404
        assert "removed in JupyterHub 2.0" in removed.text
        cookie = next(c for c in client.cookies.jar if c.name == "courtyard-session")
        path = f"/authorizations/cookie/{cookie.name}/{cookie.value}"
        found = service.call("GET", path)
        assert found.status_code == 200, found.text
        assert found.json()["name"] == alice.name
        assert service.call("GET", f"/authorizations/cookie/{cookie.name}/junk").status_code == 404
        by_cookie = client.get("/hub/api" + path)  # a cookie is not a token: JupyterHub says 403
        assert by_cookie.status_code == 403
