"""Bodies both ways, keep-alive, pipelining, HTTP/1.0, WebSocket."""

from __future__ import annotations

import hashlib
import os

import aiohttp
import pytest
import websockets

from tests.proxy.conftest import Stack
from tests.proxy.proxykit import RawClient, get

ALICE = {"Cookie": "courtyard=alice-cookie"}


async def test_post_with_fixed_length_body(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(
        b"POST /user/alice/echo HTTP/1.1\r\nHost: h\r\nCookie: courtyard=alice-cookie\r\n"
        b"Content-Length: 5\r\n\r\nhello"
    )
    response = await client.response()
    assert response.json()["body"] == "hello"
    assert response.sent_header("Content-Length") == ["5"]
    await client.close()


async def test_post_with_chunked_body(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(
        b"POST /user/alice/echo HTTP/1.1\r\nHost: h\r\nCookie: courtyard=alice-cookie\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )
    response = await client.response()
    assert response.json()["body"] == "abcdefg"
    await client.close()


@pytest.mark.parametrize("user", ["alice", "bob"])
async def test_one_mebibyte_streams_both_ways(stack: Stack, user: str) -> None:
    payload = os.urandom(1 << 20)

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    async with aiohttp.ClientSession(f"http://127.0.0.1:{stack.port}") as session:
        headers = {"Cookie": f"courtyard={user}-cookie"}
        async with session.post(f"/user/{user}/stream", data=chunks(), headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Transfer-Encoding"] == "chunked"
            body = await resp.read()
        assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()
        async with session.get("/user/alice/big?n=1048576", headers=ALICE) as resp:
            assert resp.headers["Content-Length"] == "1048576"
            assert len(await resp.read()) == 1 << 20


async def test_keep_alive_reuses_client_and_upstream_connections(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    seen = set()
    for _ in range(5):
        client.send(get("/user/alice/echo", "alice-cookie"))
        response = await client.response()
        assert response.keep_alive
        seen.add(response.json()["conn"])
    assert len(seen) == 1  # one pooled upstream connection served all five
    await client.close()


async def test_pipelined_requests_are_answered_in_order(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(
        get("/user/alice/echo?n=1", "alice-cookie")
        + get("/hub/two")
        + b"POST /user/bob/echo?n=3 HTTP/1.1\r\nHost: h\r\nCookie: courtyard=bob-cookie\r\n"
        b"Content-Length: 3\r\n\r\nabc" + get("/user/alice/echo?n=4", "alice-cookie")
    )
    responses = await client.responses(4)
    paths = [r.json()["path"] for r in responses]
    assert paths == [
        "/user/alice/echo?n=1",
        "/hub/two",
        "/user/bob/echo?n=3",
        "/user/alice/echo?n=4",
    ]
    assert responses[2].json()["body"] == "abc"
    await client.close()


async def test_http10_client_gets_a_close_delimited_unchunked_response(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(
        b"POST /user/alice/stream HTTP/1.0\r\nCookie: courtyard=alice-cookie\r\n"
        b"Content-Length: 4\r\n\r\nabcd"
    )
    raw = await client.reader.read(65536)
    while True:
        more = await client.reader.read(65536)
        if not more:
            break
        raw += more
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head.lower()
    assert body == b"abcd"
    await client.close()


async def test_http10_keep_alive_with_a_length(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    for _ in range(2):
        client.send(get("/user/alice/echo", "alice-cookie", "Connection: keep-alive\r\n", "1.0"))
        response = await client.response()
        assert response.status == 200
        assert response.header("Connection") == "keep-alive"
    await client.close()


async def test_head_request_has_no_body_and_keeps_the_connection(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(
        b"HEAD /user/alice/big?n=10 HTTP/1.1\r\nHost: h\r\nCookie: courtyard=alice-cookie\r\n\r\n"
    )
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += await client.reader.read(65536)
    assert raw.startswith(b"HTTP/1.1 200")
    assert raw.endswith(b"\r\n\r\n")
    assert b"Content-Length: 10" in raw
    client.send(get("/user/alice/echo", "alice-cookie"))
    assert (await client.response()).status == 200
    await client.close()


async def test_websocket_echo_through_the_proxy(stack: Stack) -> None:
    url = f"ws://127.0.0.1:{stack.port}/user/alice/ws"
    async with websockets.connect(url, additional_headers=ALICE) as ws:
        for i in range(20):
            await ws.send(f"m{i}")
            assert await ws.recv() == f"alice:m{i}"
        blob = os.urandom(300_000)
        await ws.send(blob)
        assert await ws.recv() == blob


async def test_websocket_upgrade_requires_identity(stack: Stack) -> None:
    url = f"ws://127.0.0.1:{stack.port}/user/alice/ws"
    for headers in [{}, {"Cookie": "courtyard=bob-cookie"}]:
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(url, additional_headers=headers):
                pass
        assert info.value.response.status_code != 101  # the hub answered instead
        assert b'"hub": true' in info.value.response.body


async def test_websocket_messages_touch_activity(stack: Stack) -> None:
    route = stack.routes.get("alice")
    assert route is not None
    url = f"ws://127.0.0.1:{stack.port}/user/alice/ws"
    async with websockets.connect(url, additional_headers=ALICE) as ws:
        route.last_traffic = 0.0
        await ws.send("hi")
        await ws.recv()
        assert route.last_traffic > 0.0  # activity needs a kernel message: test_activity_stamps
