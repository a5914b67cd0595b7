"""Login edges on the real hub: next=, huge input, logout everywhere, CSRF, cross-site posts."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.conftest import UnixUser
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root

UNSAFE_NEXT = [
    "//evil.example/",
    "/\\evil.example/",
    "https://evil.example/",
    "http:evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
    " //evil.example",
]


@pytest.mark.parametrize("target", UNSAFE_NEXT)
async def test_next_only_leads_to_a_local_path(
    shared_hub: HubProcess, alice: UnixUser, target: str
) -> None:
    async with HubClient(shared_hub.url) as client:
        r = await client.login(alice.name, alice.password, next_url=target)
        assert r.status == 302
        location = r.headers["Location"]
        assert location.startswith("/hub/")  # fell back to the hub, never off-site
        assert "evil" not in location


async def test_next_to_a_local_page_is_followed(shared_hub: HubProcess, alice: UnixUser) -> None:
    async with HubClient(shared_hub.url) as client:
        r = await client.login(alice.name, alice.password, next_url="/hub/home?tab=1")
        assert (r.status, r.headers["Location"]) == (302, "/hub/home?tab=1")


async def test_a_10_mb_password_is_refused_quickly(shared_hub: HubProcess, alice: UnixUser) -> None:
    async with HubClient(shared_hub.url) as client:
        token = await client.form_token("/hub/login")
        data = {"username": alice.name, "password": "x" * 10_000_000, "_xsrf": token}
        began = time.monotonic()
        async with client.http.post(shared_hub.url + "/hub/login", data=data) as r:
            assert r.status == 413
        assert time.monotonic() - began < 10  # refused without hashing or PAM
    assert not any("x" * 100 in line for line in shared_hub.output)


async def test_a_10_mb_username_is_refused_and_not_logged(shared_hub: HubProcess) -> None:
    async with HubClient(shared_hub.url) as client:
        token = await client.form_token("/hub/login")
        data = {"username": "y" * 10_000_000, "password": "pw", "_xsrf": token}
        async with client.http.post(shared_hub.url + "/hub/login", data=data) as r:
            assert r.status == 413
        r2 = await client.login("z" * 5000, "pw")
        assert r2.status == 403
    assert not any("z" * 100 in line for line in shared_hub.output)


async def test_logout_ends_the_session_in_every_tab(
    shared_hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(shared_hub.url) as tab1, HubClient(shared_hub.url) as tab2:
        await tab1.login(alice.name, alice.password, next_url="/hub/home")
        for cookie in tab1.http.cookie_jar:
            tab2.http.cookie_jar.update_cookies({cookie.key: cookie.value})
        assert (await tab2.get("/hub/home"))[0] == 200
        r = await tab1.post_form("/hub/logout", {})
        assert r.status == 302
        status, _, headers = await tab2.get("/hub/home")
        assert status == 302
        assert headers["Location"].startswith("/hub/login")


async def test_login_without_the_form_token_is_refused(
    shared_hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(shared_hub.url) as client:
        data = {"username": alice.name, "password": alice.password}
        async with client.http.post(shared_hub.url + "/hub/login", data=data) as r:
            assert r.status == 403


async def test_a_cross_site_form_cannot_stop_a_server(
    shared_hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(shared_hub.url) as client:
        await client.login(alice.name, alice.password, next_url="/hub/home")
        token = await client.form_token("/hub/home")
        async with client.http.post(
            shared_hub.url + "/hub/stop",
            data={"_xsrf": token},
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
        ) as r:
            assert r.status == 403


async def test_session_cookie_is_httponly_and_samesite_lax(
    shared_hub: HubProcess, alice: UnixUser
) -> None:
    async with aiohttp.ClientSession(headers={"Origin": shared_hub.url}) as http:
        async with HubClient(shared_hub.url) as client:
            token = await client.form_token("/hub/login")
            nonce = {c.key: c.value for c in client.http.cookie_jar}
        data = {
            "username": alice.name,
            "password": alice.password,
            "_xsrf": token,
            "next": "/hub/home",
        }
        async with http.post(
            shared_hub.url + "/hub/login", data=data, cookies=nonce, allow_redirects=False
        ) as r:
            assert r.status == 302
            set_cookie = [v for v in r.headers.getall("Set-Cookie") if "courtyard-session" in v]
            assert set_cookie
            assert "HttpOnly" in set_cookie[0]
            assert "SameSite=Lax" in set_cookie[0]


async def test_a_junk_token_does_not_unlock_the_cookie_without_a_form_token(
    shared_hub: HubProcess, alice: UnixUser
) -> None:
    """check_csrf waives the form token for ``Authorization: token ...``; the cookie beside
    an invalid token must then not count, or any page could POST with a junk token."""
    async with HubClient(shared_hub.url) as client:
        await client.login(alice.name, alice.password, next_url="/hub/home")
        await client.post_form("/hub/spawn", {})
        await client.wait_until_ready(alice.name)
        try:
            async with client.http.post(
                shared_hub.url + "/hub/stop",
                headers={"Authorization": "token junk"},
                allow_redirects=False,
            ) as r:
                assert r.status == 302
                assert r.headers["Location"].startswith("/hub/login")  # anonymous
            status, _, _ = await client.get(f"/user/{alice.name}/api/status")
            assert status == 200  # still running, answered by the server itself
            status, _, _ = await client.get("/hub/home", headers={"Authorization": "x"})
            assert status == 200  # not a token: the session cookie still counts
        finally:
            await client.post_form("/hub/stop", {})


async def post_login_as_a_script(
    hub: HubProcess, user: UnixUser, headers: dict[str, str], token: str | None = None
) -> int:
    """A login POST from a client that sends no Origin / Sec-Fetch-Site unless told to."""
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:  # no Origin, unlike HubClient
        async with http.get(hub.url + "/hub/login") as page:
            html = await page.text()
        found = token or html.split('name="_xsrf" value="', 1)[1].split('"', 1)[0]
        data = {"username": user.name, "password": user.password, "_xsrf": found}
        async with http.post(
            hub.url + "/hub/login", data=data, headers=headers, allow_redirects=False
        ) as r:
            return r.status


async def test_a_script_logs_in_with_the_form_token_and_no_origin(
    shared_hub: HubProcess, alice: UnixUser
) -> None:
    assert await post_login_as_a_script(shared_hub, alice, {}) == 302


async def test_a_script_without_origin_still_needs_a_valid_form_token(
    shared_hub: HubProcess, alice: UnixUser
) -> None:
    assert await post_login_as_a_script(shared_hub, alice, {}, token="forged") == 403


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
)
async def test_a_cross_site_login_is_refused_even_with_a_valid_token(
    shared_hub: HubProcess, alice: UnixUser, headers: dict[str, str]
) -> None:
    assert await post_login_as_a_script(shared_hub, alice, headers) == 403
