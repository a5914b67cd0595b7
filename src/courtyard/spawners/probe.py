"""Ask a server on a unix socket for one status code: the readiness check of a spawn."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping


async def probe_status(
    sock_path: str, path: str, headers: Mapping[str, str], timeout: float = 5.0
) -> int | None:
    """The HTTP status of ``GET path`` on the socket; None while nothing answers there."""
    try:
        return await asyncio.wait_for(_get_status(sock_path, path, headers), timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
        return None


async def _get_status(sock_path: str, path: str, headers: Mapping[str, str]) -> int:
    reader, writer = await asyncio.open_unix_connection(sock_path)
    try:
        lines = [f"GET {path} HTTP/1.1", "Host: localhost", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
        return parse_status_line(status_line)
    finally:
        writer.close()


def parse_status_line(line: bytes) -> int:
    """``HTTP/1.1 200 OK`` -> 200; ValueError for anything else."""
    version, _, rest = line.decode("latin-1").partition(" ")
    if not version.startswith("HTTP/"):
        raise ValueError(f"not an HTTP status line: {line[:40]!r}")
    return int(rest[:3])
