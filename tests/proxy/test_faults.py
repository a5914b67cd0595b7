"""Upstream faults: refused, vanished, dying, silent, stale pooled connections."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from courtyard.proxy import Route
from courtyard.spawners.base import Endpoint
from tests.proxy.conftest import Stack, free_tcp_port, wait_for
from tests.proxy.proxykit import RawClient, get


class RawUpstream:
    """An asyncio server on a unix socket whose behaviour per request a test chooses."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None

    async def start(self, path: Path) -> Endpoint:
        self.server = await asyncio.start_unix_server(self._serve, str(path))
        return Endpoint(unix_path=str(path))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head.split(b"\r\n", 1)[0])
                if b"Content-Length: " in head:
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    await reader.readexactly(length)
                if not await self._answer(writer, served):
                    break
                served += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, served: int) -> bool:
        if self.behaviour == "die-mid-response":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            await writer.drain()
            return False
        if self.behaviour == "die-before-response":
            return False
        if self.behaviour == "big-then-junk":  # the body spans many reads; bytes follow it
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG)
            writer.write(b"x" * BIG + b"HTTP/1.1 200 OK\r\n")
            await writer.drain()
            return True
        if self.behaviour == "stale-after-first" and served >= 1:
            return False  # as if the idle timeout closed it just as the request came in
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        return True

    def close(self) -> None:
        assert self.server is not None
        self.server.close()


BIG = 1 << 20


async def status_of(stack: Stack, request: bytes) -> tuple[int, bytes]:
    client = await RawClient.open(stack.port)
    client.send(request)
    response = await client.response()
    await client.close()
    return response.status, response.body


async def test_refused_tcp_upstream_is_502_and_reported(stack: Stack) -> None:
    stack.routes.add(Route("alice", Endpoint(host="127.0.0.1", port=free_tcp_port()), "s"))
    status, body = await status_of(stack, get("/user/alice/echo", "alice-cookie"))
    assert status == 502
    assert b"<h1>502 Bad Gateway</h1>" in body
    assert stack.gone == ["alice"]


async def test_vanished_socket_is_502_and_reported(stack: Stack) -> None:
    stack.routes.add(Route("alice", Endpoint(unix_path=str(stack.tmp / "gone.sock")), "s"))
    status, _ = await status_of(
        stack, get("/user/alice/echo", "alice-cookie", "Accept: application/json\r\n")
    )
    assert status == 502
    assert stack.gone == ["alice"]


async def test_a_refusing_upstream_is_logged_once_not_per_request(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Until the hub drops the route, every request to a vanished server fails: the log gets
    one line for it, not one per request."""
    stack.routes.add(Route("alice", Endpoint(unix_path=str(stack.tmp / "gone.sock")), "s"))
    with caplog.at_level(logging.WARNING, logger="courtyard.proxy.test"):
        for _ in range(30):
            status, _ = await status_of(stack, get("/user/alice/echo", "alice-cookie"))
            assert status == 502
    lines = [r.getMessage() for r in caplog.records if "gone.sock" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "cannot connect" in lines[0]
    assert stack.gone == ["alice"] * 30  # the hub is still told every time


async def test_dead_hub_is_502_without_a_user_report(stack: Stack) -> None:
    for runner in stack.runners[:1]:  # the hub is the first runner
        await runner.cleanup()
    status, _ = await status_of(stack, get("/hub/home"))
    assert status == 502
    assert stack.gone == []


async def test_death_before_response_is_502(stack: Stack) -> None:
    upstream = RawUpstream("die-before-response")
    stack.routes.add(Route("alice", await upstream.start(stack.tmp / "d.sock"), "s"))
    status, _ = await status_of(stack, get("/user/alice/echo", "alice-cookie"))
    assert status == 502
    upstream.close()


async def test_death_mid_response_closes_the_client_connection(stack: Stack) -> None:
    upstream = RawUpstream("die-mid-response")
    stack.routes.add(Route("alice", await upstream.start(stack.tmp / "m.sock"), "s"))
    client = await RawClient.open(stack.port)
    client.send(get("/user/alice/echo", "alice-cookie"))
    raw = b""
    async with asyncio.timeout(5):
        while chunk := await client.reader.read(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Length: 100" in head
    assert body == b"partial"  # the body was cut short and the connection closed
    upstream.close()


async def test_bytes_after_a_long_body_end_that_upstream_connection(stack: Stack) -> None:
    upstream = RawUpstream("big-then-junk")
    stack.routes.add(Route("alice", await upstream.start(stack.tmp / "j.sock"), "s"))
    client = await RawClient.open(stack.port)
    for _ in range(2):
        client.send(get("/user/alice/x", "alice-cookie"))
        response = await client.response()
        assert (response.status, response.body) == (200, b"x" * BIG)
    await wait_for(lambda: upstream.connections == 2)  # the first one was not pooled
    await client.close()
    upstream.close()


async def test_silent_upstream_is_504(stack: Stack) -> None:
    status, body = await status_of(stack, get("/user/alice/slow", "alice-cookie"))
    assert status == 504
    assert b"Gateway Timeout" in body


async def test_stale_pooled_connection_is_retried_for_get(stack: Stack) -> None:
    upstream = RawUpstream("stale-after-first")
    stack.routes.add(Route("alice", await upstream.start(stack.tmp / "s.sock"), "s"))
    client = await RawClient.open(stack.port)
    for _ in range(3):
        client.send(get("/user/alice/x", "alice-cookie"))
        response = await client.response()
        assert (response.status, response.body) == (200, b"ok")
    assert len(upstream.requests) == 5  # two of them were sent on a stale connection
    await client.close()
    upstream.close()


async def test_stale_pooled_connection_is_not_retried_for_post(stack: Stack) -> None:
    upstream = RawUpstream("stale-after-first")
    stack.routes.add(Route("alice", await upstream.start(stack.tmp / "p.sock"), "s"))
    client = await RawClient.open(stack.port)
    client.send(get("/user/alice/x", "alice-cookie"))
    assert (await client.response()).status == 200
    client.send(
        b"POST /user/alice/x HTTP/1.1\r\nHost: h\r\nCookie: courtyard=alice-cookie\r\n"
        b"Content-Length: 2\r\n\r\nhi"
    )
    assert (await client.response()).status == 502
    await wait_for(lambda: len(upstream.requests) == 2)
    assert [r.split(b" ")[0] for r in upstream.requests] == [b"GET", b"POST"]
    assert stack.gone == []
    await client.close()
    upstream.close()
