"""Who reaches which upstream, with which headers."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest

from tests.proxy.conftest import Stack
from tests.proxy.proxykit import RawClient, get


async def fetch(stack: Stack, request: bytes) -> tuple[int, dict[str, object]]:
    client = await RawClient.open(stack.port)
    client.send(request)
    response = await client.response()
    await client.close()
    return response.status, (response.json() if response.status == 200 else {})


async def test_alice_reaches_her_server_with_secret_and_user(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/user/alice/echo?x=1", "alice-cookie"))
    response = await client.response()
    data = response.json()
    assert data["owner"] == "alice"
    assert data["path"] == "/user/alice/echo?x=1"
    assert response.sent_header("X-Courtyard-Secret") == ["alice-secret"]
    assert response.sent_header("X-Courtyard-User") == ["alice"]
    assert response.sent_header("X-Real-IP") == ["127.0.0.1"]
    assert response.sent_header("X-Forwarded-For") == ["127.0.0.1"]
    assert response.sent_header("X-Forwarded-Proto") == ["http"]
    assert response.sent_header("X-Forwarded-Host") == ["hub.test"]
    await client.close()


async def test_exact_user_path_routes_too(stack: Stack) -> None:
    status, data = await fetch(stack, get("/user/bob", "bob-cookie"))
    assert (status, data["owner"]) == (200, "bob")


async def test_tcp_upstream_works_like_unix(stack: Stack) -> None:
    status, data = await fetch(stack, get("/user/bob/echo", "bob-cookie"))
    assert (status, data["owner"]) == (200, "bob")


@pytest.mark.parametrize(
    "cookie",
    [None, "bob-cookie", "nobody", "plain-admin-cookie"],
    ids=["anon", "bob", "bad", "admin-no-access"],
)
async def test_without_access_the_request_goes_to_the_hub(stack: Stack, cookie: str | None) -> None:
    status, data = await fetch(stack, get("/user/alice/echo", cookie))
    assert status == 200
    assert data["hub"] is True
    assert data["path"] == "/user/alice/echo"
    headers = dict((k.lower(), v) for k, v in data["headers"])  # type: ignore[union-attr]
    assert "x-courtyard-secret" not in headers
    assert "x-courtyard-user" not in headers


async def test_admin_with_access_opens_alices_server_and_is_logged(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="courtyard.proxy.test"):
        status, data = await fetch(stack, get("/user/alice/echo", "admin-cookie"))
    assert (status, data["owner"]) == (200, "alice")
    assert "admin root opened alice's server" in caplog.text


async def test_unknown_user_and_other_paths_go_to_the_hub(stack: Stack) -> None:
    for path in ["/hub/login", "/", "/user/carol/", "/user/", "/User/bob/echo", "/user/Alice/echo"]:
        status, data = await fetch(
            stack, get(path, "bob-cookie" if "bob" in path else "alice-cookie")
        )
        assert (status, data["hub"], data["path"]) == (200, True, path)


@pytest.mark.parametrize(
    "path",
    [
        "/user/alice/../bob/echo",
        "/user/alice/%2e%2e/bob/echo",
        "/user/alice/%2E%2E/bob/echo",
        "/user/alice/.%2e/bob/echo",
        "//user/bob/echo",
        "/user/bob%2f../echo",
        "/user/bob%2F..",
        "/user/alice/..%2fbob/echo",
        "/user/alice/..%5cbob/echo",
        "/user/alice/..\\bob/echo",
        "/user/alice/./echo",
        "/hub/../user/bob/echo",
        "http://hub.test/user/bob/echo",
    ],
)
async def test_path_tricks_are_refused(stack: Stack, path: str) -> None:
    status, _ = await fetch(stack, get(path, "alice-cookie"))
    assert status == 400


async def test_forged_courtyard_headers_are_stripped(stack: Stack) -> None:
    forged = (
        "X-Courtyard-User: bob\r\nX-Courtyard-Secret: guess\r\nx-courtyard-other: 1\r\n"
        "X-Real-IP: 10.9.9.9\r\nX-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: https\r\n"
    )
    for path, cookie in [("/user/alice/echo", "alice-cookie"), ("/hub/x", None)]:
        client = await RawClient.open(stack.port)
        client.send(get(path, cookie, forged))
        response = await client.response()
        assert response.sent_header("X-Courtyard-User") == (["alice"] if cookie else [])
        assert response.sent_header("X-Courtyard-Secret") == (["alice-secret"] if cookie else [])
        assert response.sent_header("X-Courtyard-Other") == []
        assert response.sent_header("X-Real-IP") == ["127.0.0.1"]
        assert response.sent_header("X-Forwarded-For") == ["127.0.0.1"]
        assert response.sent_header("X-Forwarded-Proto") == ["http"]
        await client.close()


async def test_hop_by_hop_headers_are_stripped(stack: Stack) -> None:
    extra = (
        "Connection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: 5\r\n"
        "Proxy-Authorization: x\r\nTE: trailers\r\nX-Kept: yes\r\n"
    )
    client = await RawClient.open(stack.port)
    client.send(get("/user/alice/echo", "alice-cookie", extra))
    response = await client.response()
    for name in ["X-Private", "Keep-Alive", "Proxy-Authorization", "TE"]:
        assert response.sent_header(name) == [], name
    assert response.sent_header("X-Kept") == ["yes"]
    assert response.header("Keep-Alive") is None
    await client.close()


async def test_route_activity_is_touched(stack: Stack) -> None:
    route = stack.routes.get("alice")
    assert route is not None
    route.last_traffic = 0.0
    await fetch(stack, get("/user/alice/echo", "alice-cookie"))
    assert route.last_traffic > 0.0  # traffic; what counts as activity: test_activity_stamps


async def test_a_users_server_never_sees_the_hub_session_or_token(stack: Stack) -> None:
    """An admin opening alice's server must not hand alice their hub credentials."""
    cookies = "Cookie: _xsrf=abc; courtyard-session=s3cret; __Host-courtyard-login=n\r\n"
    client = await RawClient.open(stack.port)
    client.send(get("/user/alice/echo", "alice-cookie", cookies))
    response = await client.response()
    assert response.status == 200
    sent = "; ".join(response.sent_header("Cookie"))
    assert "_xsrf=abc" in sent
    assert "courtyard" not in sent.lower()
    client.send(get("/user/alice/echo", None, "Authorization: token alice-cookie\r\n"))
    response = await client.response()
    assert response.status == 200
    assert response.sent_header("Authorization") == []
    assert response.sent_header("X-Courtyard-User") == ["alice"]
    await client.close()


async def test_the_hub_still_gets_its_cookie_and_token(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/hub/home", "alice-cookie", "Authorization: token t\r\n"))
    response = await client.response()
    assert response.sent_header("Authorization") == ["token t"]
    assert "courtyard=alice-cookie" in "; ".join(response.sent_header("Cookie"))
    await client.close()


def setting(path: str, *lines: str) -> str:
    return path + "?" + urlencode([("setcookie", line) for line in lines])


HUB_SET_COOKIES = [
    "courtyard-session=bobs-session; Path=/hub/; HttpOnly",
    "__Host-courtyard-session=bobs-session; Path=/; Secure",
    "COURTYARD-login=x; Max-Age=0; Path=/hub/",
    "__Secure-courtyard-lang=zh_CN; Path=/",
    " courtyard-lang=zh_CN",
]


async def test_a_users_server_cannot_set_hub_cookies(stack: Stack) -> None:
    """Session fixation / forced logout: bob's server answers an admin with hub cookies."""
    client = await RawClient.open(stack.port)
    own = "_xsrf=2|abc; Path=/user/bob/"
    client.send(get(setting("/user/bob/echo", *HUB_SET_COOKIES, own), "admin-cookie"))
    response = await client.response()
    assert response.json()["owner"] == "bob"
    set_cookies = [v for k, v in response.headers if k.lower() == "set-cookie"]
    assert set_cookies == [own]
    client.send(get(setting("/user/bob/echo", HUB_SET_COOKIES[0]), "bob-cookie"))  # keep-alive
    response = await client.response()
    assert response.header("Set-Cookie") is None
    await client.close()


async def test_the_hubs_own_set_cookie_passes(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get(setting("/hub/login", *HUB_SET_COOKIES, "_xsrf=1"), "alice-cookie"))
    response = await client.response()
    assert response.json()["hub"] is True
    set_cookies = [v for k, v in response.headers if k.lower() == "set-cookie"]
    assert set_cookies == [line.strip() for line in HUB_SET_COOKIES] + ["_xsrf=1"]
    await client.close()


async def test_named_server_routes_before_the_default_and_checks_its_own_scope(
    stack: Stack,
) -> None:
    """/user/alice/torch/... goes to alice's named server "torch" when it runs (JupyterHub's
    longest prefix), everything else of alice's to her default server; a token scoped to one
    of her servers opens that one only."""
    from aiohttp import web

    from courtyard.auth.principal import Principal
    from courtyard.proxy import Route
    from tests.proxy.conftest import serve_unix

    def labelled(label: str) -> web.Application:
        async def echo(request: web.Request) -> web.Response:
            secret = request.headers.get("X-Courtyard-Secret")
            return web.json_response({"owner": label, "secret": secret})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", echo)
        return app

    default = await serve_unix(labelled("default"), stack.tmp / "default.sock", stack.runners)
    torch = await serve_unix(labelled("torch"), stack.tmp / "torch.sock", stack.runners)
    stack.routes.add(Route("alice", default, "alice-secret"))
    stack.routes.add(Route("alice", torch, "torch-secret", server="torch"))
    expected = {
        "/user/alice/torch/echo": ("torch", "torch-secret"),
        "/user/alice/torch": ("torch", "torch-secret"),
        "/user/alice/torchlight/echo": ("default", "alice-secret"),
        "/user/alice/lab": ("default", "alice-secret"),
    }
    for path, (owner, secret) in expected.items():
        status, data = await fetch(stack, get(path, "alice-cookie"))
        assert (status, data.get("owner"), data.get("secret")) == (200, owner, secret), path
    for path in ("/user/alice/torch/echo", "/user/alice/echo"):  # bob gets into neither
        status, data = await fetch(stack, get(path, "bob-cookie"))
        assert data["hub"] is True, path
    stack.gate.sessions["torch-token"] = Principal(
        "alice", scopes=frozenset({"access:servers!server=alice/torch"})
    )
    status, data = await fetch(stack, get("/user/alice/torch/echo", "torch-token"))
    assert data["owner"] == "torch"
    status, data = await fetch(stack, get("/user/alice/echo", "torch-token"))
    assert data["hub"] is True
    # stopped: the path falls back to the default server, as in JupyterHub
    stack.routes.remove("alice", "torch")
    status, data = await fetch(stack, get("/user/alice/torch/echo", "alice-cookie"))
    assert data["owner"] == "default"
