"""The link between the hub and its proxy workers: one JSON object per line, over a socketpair
made for each worker (nothing on the filesystem, nothing another process can connect to).

hub -> worker
    ``init``     settings, the session key, cookie name, control socket, service token hashes
    ``route``    a server's route (added or replaced); the table's snapshot is sent this way too
    ``unroute``  a server's route is gone (by its key: ``alice`` or ``alice/torch``)
    ``flush``    logins, tokens or roles changed: drop cached identities (and the service tokens)
worker -> hub
    ``ready``    listening; ``accepted`` connections so far
    ``activity`` per server key, the newest (last_activity, kind, last_traffic) since the last
                 report, plus the worker's connection counts
    ``gone``     a server (by key) refused or vanished (the hub checks on it)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from courtyard.proxy.routes import Route
from courtyard.spawners.base import Endpoint

LINE_LIMIT = 64 * 1024 * 1024  # a full activity report of 10,000 users is ~1 MB
Message = dict[str, Any]


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Message:
    message = json.loads(line)
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ValueError(f"not a link message: {line[:80]!r}")
    return message


def route_message(route: Route) -> Message:
    return {
        "op": "route",
        "user": route.user,
        "server": route.server,
        "endpoint": route.endpoint.to_dict(),
        "secret": route.secret,
        "last_activity": route.last_activity,
        "activity_kind": route.activity_kind,
        "last_traffic": route.last_traffic,
    }


def route_from_message(message: Message) -> Route:
    return Route(
        user=message["user"],
        endpoint=Endpoint.from_dict(message["endpoint"]),
        secret=message["secret"],
        last_activity=message["last_activity"],
        activity_kind=message["activity_kind"],
        last_traffic=message["last_traffic"],
        server=message.get("server", ""),
    )


Stamp = tuple[float, str, float]  # last_activity, activity_kind, last_traffic


def merge_stamp(route: Route, stamp: Stamp) -> None:
    """Fold a worker's report into the hub's route: times only move forward."""
    last_activity, kind, last_traffic = stamp
    if last_activity > route.last_activity:
        route.last_activity = last_activity
        route.activity_kind = kind
    if last_traffic > route.last_traffic:
        route.last_traffic = last_traffic


class StampLedger:
    """What a worker last reported per server (by route key), so each report carries only
    what moved."""

    def __init__(self) -> None:
        self.sent: dict[str, tuple[float, float]] = {}

    def seen(self, route: Route) -> None:
        self.sent[route.key] = (route.last_activity, route.last_traffic)

    def forget(self, key: str) -> None:
        self.sent.pop(key, None)

    def changes(self, routes: Iterable[Route]) -> dict[str, Stamp]:
        out: dict[str, Stamp] = {}
        for route in routes:
            now = (route.last_activity, route.last_traffic)
            if self.sent.get(route.key) != now:
                self.sent[route.key] = now
                out[route.key] = (route.last_activity, route.activity_kind, route.last_traffic)
        return out
