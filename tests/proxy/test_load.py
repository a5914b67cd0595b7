"""Many routes, and route changes while requests are in flight."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import websockets

from courtyard.auth.principal import Principal
from courtyard.proxy import ProxyServer, Route
from courtyard.spawners.base import Endpoint
from tests.proxy.conftest import TEST_LIMITS, Stack, serve_unix
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


UPSTREAM_PROCESS = """
import asyncio, sys
from aiohttp import web
from tests.proxy.proxykit import user_app

async def main():
    runner = web.AppRunner(user_app(sys.argv[1]), access_log=None)
    await runner.setup()
    await web.UnixSite(runner, sys.argv[2], backlog=int(sys.argv[3])).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextlib.contextmanager
def upstream_process(owner: str, sock: Path, backlog: int) -> Iterator[subprocess.Popen[str]]:
    """``owner``'s server in a process of its own, listening on ``sock`` with ``backlog``: a
    real server that can be SIGSTOPped while the proxy goes on, as a busy one looks."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM_PROCESS, owner, str(sock), str(backlog)],
        cwd=root, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


async def test_a_burst_of_websocket_upgrades_past_the_upstream_backlog_all_open(
    stack: Stack,
) -> None:
    """A unix socket does not queue a connect past its listen backlog as TCP does: connect()
    fails at once with EAGAIN. A burst of upgrades bigger than the backlog while the server is
    busy (many tabs reopening; jupyter_server listens with tornado's 128) must wait for the
    server to accept, within the connect timeout, not be answered 502."""
    sock = stack.tmp / "dora.sock"
    stack.routes.add(Route("dora", Endpoint(unix_path=str(sock)), "dora-secret"))
    stack.gate.sessions["dora-cookie"] = Principal("dora")
    gone: list[str] = []
    proxy = ProxyServer(stack.routes, stack.gate, Endpoint(unix_path=str(stack.tmp / "hub.sock")),
                        limits=replace(TEST_LIMITS, upstream_connect_timeout=5.0),
                        on_upstream_gone=gone.append)  # fmt: skip
    await proxy.start("127.0.0.1", 0)
    url = f"ws://127.0.0.1:{proxy.port}/user/dora/ws"
    headers = {"Cookie": "courtyard=dora-cookie"}
    count = 200

    async def upgrade() -> websockets.ClientConnection | int:
        try:
            return await websockets.connect(url, additional_headers=headers, open_timeout=20)
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    try:
        with upstream_process("dora", sock, backlog=8) as upstream:
            upstream.send_signal(signal.SIGSTOP)  # busy: accepts nothing for a while
            upgrades = [asyncio.ensure_future(upgrade()) for _ in range(count)]
            await asyncio.sleep(0.3)
            upstream.send_signal(signal.SIGCONT)
            opened = await asyncio.gather(*upgrades)
            refused = [status for status in opened if isinstance(status, int)]
            held = [ws for ws in opened if not isinstance(ws, int)]
            try:
                assert refused == [], f"{len(refused)} of {count} upgrades refused: {set(refused)}"
                for n, ws in enumerate(held):
                    await ws.send(f"m{n}")
                assert [await ws.recv() for ws in held] == [f"dora:m{n}" for n in range(count)]
                assert gone == []  # a full backlog is a busy server, not a dead one
            finally:
                await asyncio.gather(*(ws.close() for ws in held))
    finally:
        await proxy.close()


async def test_a_backlog_that_stays_full_is_504_after_the_connect_timeout(stack: Stack) -> None:
    """The retry on a full backlog is bounded: a server that never accepts again (stopped)
    costs its callers the connect timeout and a 504, and is not reported gone."""
    sock = stack.tmp / "eve.sock"
    stack.routes.add(Route("eve", Endpoint(unix_path=str(sock)), "eve-secret"))
    stack.gate.sessions["eve-cookie"] = Principal("eve")

    async def one() -> int:
        client = await RawClient.open(stack.port)
        client.send(get("/user/eve/echo", "eve-cookie"))
        response = await client.response(timeout=10)
        await client.close()
        return response.status

    with upstream_process("eve", sock, backlog=1) as upstream:
        upstream.send_signal(signal.SIGSTOP)
        began = time.monotonic()
        statuses = await asyncio.gather(*(one() for _ in range(8)))
        took = time.monotonic() - began
    assert statuses == [504] * 8  # the few in the backlog time out waiting for a response
    assert TEST_LIMITS.upstream_connect_timeout <= took < 4
    assert stack.gone == []
