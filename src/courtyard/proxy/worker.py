"""A proxy worker: one more process serving the hub's port (``workers = N``, SO_REUSEPORT).

The hub starts it as ``python -m courtyard.proxy.worker --control-fd C --listen-fd L`` with a
listening socket of its own (the kernel spreads connections over the hub and its workers) and
one end of a socketpair (proxy/wire.py). Everything else comes over that link: the settings,
the session key, the route table and its changes. The worker checks identities itself, from
the same store (sessions and tokens are rows there), with the same short caches, dropped at
once when the hub says logins or tokens changed. It forwards ``/hub/...`` to the hub's
control socket like the hub's own proxy, and reports activity back once a second, so the
culler sees what a person did whichever process served them.

It exits when the hub closes the link (the hub stopped or died) or on SIGTERM, after letting
in-flight requests finish (bounded, as the hub's own proxy does).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence

from courtyard.auth.sessions import SessionGate, SessionManager
from courtyard.auth.tokens import TokenManager, token_manager
from courtyard.config.load import settings_from_data
from courtyard.proxy import wire
from courtyard.proxy.routes import RouteTable
from courtyard.proxy.server import ProxyServer, service_endpoints
from courtyard.spawners.base import Endpoint
from courtyard.store.store import Store
from courtyard.store.tokenstore import GroupStore
from courtyard.tls import server_context

REPORT_EVERY = 1.0  # seconds between activity reports
log = logging.getLogger("courtyard.worker")


class HubLink:
    """The worker's end of the link: applies what the hub says, reports what it saw."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        routes: RouteTable,
        sessions: SessionManager,
        gate: SessionGate,
        tokens: TokenManager,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.routes = routes
        self.sessions = sessions
        self.gate = gate
        self.tokens = tokens
        self.ledger = wire.StampLedger()
        self.proxy: ProxyServer | None = None

    def send(self, message: wire.Message) -> None:
        if not self.writer.is_closing():
            self.writer.write(wire.encode(message))

    def gone(self, key: str) -> None:
        self.send({"op": "gone", "key": key})

    def apply(self, message: wire.Message) -> None:
        op = message["op"]
        if op == "route":
            route = wire.route_from_message(message)
            self.routes.add(route)
            self.ledger.seen(route)
        elif op == "unroute":
            self.routes.remove_key(message["key"])
            self.ledger.forget(message["key"])
        elif op == "flush":
            self.flush(message["services"])
        else:
            log.warning("unknown message from the hub: %r", op)

    def flush(self, services: dict[str, str]) -> None:
        self.sessions.cache.clear()
        self.gate.principals.clear()
        self.tokens.cache.clear()
        self.tokens.services = dict(services)
        if self.proxy is not None:  # what the hub revoked closes open WebSockets here too
            self.proxy.recheck_pipes()

    async def follow(self) -> None:
        """Apply the hub's messages until it closes the link."""
        while line := await self.reader.readline():
            self.apply(wire.decode(line))

    def report(self) -> None:
        changes = self.ledger.changes(self.routes)
        stats = self.proxy.stats() if self.proxy is not None else {}
        self.send({"op": "activity", "stamps": changes, **stats})

    async def report_forever(self) -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY)
            self.report()
            await self.writer.drain()


async def serve(control: socket.socket, listener: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_unix_connection(sock=control, limit=wire.LINE_LIMIT)
    first = await reader.readline()
    if not first:
        return  # the hub went away before saying anything
    init = wire.decode(first)
    settings = settings_from_data(init["settings"])
    logging.getLogger().setLevel(settings.log_level.upper())
    store = Store.attach(settings.resolved_database_url())
    try:
        sessions = SessionManager(store, bytes.fromhex(init["secret"]), settings.session_max_age)
        tokens = token_manager(settings, store, GroupStore(store))
        gate = SessionGate(sessions, store, settings, cookie_name=init["cookie"], tokens=tokens)
        routes = RouteTable()
        link = HubLink(reader, writer, routes, sessions, gate, tokens)
        link.flush(init["services"])
        proxy = link.proxy = ProxyServer(
            routes,
            gate,
            Endpoint(unix_path=init["hub"]),
            on_upstream_gone=link.gone,
            log=log,
            services=service_endpoints(settings.services),
        )
        tls = server_context(settings.ssl_cert, settings.ssl_key) if settings.ssl_cert else None
        await proxy.start(sock=listener, ssl=tls)
        link.send({"op": "ready", "pid": os.getpid(), **proxy.stats()})
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        following = asyncio.ensure_future(link.follow())
        reporting = asyncio.ensure_future(link.report_forever())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({following, stopping}, return_when=asyncio.FIRST_COMPLETED)
        reporting.cancel()
        stopping.cancel()
        await proxy.close()
        following.cancel()
        link.report()  # the last activity, if the hub still listens
        writer.close()
        if following.done() and not following.cancelled() and following.exception():
            raise following.exception()  # type: ignore[misc]
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m courtyard.proxy.worker")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--listen-fd", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    control = socket.socket(fileno=args.control_fd)
    listener = socket.socket(fileno=args.listen_fd)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass
    asyncio.run(serve(control, listener))
    return 0


if __name__ == "__main__":
    sys.exit(main())
