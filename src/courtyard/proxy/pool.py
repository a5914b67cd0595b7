"""Idle keep-alive upstream connections, per Endpoint, and opening new ones.

LIFO reuse keeps the most recently used connection hot. Idle connections close after
``upstream_idle_timeout`` (and as soon as the upstream closes them).
"""

from __future__ import annotations

import asyncio
import random

from courtyard.proxy.limits import ProxyLimits
from courtyard.proxy.upstream import UpstreamConnection
from courtyard.spawners.base import Endpoint

BACKLOG_RETRY_FIRST = 0.002  # seconds before connecting again to a unix socket whose backlog
BACKLOG_RETRY_MAX = 0.05  # is full; doubling up to this, until the connect timeout


class UpstreamPool:
    def __init__(self, loop: asyncio.AbstractEventLoop, limits: ProxyLimits) -> None:
        self._loop = loop
        self._limits = limits
        self._idle: dict[Endpoint, list[UpstreamConnection]] = {}

    def take(self, endpoint: Endpoint) -> UpstreamConnection | None:
        idle = self._idle.get(endpoint)
        while idle:
            conn = idle.pop()
            if not idle:
                del self._idle[endpoint]
            transport = conn.transport
            if transport is not None and not transport.is_closing():
                conn.deadline.disarm()
                return conn
            idle = self._idle.get(endpoint)
        return None

    def put(self, conn: UpstreamConnection) -> None:
        transport = conn.transport
        if transport is None or transport.is_closing():
            conn.close()
            return
        idle = self._idle.get(conn.endpoint)
        if idle is None:
            idle = self._idle[conn.endpoint] = []
        elif len(idle) >= self._limits.pool_size:
            conn.close()
            return
        conn.reused = True
        idle.append(conn)
        conn.deadline.arm(self._limits.upstream_idle_timeout)

    def discard(self, conn: UpstreamConnection) -> None:
        idle = self._idle.get(conn.endpoint)
        if idle and conn in idle:
            idle.remove(conn)
            if not idle:
                del self._idle[conn.endpoint]

    async def connect(self, endpoint: Endpoint) -> UpstreamConnection:
        """A fresh connection; raises OSError (refused, socket missing) or TimeoutError.

        A unix socket whose listen backlog is full refuses a connect at once with EAGAIN
        (BlockingIOError) where TCP would queue it: that is a busy server, not a gone one, so
        the connect is tried again (BACKLOG_RETRY_*: doubling, jittered so that a crowd of
        waiters does not retry in step) until the connect timeout, then TimeoutError (504)."""
        loop = self._loop

        def factory() -> UpstreamConnection:
            return UpstreamConnection(self, endpoint, loop)

        timeout = self._limits.upstream_connect_timeout
        if endpoint.unix_path is None:
            opening = loop.create_connection(factory, str(endpoint.host), int(endpoint.port or 0))
            _, conn = await asyncio.wait_for(opening, timeout)
            return conn
        deadline = loop.time() + timeout
        pause = BACKLOG_RETRY_FIRST
        while True:
            try:
                opening = loop.create_unix_connection(factory, endpoint.unix_path)
                _, conn = await asyncio.wait_for(opening, max(0.0, deadline - loop.time()))
                return conn
            except BlockingIOError:
                left = deadline - loop.time()
                if left <= 0:
                    raise asyncio.TimeoutError from None
                await asyncio.sleep(min(pause * (0.5 + random.random()), left))  # noqa: S311 (jitter)
                pause = min(pause * 2, BACKLOG_RETRY_MAX)

    def close_idle(self) -> None:
        for idle in list(self._idle.values()):
            for conn in list(idle):
                conn.close()
        self._idle.clear()
