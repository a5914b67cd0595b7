"""Many routes, and route changes while requests are in flight."""

from __future__ import annotations

import asyncio

from courtyard.auth.principal import Principal
from courtyard.proxy import Route
from courtyard.spawners.base import Endpoint
from tests.proxy.conftest import Stack, serve_unix
from tests.proxy.proxykit import RawClient, get, user_app


async def test_ten_thousand_routes_and_churn_drop_no_request(stack: Stack) -> None:
    carol = await serve_unix(user_app("carol"), stack.tmp / "carol.sock", stack.runners)
    stack.gate.sessions["carol-cookie"] = Principal("carol")
    stack.routes.add(Route("carol", carol, "carol-secret"))
    for i in range(10_000):
        stack.routes.add(Route(f"u{i}", Endpoint(unix_path=str(stack.tmp / f"u{i}.sock")), "x"))
    assert len(stack.routes) == 10_003

    stop = asyncio.Event()

    async def churn() -> None:
        i = 0
        while not stop.is_set():
            stack.routes.remove(f"u{i % 10_000}")
            stack.routes.add(Route(f"u{i % 10_000}", carol, "x"))
            stack.routes.remove("alice")
            stack.routes.add(
                Route("alice", Endpoint(unix_path=str(stack.tmp / "alice.sock")), "alice-secret")
            )
            i += 1
            await asyncio.sleep(0)

    async def one_client(user: str, count: int) -> int:
        client = await RawClient.open(stack.port)
        ok = 0
        for n in range(count):
            client.send(
                b"POST /user/%b/echo HTTP/1.1\r\nHost: h\r\nCookie: courtyard=%b-cookie\r\n"
                b"Content-Length: %d\r\n\r\n%d" % (user.encode(), user.encode(), len(str(n)), n)
            )
            response = await client.response()
            data = response.json()
            ok += response.status == 200 and data["owner"] == user and data["body"] == str(n)
        await client.close()
        return ok

    churner = asyncio.create_task(churn())
    results = await asyncio.gather(
        *(one_client(u, 100) for u in ["carol", "bob", "carol", "bob"] * 4)
    )
    stop.set()
    await churner
    assert results == [100] * 16


async def test_removed_route_sends_later_requests_to_the_hub(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/user/bob/echo", "bob-cookie"))
    assert (await client.response()).json()["owner"] == "bob"
    stack.routes.remove("bob")
    client.send(get("/user/bob/echo", "bob-cookie"))
    assert (await client.response()).json()["hub"] is True
    await client.close()


async def test_close_waits_for_in_flight_and_refuses_new(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/user/bob/echo", "bob-cookie"))
    await client.response()
    idle = await RawClient.open(stack.port)
    idle.send(get("/hub/"))
    await idle.response()
    await stack.proxy.close()
    assert await idle.closed(timeout=1)
    assert await client.closed(timeout=1)
    try:
        await asyncio.open_connection("127.0.0.1", stack.port)
        refused = False
    except ConnectionError:
        refused = True
    assert refused
