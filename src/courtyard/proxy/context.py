"""What every connection of one ProxyServer shares (passed in, never global)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from courtyard.auth.principal import Gate
from courtyard.proxy.activity import request_activity
from courtyard.proxy.limits import ProxyLimits
from courtyard.proxy.routes import RouteTable
from courtyard.spawners.base import Endpoint

if TYPE_CHECKING:
    from courtyard.proxy.client import ClientConnection
    from courtyard.proxy.pool import UpstreamPool

ADMIN_LOG_INTERVAL = 60.0
WARN_INTERVAL = 10.0  # one line per upstream and problem this often; repeats are counted
ACTIVITY_MEMO = 4096  # (method, target) pairs; a pure function, so any answer may be reused


@dataclass(eq=False)
class ProxyContext:
    routes: RouteTable
    gate: Gate
    hub: Endpoint
    limits: ProxyLimits
    log: logging.Logger
    loop: asyncio.AbstractEventLoop
    pool: UpstreamPool
    on_upstream_gone: Callable[[str], None] | None = None
    services: Mapping[str, Endpoint] = field(default_factory=dict)  # /services/<name>/ -> url
    scheme: bytes = b"http"
    closing: bool = False
    accepted: int = 0  # connections since start (a worker reports it: is the load spread?)
    connections: set[ClientConnection] = field(default_factory=set)
    _admin_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _warned: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    _activity: dict[tuple[bytes, bytes], str | None] = field(default_factory=dict)

    def request_activity(self, method: bytes, target: bytes) -> str | None:
        """activity.request_activity, remembered for the last few thousand targets."""
        key = (method, target)
        try:
            return self._activity[key]
        except KeyError:
            pass
        if len(self._activity) >= ACTIVITY_MEMO:
            self._activity.clear()
        kind = self._activity[key] = request_activity(method, target)
        return kind

    def note_admin_access(self, admin: str, owner: str) -> None:
        """Log an admin opening someone else's server, at most once a minute per pair."""
        now = time.monotonic()
        key = (admin, owner)
        if now - self._admin_seen.get(key, -ADMIN_LOG_INTERVAL) >= ADMIN_LOG_INTERVAL:
            if len(self._admin_seen) > 10_000:
                self._admin_seen.clear()
            self._admin_seen[key] = now
            self.log.info("admin %s opened %s's server", admin, owner)

    def warn_upstream(self, where: str, why: str) -> None:
        """Log an upstream fault, at most once per ``WARN_INTERVAL`` for the same upstream and
        problem: a server that went away refuses every request until the hub drops its route,
        and a busy user must not fill the log meanwhile."""
        now = time.monotonic()
        key = (where, why)
        last, skipped = self._warned.get(key, (-WARN_INTERVAL, 0))
        if now - last < WARN_INTERVAL:
            self._warned[key] = (last, skipped + 1)
            return
        if len(self._warned) > 10_000:
            self._warned.clear()
        self._warned[key] = (now, 0)
        more = f" (and {skipped} times more since it was last logged)" if skipped else ""
        self.log.warning("upstream %s: %s%s", where, why, more)

    def upstream_gone(self, key: str) -> None:
        """A server (by route key) refused or vanished."""
        if self.on_upstream_gone is None:
            return
        try:
            self.on_upstream_gone(key)
        except Exception:
            self.log.exception("on_upstream_gone(%r) failed", key)
