"""The server trusts the hub's secret and nothing else; XSRF still guards browser requests."""

from __future__ import annotations

import os
import stat

from tests.singleuser.conftest import RunningServer
from tests.singleuser.socketclient import execute, request, start_kernel

PROXY = {"Host": "hub.example:8000", "Origin": "http://hub.example:8000"}


async def test_request_with_the_secret_is_served_as_the_named_user(server: RunningServer) -> None:
    headers = {"X-Courtyard-Secret": server.secret, "X-Courtyard-User": "alice"}
    reply = await request(server.sock, "GET", f"{server.base}api/me", headers)
    assert reply.status == 200
    assert reply.json()["identity"]["username"] == "alice"


async def test_api_request_without_the_secret_is_refused(server: RunningServer) -> None:
    reply = await request(server.sock, "GET", f"{server.base}api/status")
    assert reply.status == 403


async def test_api_request_with_a_wrong_secret_is_refused(server: RunningServer) -> None:
    wrong = {"X-Courtyard-Secret": server.secret[:-1] + ("A" if server.secret[-1] != "A" else "B")}
    reply = await request(server.sock, "GET", f"{server.base}api/status", wrong)
    assert reply.status == 403


async def test_page_without_the_secret_redirects_to_the_hub_login(server: RunningServer) -> None:
    reply = await request(server.sock, "GET", f"{server.base}lab")
    assert reply.status == 302
    assert reply.headers["Location"].startswith("/hub/login?next=")


async def test_the_server_has_no_login_page_of_its_own(server: RunningServer) -> None:
    headers = {"X-Courtyard-Secret": server.secret}
    reply = await request(server.sock, "GET", f"{server.base}login", headers)
    assert reply.status == 404


async def test_browser_post_without_xsrf_token_is_refused(server: RunningServer) -> None:
    headers = {"X-Courtyard-Secret": server.secret, **PROXY}
    reply = await request(server.sock, "POST", f"{server.base}api/kernels", headers, b"{}")
    assert reply.status == 403


async def test_browser_post_with_xsrf_cookie_and_header_through_proxy_works(
    server: RunningServer,
) -> None:
    page = await request(
        server.sock, "GET", f"{server.base}lab", {"X-Courtyard-Secret": server.secret, **PROXY}
    )
    assert page.status == 200
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("_xsrf=")
    token = cookie.split(";")[0].removeprefix("_xsrf=")
    headers = {"X-Courtyard-Secret": server.secret, **PROXY}
    headers |= {"Cookie": f"_xsrf={token}", "X-XSRFToken": token}
    reply = await request(server.sock, "POST", f"{server.base}api/kernels", headers, b"{}")
    assert reply.status == 201
    cross_site = headers | {"Origin": "http://evil.example"}
    reply = await request(server.sock, "POST", f"{server.base}api/kernels", cross_site, b"{}")
    assert reply.status in (403, 404)


async def test_token_authenticated_proxy_requests_skip_xsrf(server: RunningServer) -> None:
    headers = {"X-Courtyard-Secret": server.secret, "X-Courtyard-Auth": "token"}
    reply = await request(server.sock, "POST", f"{server.base}api/kernels", headers, b"{}")
    assert reply.status == 201


async def test_kernels_do_not_inherit_the_secret(server: RunningServer) -> None:
    kernel = await start_kernel(server.sock, server.base, server.secret)
    code = "import os; 'COURTYARD_SERVER_SECRET' in os.environ, 1 + 1"
    assert await execute(server.sock, server.base, server.secret, kernel, code) == "(False, 2)"


def test_socket_is_private_to_its_owner(server: RunningServer) -> None:
    info = os.stat(server.sock)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600


def test_secret_is_not_in_the_log(server: RunningServer) -> None:
    assert server.secret not in server.log.read_text()
