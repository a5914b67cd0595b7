"""One header limit for the whole port of the real hub: 16 KiB a line, 64 KiB a head.

Hub pages (the aiohttp control plane behind the proxy) and ``/user/`` paths accept and refuse
the same heads; a refusal is the hub's own 431 page, never the client's bytes echoed back, and
it reaches the client even when the head came in one large write (lingering close).
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import pytest

from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root


def exchange(url: str, data: bytes) -> bytes:
    """One raw request in one write; everything read until the hub closes (or 10 s)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):  # a ConnectionResetError would be the bug
            received += chunk
            if b"\r\n\r\n" in received and b"Connection: close" not in received:
                break
        return received


def head(path: str, line: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{line}\r\nConnection: close\r\n\r\n".encode()


@pytest.mark.parametrize("path", ["/hub/login", "/user/cyalice/lab"])
async def test_a_15_kib_cookie_line_passes_on_hub_pages_and_user_paths(
    shared_hub: HubProcess, path: str
) -> None:
    request = head(path, "Cookie: jupyterlab-state=" + "c" * 15_000)
    answer = await asyncio.to_thread(exchange, shared_hub.url, request)
    status = int(answer.split(b" ", 2)[1])
    assert status in (200, 302), answer[:300]


@pytest.mark.parametrize("path", ["/hub/login", "/user/cyalice/lab"])
async def test_a_17_kib_header_line_gets_the_hubs_431_without_echo(
    shared_hub: HubProcess, path: str
) -> None:
    request = head(path, "X-Long: " + "q" * 17_000)
    answer = await asyncio.to_thread(exchange, shared_hub.url, request)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:300]
    assert b"16 KiB per header line" in answer
    assert b"qqqq" not in answer


async def test_many_cookie_lines_up_to_64_kib_pass_and_more_get_431(
    shared_hub: HubProcess,
) -> None:
    lines = "\r\n".join(f"Cookie: c{i}=" + "v" * 10_000 for i in range(5))
    answer = await asyncio.to_thread(exchange, shared_hub.url, head("/hub/login", lines))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    lines = "\r\n".join(f"Cookie: c{i}=" + "v" * 10_000 for i in range(8))
    answer = await asyncio.to_thread(exchange, shared_hub.url, head("/hub/login", lines))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:300]


async def test_a_200_kb_head_in_one_write_reads_its_431(shared_hub: HubProcess) -> None:
    request = head("/hub/login", "X-Big: " + "z" * 200_000)
    answer = await asyncio.to_thread(exchange, shared_hub.url, request)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:300]
    assert b"zzzz" not in answer
