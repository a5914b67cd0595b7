"""Accepting connections many at a time, on any event loop.

libuv, under uvloop, accepts one connection per turn of the event loop (since libuv 1.45,
"unix: don't accept() connections in a loop"). A hub whose loop is busy serving (1,000 API
clients: one turn took ~150 ms) then accepted ~6 connections a second, and new clients waited
in the kernel's accept queue for a minute: `bench/load.py --people 40` saw 283-365 API client
timeouts, and 500 new connections to the control plane with 300 busy ones took 30-78 s to be
answered, 0.45 s on CPython's own loop, which accepts up to its backlog per turn. This does
what CPython's loop does, on uvloop too: when the listening socket is readable, accept until
it would block (at most ACCEPT_BATCH), and give each connection to ``take`` (``serving``: a
protocol on it, as create_server does; the HTTPS port sorts TLS from plain HTTP first).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

log = logging.getLogger("courtyard.proxy")
ACCEPT_BATCH = 256  # connections accepted per readiness of the listening socket
PAUSE_ON_ERROR = 0.1  # seconds without accepting after EMFILE and the like


Take = Callable[[socket.socket], Awaitable[object]]


def serving(factory: Callable[[], asyncio.Protocol]) -> Take:
    """What create_server does with a connection: ``factory``'s protocol on it."""

    def take(conn: socket.socket) -> Awaitable[object]:
        return asyncio.get_running_loop().connect_accepted_socket(factory, conn)

    return take


class Acceptor:
    """Accepts on the listening socket ``sock`` and runs ``take(connection)`` for each, as a
    task; ``close()`` stops accepting, closes the socket and cancels what is still running.
    ``sockets`` as asyncio.Server has it."""

    def __init__(self, sock: socket.socket, take: Take) -> None:
        self._sock = sock
        self._take = take
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[object]] = set()
        self._nodelay = sock.family in (socket.AF_INET, socket.AF_INET6)
        self._closed = False
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._accept_ready)

    @property
    def sockets(self) -> list[socket.socket]:
        return [self._sock]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for task in list(self._tasks):
            task.cancel()

    def _accept_ready(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as e:  # EMFILE, ENFILE, ENOBUFS: pause, keep serving the rest
                log.warning("accepting connections failed (%s); trying again shortly", e)
                self._loop.remove_reader(self._sock.fileno())
                self._loop.call_later(PAUSE_ON_ERROR, self._resume)
                return
            conn.setblocking(False)
            if self._nodelay:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self._loop.create_task(self._run(conn))
            self._tasks.add(task)
            task.add_done_callback(self._connected)

    async def _run(self, conn: socket.socket) -> object:
        return await self._take(conn)

    def _connected(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("an accepted connection could not be set up: %s", task.exception())

    def _resume(self) -> None:
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._accept_ready)
