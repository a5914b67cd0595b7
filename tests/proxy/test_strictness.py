"""Ambiguous framing is refused; slow and idle clients are cut off."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.proxy.conftest import TEST_LIMITS, Stack
from tests.proxy.proxykit import RawClient, get

HEAD = b"POST /user/alice/echo HTTP/1.1\r\nHost: h\r\nCookie: courtyard=alice-cookie\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        HEAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        HEAD + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        HEAD + b"Content-Length: 3, 3\r\n\r\nabc",
        HEAD + b"Content-Length: -3\r\n\r\nabc",
        HEAD + b"Content-Length: 3x\r\n\r\nabc",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        HEAD + b"X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        b"GET /user/alice/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /user/alice/echo HTTP/1.1\nHost: h\n\n",
        b"GET /user/alice/echo HTTP/9.9\r\nHost: h\r\n\r\n",
        b"BREW /pot\r\n\r\n",
    ],
    ids=[
        "cl-and-te",
        "te-and-cl",
        "duplicate-cl",
        "list-cl",
        "negative-cl",
        "junk-cl",
        "bad-chunk-size",
        "te-not-chunked",
        "duplicate-te",
        "obs-fold",
        "duplicate-host",
        "bare-lf",
        "bad-version",
        "bad-request-line",
    ],
)
async def test_bad_framing_gets_400_and_close(stack: Stack, request_bytes: bytes) -> None:
    client = await RawClient.open(stack.port)
    client.send(request_bytes)
    response = await client.response()
    assert response.status == 400
    assert response.header("Connection") == "close"
    assert await client.closed()


async def test_oversized_head_gets_431(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/hub/", extra="X-Big: " + "a" * TEST_LIMITS.max_head_bytes + "\r\n"))
    assert (await client.response()).status == 431
    assert await client.closed()


async def test_endless_header_line_gets_431_without_buffering_it(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(b"GET / HTTP/1.1\r\nX-Big: ")
    for _ in range(4):
        client.send(b"a" * TEST_LIMITS.max_head_bytes)
    assert (await client.response()).status == 431


async def test_oversized_request_line_gets_414(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/hub/" + "a" * TEST_LIMITS.max_request_line))
    assert (await client.response()).status == 414


async def test_json_error_when_asked(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/user/alice/../bob/", extra="Accept: application/json\r\n"))
    response = await client.response()
    assert response.status == 400
    assert response.json()["status"] == 400


async def test_slowloris_is_cut_off(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    client.send(b"GET /hub/ HTTP/1.1\r\nHost: h\r\n")
    for _ in range(50):
        await asyncio.sleep(0.05)
        try:
            client.send(b"X-A: b\r\n")
            await client.writer.drain()
        except (ConnectionError, RuntimeError):  # uvloop: writing to a closed transport
            break
    assert await client.closed(timeout=3)
    assert loop.time() - started < TEST_LIMITS.header_timeout + 1.0


async def test_silent_connection_is_cut_off(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    assert await client.closed(timeout=TEST_LIMITS.header_timeout + 1.0)


async def test_idle_keep_alive_connection_is_closed(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/hub/"))
    assert (await client.response()).status == 200
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await client.closed(timeout=3)
    assert loop.time() - started >= TEST_LIMITS.keepalive_timeout - 0.1


async def test_connect_method_is_refused(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert (await client.response()).status == 405


async def test_a_header_line_over_the_line_limit_gets_431(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    client.send(get("/hub/", extra="Cookie: a=" + "b" * TEST_LIMITS.max_header_line + "\r\n"))
    response = await client.response()
    assert response.status == 431
    assert b"bbbb" not in response.body
    assert await client.closed()


async def test_a_header_line_under_the_limit_passes(stack: Stack) -> None:
    client = await RawClient.open(stack.port)
    half = "b" * (TEST_LIMITS.max_header_line // 2)
    client.send(get("/hub/", extra="Cookie: a=" + half + "\r\n"))
    assert (await client.response()).status == 200


def read_all_after_sending(port: int, data: bytes) -> bytes:
    """A plain blocking client: one write of ``data``, then read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):  # ConnectionResetError here is the bug
            received += chunk
        return received


async def test_a_huge_head_in_one_write_reads_its_431_not_a_reset(stack: Stack) -> None:
    big = get("/hub/", extra="X-Big: " + "a" * 200_000 + "\r\n")
    received = await asyncio.to_thread(read_all_after_sending, stack.port, big)
    assert received.startswith(b"HTTP/1.1 431 ")
    assert b"aaaa" not in received
