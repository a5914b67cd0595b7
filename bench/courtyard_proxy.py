"""Courtyard's data plane alone, as the benchmark runs it: one process, uvloop.

The route table holds one route, ``alice`` -> the upstream on 127.0.0.1. The gate accepts one
fixed session cookie the way the real cached SessionGate does on a cache hit: split the Cookie
header, then a dict lookup. Everything that is not alice's (or lacks the cookie) goes to the
"hub" endpoint, ``--hub-port`` on 127.0.0.1, where nothing listens: a request
the gate refused shows up as a 502, never as a silent success.

Run: ``python bench/courtyard_proxy.py --upstream-port P --hub-port H --session S``
(``--port 0``, ``--reuse-port`` optional); prints ``READY <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import uvloop

from courtyard.auth.principal import Principal
from courtyard.proxy.limits import ProxyLimits
from courtyard.proxy.routes import Route, RouteTable
from courtyard.proxy.server import ProxyServer
from courtyard.spawners.base import Endpoint

BENCH_USER = "alice"
ROUTE_SECRET = "bench-route-secret"
COOKIE_NAME = "courtyard-session"


def cookie_value(header: str, name: str) -> str | None:
    """The same parse as courtyard.auth.sessions.cookie_value (kept here so the bench does not
    depend on where the auth room keeps it)."""
    for part in header.split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key == name:
            return value.strip('"')
    return None


class FixedSessionGate:
    """A Gate that knows one session: ``courtyard-session=<value>`` -> alice."""

    def __init__(self, session: str, user: str = BENCH_USER) -> None:
        self.sessions = {session: Principal(name=user, session_id="bench")}

    def identify(self, cookie: str | None, authorization: str | None) -> Principal | None:
        if not cookie:
            return None
        value = cookie_value(cookie, COOKIE_NAME)
        return None if value is None else self.sessions.get(value)


async def run(args: argparse.Namespace) -> None:
    upstream = Endpoint(host="127.0.0.1", port=args.upstream_port)
    routes = RouteTable()
    routes.add(Route(user=BENCH_USER, endpoint=upstream, secret=ROUTE_SECRET))
    hub = Endpoint(host="127.0.0.1", port=args.hub_port)
    limits = ProxyLimits() if args.pool_size is None else ProxyLimits(pool_size=args.pool_size)
    proxy = ProxyServer(routes, FixedSessionGate(args.session), hub, limits=limits)
    await proxy.start("127.0.0.1", args.port, reuse_port=args.reuse_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(f"READY {proxy.port}\n")
    sys.stdout.flush()
    await stop.wait()
    await proxy.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--hub-port", type=int, required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--pool-size", type=int, help="ProxyLimits.pool_size (default: its own)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
