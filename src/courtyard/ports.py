"""Binding the public port, and naming whoever holds it when that fails."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Awaitable
from pathlib import Path

from courtyard.errors import PortInUseError


async def bind_or_explain(binding: Awaitable[None], port: int) -> None:
    try:
        await binding
    except OSError as e:
        raise explained(e, port) from None


def explained(error: OSError, port: int) -> Exception:
    """A PortInUseError naming the holder for EADDRINUSE, else ``error`` itself."""
    if error.errno != errno.EADDRINUSE:
        return error
    return PortInUseError(port_in_use_message(port))


def shared_listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one port with SO_REUSEPORT, one per serving process.

    SO_REUSEPORT would let these join sockets that another process of the same user already
    listens on (a second hub, say), and the kernel would split connections between the two.
    So the port is first bound once without it, which fails when anything listens there.
    """
    try:
        with socket.create_server((host, port), family=family_of(host)) as probe:
            port = probe.getsockname()[1]
    except OSError as e:
        raise explained(e, port) from None
    listeners: list[socket.socket] = []
    try:
        for _ in range(count):
            listeners.append(reuse_port_listener(host, port))
    except OSError as e:
        for sock in listeners:
            sock.close()
        raise explained(e, port) from None
    return listeners


def reuse_port_listener(host: str, port: int) -> socket.socket:
    """One more socket in the port's SO_REUSEPORT group (a restarted worker takes one too)."""
    return socket.create_server((host, port), family=family_of(host), backlog=1024, reuse_port=True)


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_in_use_message(port: int) -> str:
    holder = find_listener(port)
    who = f" by pid {holder[0]} ({holder[1]})" if holder else ""
    return f"port {port} is in use{who}. Stop it, or start with --port {port + 10}."


def find_listener(port: int) -> tuple[int, str] | None:
    """(pid, command) of the process listening on TCP ``port``, if /proc lets us see it."""
    inodes = listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name), (proc / "comm").read_text().strip()
        except OSError:
            continue
    return None


def listening_inodes(port: int) -> set[str]:
    return {inode for inode, local in listening_sockets().items() if local == port}


def listening_sockets() -> dict[str, int]:
    """inode -> local port of every listening TCP socket on this machine (IPv4 and IPv6)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A":  # LISTEN
                found[inode] = int(local.rsplit(":", 1)[1], 16)
    return found
