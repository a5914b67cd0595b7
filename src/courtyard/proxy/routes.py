"""The route table: which user's server answers under /user/<name>/.

Lookups are one dict access, whatever the number of routes; no I/O happens here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from courtyard.spawners.base import Endpoint


@dataclass(eq=False)
class Route:
    """A running server reachable through the proxy.

    ``last_activity`` is the last thing a *person* did (proxy/activity.py decides what counts:
    not an open tab's polling), with ``activity_kind`` saying what it was; the culler, the
    store and the pages all use it. ``last_traffic`` is any byte either way, for diagnostics.
    """

    user: str
    endpoint: Endpoint
    secret: str
    last_activity: float = field(default_factory=time.time)
    activity_kind: str = "start"
    last_traffic: float = field(default_factory=time.time)

    def touch(self, now: float | None = None, kind: str = "activity") -> None:
        """Record a person's activity (``kind``: a short label for logs)."""
        self.last_activity = time.time() if now is None else now
        self.activity_kind = kind


class RouteWatcher(Protocol):
    """Told of every change to a RouteTable (the proxy workers' feed, proxy/fleet.py)."""

    def route_added(self, route: Route) -> None: ...

    def route_removed(self, user: str) -> None: ...


class RouteTable:
    """Routes by user name. The hub adds and removes; the proxy looks up and touches."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self.watchers: list[RouteWatcher] = []

    def add(self, route: Route) -> None:
        self._routes[route.user] = route
        for watcher in self.watchers:
            watcher.route_added(route)

    def remove(self, user: str) -> Route | None:
        route = self._routes.pop(user, None)
        if route is not None:
            for watcher in self.watchers:
                watcher.route_removed(user)
        return route

    def get(self, user: str) -> Route | None:
        return self._routes.get(user)

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(list(self._routes.values()))
