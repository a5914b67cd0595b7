"""The route table: which server answers under /user/<name>/ (the default server) and
/user/<name>/<server>/ (a named one).

Lookups are one dict access, whatever the number of routes; no I/O happens here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from courtyard.spawners.base import Endpoint
from courtyard.store.records import server_key


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
    server: str = ""  # "" for the user's default server

    @property
    def key(self) -> str:
        """``alice`` or ``alice/torch``: the route's name in the table and on the wire."""
        return server_key(self.user, self.server)

    def touch(self, now: float | None = None, kind: str = "activity") -> None:
        """Record a person's activity (``kind``: a short label for logs)."""
        self.last_activity = time.time() if now is None else now
        self.activity_kind = kind


class RouteWatcher(Protocol):
    """Told of every change to a RouteTable (the proxy workers' feed, proxy/fleet.py)."""

    def route_added(self, route: Route) -> None: ...

    def route_removed(self, key: str) -> None: ...


class RouteTable:
    """Routes by server key (records.server_key). The hub adds and removes; the proxy looks
    up and touches."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self.watchers: list[RouteWatcher] = []

    def add(self, route: Route) -> None:
        self._routes[route.key] = route
        for watcher in self.watchers:
            watcher.route_added(route)

    def remove(self, user: str, server: str = "") -> Route | None:
        return self.remove_key(server_key(user, server))

    def remove_key(self, key: str) -> Route | None:
        route = self._routes.pop(key, None)
        if route is not None:
            for watcher in self.watchers:
                watcher.route_removed(key)
        return route

    def get(self, user: str, server: str = "") -> Route | None:
        return self._routes.get(server_key(user, server))

    def get_key(self, key: str) -> Route | None:
        return self._routes.get(key)

    def lookup(self, user: str, segment: str | None) -> Route | None:
        """The route a ``/user/<user>/<segment>/...`` path goes to: the named server
        ``segment`` when it runs, else the default server (JupyterHub's longest prefix)."""
        if segment:
            named = self._routes.get(f"{user}/{segment}")
            if named is not None:
                return named
        return self._routes.get(user)

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(list(self._routes.values()))
